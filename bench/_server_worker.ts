/**
 * Internal: a Worker that runs the peers the client benchmarks talk to, on
 * its own thread, so the timed region holds client work only and the FIFO
 * is drained while a synchronous benchmark keeps the main thread busy.
 *
 * Message in: `{ dir }`. Message out: `{ port, unixPath, fifoPath }` once the
 * raw TCP and UNIX-domain servers and the `fifoListen` reader are up.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { fifoListen } from "../listen/fifo_listen.ts";
import { type Peers, rawStreamServer } from "./_raw.ts";

self.onmessage = async (event: MessageEvent<{ dir: string }>) => {
  const { dir } = event.data;
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const unixPath = `${dir}/trigger.sock`;
  rawStreamServer(tcp);
  rawStreamServer(Deno.listen({ transport: "unix", path: unixPath }));
  const fifoPath = `${dir}/trigger.fifo`;
  const fifo = await fifoListen(fifoPath);
  void (async () => {
    for await (const _chunk of fifo);
  })();
  self.postMessage({ port: tcp.addr.port, unixPath, fifoPath } satisfies Peers);
};
