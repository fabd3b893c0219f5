/**
 * io/ `writeBuf` + `timedRead` against raw `conn.write` + `conn.read`: a
 * request-reply ping-pong (16 bytes each way) over one connection to the
 * same raw echo peer (in a Worker), one group per transport.
 *
 * ```sh
 * deno bench -A bench/io_bench.ts
 * ```
 *
 * @module
 */
import { boundedExchange, postnetExchange, rawExchange } from "./_exchange.ts";
import { startPeers, stopAtUnload } from "./_raw.ts";

// Every fn is an async function: deno bench awaits only those.

// Setup, outside every timed region: the echo peers run in a Worker for the
// whole file; each bench has a connection of its own, made here.
const { echoPort, echoUnixPath } = await startPeers();
const open: Deno.Conn[] = [];
stopAtUnload(() => {
  for (const conn of open) conn.close();
});

const ways = [
  ["raw conn.write + conn.read", rawExchange],
  ["raw, with a setTimeout per write and per read", boundedExchange],
  ["writeBuf() + timedRead(), timeout 10 s", postnetExchange],
] as const;

for (const transport of ["inet", "unix"] as const) {
  for (const [name, exchange] of ways) {
    const conn = transport === "inet"
      ? await Deno.connect({ hostname: "127.0.0.1", port: echoPort })
      : await Deno.connect({ transport: "unix", path: echoUnixPath });
    open.push(conn);
    const buffer = new Uint8Array(64);
    Deno.bench({
      name,
      group: `${transport} request-reply over one connection`,
      baseline: exchange === rawExchange,
      fn: async () => await exchange(conn, buffer),
    });
  }
}
