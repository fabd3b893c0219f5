/**
 * `serveTriggers` against a raw Deno accept-read-close loop (a raw FIFO read
 * loop for fifo), both in this process, driven by the same raw client. One
 * group per question: one trigger at a time, and 64 at once.
 *
 * ```sh
 * deno bench -A bench/server_bench.ts
 * ```
 *
 * @module
 */
import { serveTriggers } from "../trigger/trigger_server.ts";
import { mkfifo, rawFifoServer, rawFifoTrigger, rawStreamServer, rawStreamTrigger, stopAtUnload } from "./_raw.ts";
import type { StreamTarget } from "./_raw.ts";

// Every fn is an async function: deno bench awaits only those.

// Setup, outside every timed region: four stream servers and two FIFO
// servers for the whole file, stopped when the process unloads.
const dir = await Deno.makeTempDir({ prefix: "postnet-bench-" });

/** Resolved by whichever FIFO server reads next (the FIFO groups wait for it). */
let fifoArrived: (() => void) | undefined;
const onFifo = () => fifoArrived?.();

const rawTcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const rawUnixPath = `${dir}/raw.sock`;
const rawFifoPath = `${dir}/raw.fifo`;
await mkfifo(rawFifoPath);
const raw = [
  rawStreamServer(rawTcp),
  rawStreamServer(Deno.listen({ transport: "unix", path: rawUnixPath })),
  await rawFifoServer(rawFifoPath, onFifo),
];

const ourUnixPath = `${dir}/postnet.sock`;
const ourFifoPath = `${dir}/postnet.fifo`;
const ours = [
  await serveTriggers("inet:127.0.0.1:0", () => {}),
  await serveTriggers(`unix:${ourUnixPath}`, () => {}),
  await serveTriggers(`fifo:${ourFifoPath}`, onFifo),
];
const ourPort = Number(ours[0].endpoint.slice(ours[0].endpoint.lastIndexOf(":") + 1));

stopAtUnload(() => {
  for (const server of raw) server.closeSync();
  // close() stops the listeners and wakes the FIFO read synchronously.
  for (const server of ours) void server.close();
  Deno.removeSync(dir, { recursive: true });
});

const targets: Record<string, StreamTarget> = {
  rawInet: { hostname: "127.0.0.1", port: rawTcp.addr.port },
  oursInet: { hostname: "127.0.0.1", port: ourPort },
  rawUnix: { transport: "unix", path: rawUnixPath },
  oursUnix: { transport: "unix", path: ourUnixPath },
};

/** 64 raw triggers at once to `target`. */
function concurrent(target: StreamTarget): Promise<void[]> {
  return Promise.all(Array.from({ length: 64 }, () => rawStreamTrigger(target)));
}

/** One FIFO trigger, timed from the write until the server has read it. */
async function fifoRoundTrip(path: string): Promise<void> {
  const arrived = Promise.withResolvers<void>();
  fifoArrived = arrived.resolve;
  rawFifoTrigger(path);
  await arrived.promise;
}

for (const transport of ["inet", "unix"] as const) {
  const raw = transport === "inet" ? targets.rawInet : targets.rawUnix;
  const our = transport === "inet" ? targets.oursInet : targets.oursUnix;
  Deno.bench({
    name: "raw accept-read-close loop",
    group: `${transport} server, one trigger at a time`,
    baseline: true,
    fn: async () => await rawStreamTrigger(raw),
  });
  Deno.bench({
    name: "serveTriggers()",
    group: `${transport} server, one trigger at a time`,
    fn: async () => await rawStreamTrigger(our),
  });
  Deno.bench({
    name: "raw accept-read-close loop",
    group: `${transport} server, 64 concurrent triggers`,
    baseline: true,
    fn: async () => void await concurrent(raw),
  });
  Deno.bench({
    name: "serveTriggers()",
    group: `${transport} server, 64 concurrent triggers`,
    fn: async () => void await concurrent(our),
  });
}

Deno.bench({
  name: "raw FIFO read loop",
  group: "fifo server, write until read",
  baseline: true,
  fn: async () => await fifoRoundTrip(rawFifoPath),
});
Deno.bench({
  name: "serveTriggers()",
  group: "fifo server, write until read",
  fn: async () => await fifoRoundTrip(ourFifoPath),
});
