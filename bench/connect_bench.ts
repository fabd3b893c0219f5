/**
 * Connects against `Deno.connect`, one group per transport, to the same raw
 * server (in a Worker). Only the connect is timed; each iteration then sends
 * the server a request and waits for its close, outside the timed region, so
 * the client never outruns the server's accept queue.
 *
 * ```sh
 * deno bench -A bench/connect_bench.ts
 * ```
 *
 * @module
 */
import { inetConnect, unixConnect } from "../connect/mod.ts";
import { startPeers, WIRE } from "./_raw.ts";

// Every fn is an async function: deno bench awaits only those.

/** Times `connect` alone, then finishes the exchange with the raw server untimed. */
async function timeConnect(b: Deno.BenchContext, connect: () => Promise<Deno.Conn>): Promise<void> {
  b.start();
  const conn = await connect();
  b.end();
  try {
    await conn.write(WIRE);
    while ((await conn.read(new Uint8Array(16))) !== null);
  } finally {
    conn.close();
  }
}

/**
 * Raw Deno.connect plus only what bounds it, as the connect functions do: a
 * timer for the default 30 s timeout, and a signal on a TCP connect.
 */
async function boundedConnect(target: Deno.ConnectOptions | Deno.UnixConnectOptions): Promise<Deno.Conn> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30_000);
  try {
    return "path" in target ? await Deno.connect(target) : await Deno.connect({ ...target, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

// Setup, outside every timed region: the peers run in a Worker for the whole file.
const { port, unixPath } = await startPeers();
const inetAddress = `127.0.0.1:${port}`;

Deno.bench({
  name: 'Deno.connect({ hostname: "127.0.0.1" })',
  group: "inet connect to an IP literal",
  baseline: true,
  fn: async (b) => await timeConnect(b, () => Deno.connect({ hostname: "127.0.0.1", port })),
});
Deno.bench({
  name: "Deno.connect with the bounds inetConnect keeps (a timer, a signal)",
  group: "inet connect to an IP literal",
  fn: async (b) => await timeConnect(b, () => boundedConnect({ hostname: "127.0.0.1", port })),
});
Deno.bench({
  name: 'inetConnect("127.0.0.1:PORT")',
  group: "inet connect to an IP literal",
  fn: async (b) => await timeConnect(b, () => inetConnect(inetAddress)),
});
Deno.bench({
  name: 'inetConnect("127.0.0.1:PORT", { strategy: "serial" })',
  group: "inet connect to an IP literal",
  fn: async (b) => await timeConnect(b, () => inetConnect(inetAddress, { strategy: "serial" })),
});

Deno.bench({
  name: 'Deno.connect({ transport: "unix" })',
  group: "unix connect",
  baseline: true,
  fn: async (b) => await timeConnect(b, () => Deno.connect({ transport: "unix", path: unixPath })),
});
Deno.bench({
  name: "Deno.connect with the bound unixConnect keeps (a timer)",
  group: "unix connect",
  fn: async (b) => await timeConnect(b, () => boundedConnect({ transport: "unix", path: unixPath })),
});
Deno.bench({
  name: "unixConnect()",
  group: "unix connect",
  fn: async (b) => await timeConnect(b, () => unixConnect(unixPath)),
});
