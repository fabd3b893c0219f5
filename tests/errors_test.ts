/**
 * One style for every error: `Cannot <verb> "<endpoint>": <reason>`, the
 * reason in plain words, a long path shortened once.
 */
import assert from "node:assert/strict";
import { inetListen } from "../listen/inet_listen.ts";
import { unixListen } from "../listen/unix_listen.ts";
import { fifoListen } from "../listen/fifo_listen.ts";
import { trigger } from "../trigger/trigger.ts";
import { serveTriggers } from "../trigger/trigger_server.ts";
import { unixConnect } from "../connect/unix_connect.ts";
import { tempDir } from "./_util.ts";

/** The error `call` throws or rejects with. */
async function failure(call: () => unknown): Promise<Error> {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof Error, String(error));
    return error;
  }
  assert.fail("expected an error");
}

/** No OS error number, no path repeated by the runtime, the reason in lower case. */
function assertPlain(message: string): void {
  assert.doesNotMatch(message, /os error \d+/, message);
  assert.doesNotMatch(message, /: (lstat|stat|open|connect|bind) '/, message);
  assert.match(message, /^Cannot [a-z ]+ "[^"]+": [a-z]/, message);
}

Deno.test("a path under a regular file is 'not a directory', named once, for listen, serve and a bare-path trigger", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/file`, "");
  const under = `${dir.path}/file/x`;
  const cases: [string, () => unknown][] = [
    [`Cannot listen on "unix:${under}": not a directory`, () => unixListen(under)],
    [`Cannot listen on "fifo:${under}": not a directory`, () => fifoListen(under)],
    [`Cannot listen on "unix:${under}": not a directory`, () => serveTriggers(`unix:${under}`, () => {})],
    [`Cannot listen on "${under}": not a directory`, () => serveTriggers(under, () => {})],
    [`Cannot trigger "${under}": not a directory`, () => trigger(under, "I")],
    [`Cannot trigger "unix:${under}": not a directory`, () => trigger(`unix:${under}`, "I")],
  ];
  for (const [expected, call] of cases) {
    const error = await failure(call);
    assert.ok(error instanceof Deno.errors.NotADirectory, `${error}`);
    assert.equal(error.message, expected);
    assertPlain(error.message);
  }
});

Deno.test("a missing socket is 'no such file or directory' on unix: as on fifo:", async () => {
  await using dir = await tempDir();
  for (const endpoint of [`unix:${dir.path}/none`, `fifo:${dir.path}/none`]) {
    const error = await failure(() => trigger(endpoint, "I"));
    assert.ok(error instanceof Deno.errors.NotFound, `${error}`);
    assert.equal(error.message, `Cannot trigger "${endpoint}": no such file or directory`);
  }
});

Deno.test("a trigger to a regular file on unix: says it is not a socket, not that nothing listens", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/file`, "");
  const error = await failure(() => trigger(`unix:${dir.path}/file`, "I"));
  assert.equal(error.message, `Cannot trigger "unix:${dir.path}/file": not a socket (a regular file is there)`);
  const connect = await failure(() => unixConnect(`${dir.path}/file`));
  assert.equal(connect.message, `Cannot connect to "unix:${dir.path}/file": not a socket (a regular file is there)`);
});

Deno.test("a name too long names the path once, shortened", async () => {
  const long = `/tmp/${"a".repeat(5000)}`;
  const error = await failure(() => trigger(long, "I"));
  assert.ok(error.message.length < 300, `${error.message.length} characters`);
  assert.match(error.message, /^Cannot trigger "\/tmp\/a+\.\.\.a+": file name too long$/);
});

Deno.test("inetListen() errors carry the inet: prefix", () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const address = `127.0.0.1:${taken.addr.port}`;
  assert.throws(() => inetListen(address), (error: Error) => {
    assert.ok(error instanceof Deno.errors.AddrInUse, String(error));
    assert.equal(error.message, `Cannot listen on "inet:${address}": address already in use`);
    return true;
  });
});

Deno.test("unixListen() close() twice, and a using block after an explicit close, do not throw", async () => {
  await using dir = await tempDir();
  {
    using listener = await unixListen(`${dir.path}/s`);
    listener.close();
    listener.close();
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "the socket was removed once");
});
