/**
 * Every public function checks its options object before any I/O: unknown
 * names, null, a custom lookup's answer; and timeout 0 gives up at once.
 */
import assert from "node:assert/strict";
import { inetConnect } from "../connect/inet_connect.ts";
import { unixConnect } from "../connect/unix_connect.ts";
import { fifoListen } from "../listen/fifo_listen.ts";
import { inetListen } from "../listen/inet_listen.ts";
import { unixListen } from "../listen/unix_listen.ts";
import { fifoTrigger } from "../trigger/fifo_trigger.ts";
import { inetTrigger } from "../trigger/inet_trigger.ts";
import { trigger } from "../trigger/trigger.ts";
import { serveTriggers } from "../trigger/trigger_server.ts";
import { unixTrigger } from "../trigger/unix_trigger.ts";
import { exists, fifoReader, mkfifo, tempDir, within } from "./_util.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Every public function, called with `options` on endpoints in `dir` that would work. */
function calls(dir: string, port: number): [string, (options: Any) => unknown][] {
  return [
    ["inetConnect", (o) => inetConnect(`127.0.0.1:${port}`, o)],
    ["unixConnect", (o) => unixConnect(`${dir}/s`, o)],
    ["inetListen", (o) => inetListen("127.0.0.1:0", o)],
    ["unixListen", (o) => unixListen(`${dir}/new-socket`, o)],
    ["fifoListen", (o) => fifoListen(`${dir}/new-fifo`, o)],
    ["inetTrigger", (o) => inetTrigger(`127.0.0.1:${port}`, "I", o)],
    ["unixTrigger", (o) => unixTrigger(`${dir}/s`, "I", o)],
    ["fifoTrigger", (o) => fifoTrigger(`${dir}/f`, "I", o)],
    ["trigger", (o) => trigger(`unix:${dir}/s`, "I", o)],
    ["serveTriggers", (o) => serveTriggers(`unix:${dir}/new-server`, () => {}, o)],
  ];
}

/** Runs `call` and returns what it threw or rejected with; fails if it succeeded. */
async function failure(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  assert.fail("expected an error");
}

Deno.test("every public function rejects a misspelt option with a TypeError naming it, before any I/O", async () => {
  await using dir = await tempDir();
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using _unix = Deno.listen({ transport: "unix", path: `${dir.path}/s` });
  await mkfifo(`${dir.path}/f`);
  using fifo = fifoReader(`${dir.path}/f`);
  for (const [name, call] of calls(dir.path, tcp.addr.port)) {
    const error = await failure(() => call({ tiemout: 5 }));
    assert.ok(error instanceof TypeError, `${name}: ${error}`);
    assert.match(error.message, /unknown option "tiemout"/, name);
  }
  // Nothing was made, connected or written.
  for (const made of ["new-socket", "new-fifo", "new-server"]) assert.equal(await exists(`${dir.path}/${made}`), false);
  assert.equal(fifo.take().length, 0);
});

Deno.test("every public function rejects options that are not an object with a TypeError", async () => {
  await using dir = await tempDir();
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  for (const bad of [null, "fast", 5, [1]]) {
    for (const [name, call] of calls(dir.path, tcp.addr.port)) {
      const error = await failure(() => call(bad));
      assert.ok(error instanceof TypeError, `${name}(${JSON.stringify(bad)}): ${error}`);
      assert.match(error.message, /^options must be an object, got /, name);
    }
  }
});

Deno.test("inetConnect() rejects a lookup answer that is not a list of IP addresses with a TypeError naming lookup", async () => {
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answers: unknown[] = [
    undefined,
    null,
    "127.0.0.1",
    [{ address: "not-an-ip", family: 4 }],
    [{ address: "127.0.0.1", family: 6 }],
    [{ address: "127.0.0.1" }],
    [null],
  ];
  for (const answer of answers) {
    const lookup = () => Promise.resolve(answer) as Any;
    const error = await failure(() => inetConnect(`somewhere.test:${tcp.addr.port}`, { lookup, timeout: 5_000 }));
    assert.ok(error instanceof TypeError, `${JSON.stringify(answer)}: ${error}`);
    assert.match(error.message, /^lookup must resolve to .*"somewhere\.test"/, JSON.stringify(answer));
  }
});

Deno.test("timeout 0 rejects with a TimeoutError and connects to nothing, on every transport", async () => {
  await using dir = await tempDir();
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using unix = Deno.listen({ transport: "unix", path: `${dir.path}/s` });
  await mkfifo(`${dir.path}/f`);
  using fifo = fifoReader(`${dir.path}/f`);
  const attempts: [string, () => Promise<unknown>][] = [
    ["inetConnect", () => inetConnect(`127.0.0.1:${tcp.addr.port}`, { timeout: 0 })],
    ["unixConnect", () => unixConnect(`${dir.path}/s`, { timeout: 0 })],
    ["inetTrigger", () => inetTrigger(`127.0.0.1:${tcp.addr.port}`, "I", { timeout: 0 })],
    ["unixTrigger", () => unixTrigger(`${dir.path}/s`, "I", { timeout: 0 })],
    ["fifoTrigger", () => fifoTrigger(`${dir.path}/f`, "I", { timeout: 0 })],
    ["trigger (bare path)", () => trigger(`${dir.path}/s`, "I", { timeout: 0 })],
  ];
  for (const [name, attempt] of attempts) {
    const error = await failure(attempt);
    assert.ok(error instanceof DOMException && error.name === "TimeoutError", `${name}: ${error}`);
    assert.match(error.message, /timed out after 0 ms/, name);
  }
  assert.equal(fifo.take().length, 0, "nothing was written to the FIFO");
  // Neither listener got a connection: the first each accepts is this marked one.
  for (
    const [listener, connect] of [
      [tcp, () => Deno.connect({ hostname: "127.0.0.1", port: tcp.addr.port })],
      [unix, () => Deno.connect({ transport: "unix", path: `${dir.path}/s` })],
    ] as const
  ) {
    using marker = await connect();
    await marker.write(new Uint8Array([7]));
    using peer = await within((listener as Deno.Listener).accept(), 5_000, "accept");
    const byte = new Uint8Array(1);
    assert.equal(await within(peer.read(byte), 5_000, "read"), 1);
    assert.equal(byte[0], 7);
  }
});
