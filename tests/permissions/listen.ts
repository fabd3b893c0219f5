/**
 * Fixture for the `listen` permission set: listens with each function of
 * listen/ in DIR (and on a loopback port), takes one connection or one write
 * on each listener, and closes it.
 *
 * Usage: deno run -P=listen tests/permissions/listen.ts DIR
 *
 * DIR/existing.fifo must be a FIFO made beforehand: reusing it needs no
 * `--allow-run`.
 *
 * @module
 */
import { fifoListen, inetListen, unixListen } from "../../listen/mod.ts";
import { finish, step } from "./_steps.ts";

const [dir] = Deno.args;
const decoder = new TextDecoder();

await step("inetListen", async () => {
  using listener = inetListen("127.0.0.1:0");
  const accepting = listener.accept();
  using _conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using peer = await accepting;
  return peer.localAddr.port === listener.addr.port;
});
await step("unixListen", async () => {
  const path = `${dir}/listen.sock`;
  using listener = await unixListen(path);
  const mode = (await Deno.stat(path)).mode! & 0o777;
  const accepting = listener.accept();
  using _conn = await Deno.connect({ transport: "unix", path });
  using _peer = await accepting;
  return mode.toString(8);
});
await step("fifoListen", async () => {
  const path = `${dir}/listen.fifo`;
  let text: string;
  {
    await using fifo = await fifoListen(path);
    await Deno.writeTextFile(path, "x");
    text = decoder.decode((await fifo.read())!);
  }
  // The listener made the FIFO, so closing it removed it.
  const removed = await Deno.lstat(path).then(() => false, (error) => error instanceof Deno.errors.NotFound);
  return { text, removed };
});
await step("fifoListen existing", async () => {
  const path = `${dir}/existing.fifo`;
  await using fifo = await fifoListen(path);
  await Deno.writeTextFile(path, "y");
  return { text: decoder.decode((await fifo.read())!), created: fifo.created };
});
finish();
