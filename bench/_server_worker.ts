/**
 * Internal: a Worker that runs the peers the client benchmarks talk to, on
 * its own thread, so the timed region holds client work only and the FIFO
 * is drained while a synchronous benchmark keeps the main thread busy.
 *
 * Message in: `{ dir }`. Message out: `{ port, unixPath, fifoPath, echoPort,
 * echoUnixPath }` once the raw TCP and UNIX-domain trigger servers, the
 * `fifoListen` reader and the raw echo peers are up.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { fifoListen } from "../listen/fifo_listen.ts";
import { type Peers, rawEchoServer, rawStreamServer } from "./_raw.ts";

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
  const echoTcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echoUnixPath = `${dir}/echo.sock`;
  rawEchoServer(echoTcp);
  rawEchoServer(Deno.listen({ transport: "unix", path: echoUnixPath }));
  self.postMessage(
    { port: tcp.addr.port, unixPath, fifoPath, echoPort: echoTcp.addr.port, echoUnixPath } satisfies Peers,
  );
};
