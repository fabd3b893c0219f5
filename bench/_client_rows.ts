/**
 * Internal: the client side of bench/compare.ts. Raw Deno, bounded raw Deno,
 * postnet and Node send triggers to the same raw Deno server (in the server
 * agent), one at a time and from 64 concurrent loops; every trigger must
 * arrive.
 *
 * - raw: connect, write `W\0`, read until the server closes, close (FIFO:
 *   open non-blocking, write, close). Bounds nothing.
 * - bounded: raw plus one `setTimeout` per trigger that closes the socket,
 *   and a signal on the TCP connect (Deno cannot cancel a connect without
 *   one); for a FIFO, the safe-open checks instead: lstat, a non-blocking
 *   open that follows no symbolic link, fstat (same file, a FIFO, one link),
 *   write, close.
 *
 * Targets: inet and unix <= 1.05x raw; FIFO <= 1.2x bounded (the checks are
 * the FIFO client's job, not overhead).
 *
 * @module
 */
import { type Harness, type Transport, triggerRound } from "./_harness.ts";
import { type Impl, measureRow, modes, type Row, type Target } from "./_rows.ts";

const TARGETS: Record<Transport, Target> = {
  inet: { against: "raw", op: "<=", limit: 1.05 },
  unix: { against: "raw", op: "<=", limit: 1.05 },
  fifo: { against: "bounded", op: "<=", limit: 1.2 },
};

/** Measures the six client rows (three transports, two modes). */
export async function clientRows(h: Harness): Promise<Row[]> {
  const impls: Impl[] = ["raw", "bounded", "postnet"];
  if (h.node) impls.push("node");
  const rows: Row[] = [];
  for (const transport of ["inet", "unix", "fifo"] as const) {
    const server = await h.servers.ask("serve", { impl: "raw", transport, path: `${h.dir}/client-side.${transport}` });
    try {
      for (const { mode, concurrency, n } of modes(h.n)) {
        // Node's client runs in the Node agent; the others in the Deno client agent.
        const round = (impl: Impl) =>
          triggerRound(impl === "node" ? h.node! : h.clients, h.servers, server, { impl, transport, n, concurrency });
        rows.push(
          await measureRow({ side: "client", transport, mode, n, impls, target: TARGETS[transport], round }, h.rounds),
        );
      }
    } finally {
      await h.servers.ask("closeServer", { key: server.key });
    }
  }
  return rows;
}
