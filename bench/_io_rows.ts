/**
 * Internal: the io/ rows of bench/compare.ts. A request-reply ping-pong over
 * one connection (TCP, then UNIX-domain) to a raw Deno echo peer (in the
 * server agent): write 16 bytes, read until all 16 came back, `n` times
 * per round. The connection is made before the clock starts and closed
 * after it stops.
 *
 * - raw: `conn.write` (repeated until all is written) + `conn.read`. Bounds
 *   nothing.
 * - bounded: raw plus one `setTimeout` per write and per read that closes
 *   the connection.
 * - postnet: `writeBuf` + `timedRead`, each with a 10 s timeout.
 *
 * Target: <= 1.05x raw. Node has no column here.
 *
 * @module
 */
import type { Harness } from "./_harness.ts";
import { type Impl, measureRow, type RoundResult, type Row } from "./_rows.ts";

/** Measures the two ping-pong rows (inet and unix, one connection each). */
export async function ioRows(h: Harness): Promise<Row[]> {
  const impls: Impl[] = ["raw", "bounded", "postnet"];
  const n = h.n;
  const rows: Row[] = [];
  for (const transport of ["inet", "unix"] as const) {
    const peer = await h.servers.ask("echo", { transport, path: `${h.dir}/echo.${transport}` });
    try {
      const round = async (impl: Impl): Promise<RoundResult> => {
        const result = await h.clients.ask("pingPong", { impl, transport, target: peer, n });
        return { us: (result.elapsed as number) * 1000 / n, failed: 0 };
      };
      const target = { against: "raw", op: "<=", limit: 1.05 } as const;
      const mode = "ping-pong";
      rows.push(await measureRow({ side: "io", transport, mode, n, impls, target, round }, h.rounds));
    } finally {
      await h.servers.ask("closeServer", { key: peer.key });
    }
  }
  return rows;
}
