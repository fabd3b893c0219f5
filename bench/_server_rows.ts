/**
 * Internal: the server side of bench/compare.ts. Raw Deno, bounded raw Deno,
 * `serveTriggers` and a Node `net` server (in their own agents) are driven
 * by the same raw Deno client, one trigger at a time and from 64 concurrent
 * loops; every trigger must arrive.
 *
 * - raw: accept, read until the NUL (or end-of-file, or 1024 bytes), close.
 *   No read timeout, no connection limit.
 * - bounded: raw plus one `setTimeout` per connection (the read timeout)
 *   that closes it. A FIFO server has no per-trigger wait to bound: no
 *   bounded column there.
 *
 * On a FIFO, where a writer never waits, each server acknowledges every
 * byte it reads on a second FIFO, and the client waits for the
 * acknowledgement (one trigger, or a batch of 64, in flight at a time):
 * write until read.
 *
 * Target: >= 0.95x the raw server's triggers/s.
 *
 * @module
 */
import { type Agent, type Answer, type Harness, triggerRound } from "./_harness.ts";
import { type Impl, measureRow, modes, type Row } from "./_rows.ts";

/** The bounded raw server's read timeout: never reached, as postnet's default. */
const READ_TIMEOUT = 10_000;

/** Measures the six server rows (three transports, two modes). */
export async function serverRows(h: Harness): Promise<Row[]> {
  // The FIFO servers under test acknowledge each byte on a FIFO the client reads.
  const ack = `${h.dir}/ack.fifo`;
  await h.clients.ask("ackOpen", { path: ack });
  const rows: Row[] = [];
  for (const transport of ["inet", "unix", "fifo"] as const) {
    const fifo = transport === "fifo";
    const impls: Impl[] = fifo ? ["raw", "postnet"] : ["raw", "bounded", "postnet"];
    if (h.node) impls.push("node");
    const servers = {} as Record<Impl, Answer>;
    const owners = {} as Record<Impl, Agent>;
    try {
      for (const impl of impls) {
        const owner = owners[impl] = impl === "node" ? h.node! : h.servers;
        const path = `${h.dir}/${impl}.${transport}`;
        const options = impl === "bounded" ? { readTimeout: READ_TIMEOUT } : undefined;
        servers[impl] = await owner.ask("serve", { impl, transport, path, ack: fifo ? ack : undefined, options });
      }
      for (const { mode, concurrency, n } of modes(h.n)) {
        // The raw Deno client drives every server; on a FIFO it waits for the acknowledgements.
        const run = { impl: "raw", transport, n, concurrency, ack: fifo };
        const round = (impl: Impl) => triggerRound(h.clients, owners[impl], servers[impl], run);
        const target = { against: "raw", op: ">=", limit: 0.95 } as const;
        rows.push(await measureRow({ side: "server", transport, mode, n, impls, target, round }, h.rounds));
      }
    } finally {
      for (const impl of Object.keys(servers) as Impl[]) {
        await owners[impl].ask("closeServer", { key: servers[impl].key });
      }
    }
  }
  return rows;
}
