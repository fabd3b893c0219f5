import assert from "node:assert/strict";
import { unixTrigger } from "../../trigger/unix_trigger.ts";
import { abortAfter, acceptRequest, Lines, readAll, tempDir, within } from "../_util.ts";

/** A UNIX-domain listener at `path`. */
function listenAt(path: string): Deno.UnixListener {
  return Deno.listen({ transport: "unix", path });
}

/** Proves a call did no I/O: the next connection accepted is a real trigger's. */
async function assertNextConnectionIs(listener: Deno.UnixListener, path: string, request: string): Promise<void> {
  const [received] = await Promise.all([acceptRequest(listener), unixTrigger(path, request, { timeout: 5_000 })]);
  assert.deepEqual(received, new TextEncoder().encode(`${request}\0`));
}

/**
 * A server in another process: accepts `count` connections on the socket
 * at `path`, prints the bytes of each connection's FIRST read as a JSON line,
 * closes each. In its own process its read is often already waiting when
 * the client writes, so a client that writes twice is seen split.
 */
const FIRST_READ_SERVER = `
const [path, count] = Deno.args;
const listener = Deno.listen({ transport: "unix", path });
console.log("ready");
for (let i = 0; i < Number(count); i++) {
  const conn = await listener.accept();
  const buffer = new Uint8Array(1024);
  const n = await conn.read(buffer);
  console.log(JSON.stringify([...buffer.subarray(0, n ?? 0)]));
  conn.close();
}
listener.close();
`;

Deno.test("unixTrigger() sends the request and its NUL in one write (100 triggers, first read holds both)", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  const count = 100;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", FIRST_READ_SERVER, path, String(count)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = new Lines(child.stdout);
  let passed = false;
  try {
    assert.equal(await within(lines.next(), 10_000, "server start"), "ready");
    for (let i = 0; i < count; i++) {
      const result = await unixTrigger(path, "I", { timeout: 5_000 });
      assert.equal(result.bytes, 2);
      const firstRead = await within(lines.next(), 5_000, "server report");
      assert.equal(firstRead, "[73,0]", `trigger ${i}: the server's first read held ${firstRead}`);
    }
    passed = true;
  } finally {
    // On failure the server still waits for connections: end it (our own child, by its handle).
    if (!passed) child.kill("SIGKILL");
    await within(lines.drain(), 10_000, "server output");
    const status = await within(child.status, 10_000, "server exit");
    if (passed) assert.equal(status.code, 0);
  }
});

Deno.test("unixTrigger() sends a string as UTF-8 and a Uint8Array as is, each with one NUL", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  const cases: [string | Uint8Array, number[]][] = [
    ["W", [0x57, 0]],
    ["", [0]],
    ["é€", [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0]],
    [Uint8Array.of(1, 2, 3), [1, 2, 3, 0]],
    [new Uint8Array(0), [0]],
    [new Uint8Array(new ArrayBuffer(8), 2, 3).fill(7), [7, 7, 7, 0]],
  ];
  // Twice over: a repeated string request is encoded once and sent the same.
  for (const [request, expected] of [...cases, ...cases]) {
    const before = request instanceof Uint8Array ? request.slice() : undefined;
    const [received, result] = await Promise.all([
      acceptRequest(listener),
      unixTrigger(path, request, { timeout: 5_000 }),
    ]);
    assert.deepEqual([...received], expected);
    assert.equal(result.bytes, expected.length);
    if (before) assert.deepEqual(request, before, "the caller's bytes are not changed");
  }
});

Deno.test("unixTrigger() resolves with peerClosed true when the server reads then closes", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  const [received, result] = await Promise.all([acceptRequest(listener), unixTrigger(path, "D", { timeout: 5_000 })]);
  assert.deepEqual([...received], [0x44, 0]);
  assert.equal(result.peerClosed, true);
  assert.ok(result.elapsed < 5_000);
});

Deno.test("unixTrigger() counts a server that reads everything and closes at once as delivered", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  for (let i = 0; i < 20; i++) {
    const server = listener.accept().then(async (conn) => {
      using _conn = conn;
      return await within(conn.read(new Uint8Array(1024)), 5_000, "read");
    });
    const result = await unixTrigger(path, "I", { timeout: 5_000 });
    assert.equal(await within(server, 5_000, "server"), 2);
    assert.equal(result.peerClosed, true);
  }
});

Deno.test("unixTrigger() counts a server that resets after reading the request as delivered", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  for (let i = 0; i < 20; i++) {
    // The server reads the request byte only and closes with the NUL unread: the client sees a reset.
    const server = listener.accept().then(async (conn) => {
      using _conn = conn;
      const buffer = new Uint8Array(1);
      assert.equal(await within(conn.read(buffer), 5_000, "read"), 1);
      return buffer[0];
    });
    const result = await unixTrigger(path, "I", { timeout: 5_000 });
    assert.equal(await within(server, 5_000, "server"), 0x49);
    assert.equal(result.peerClosed, true);
    assert.equal(result.bytes, 2);
  }
});

Deno.test("unixTrigger() resolves at the timeout with peerClosed false when the server never reads nor closes", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  const accepted = listener.accept();
  const timeout = 300;
  const start = performance.now();
  try {
    const result = await within(unixTrigger(path, "W", { timeout }), timeout + 2_000, "trigger");
    const settled = performance.now() - start;
    assert.equal(result.peerClosed, false);
    assert.equal(result.bytes, 2);
    assert.ok(result.elapsed >= timeout - 1, `elapsed ${result.elapsed} ms`);
    console.log(
      `unixTrigger timeout ${timeout} ms: settled after ${settled.toFixed(1)} ms, overshoot ${
        (settled - timeout).toFixed(1)
      } ms`,
    );
  } finally {
    // The client closed its socket: the server reads the request, then end-of-file.
    assert.deepEqual([...await within(readAll(await within(accepted, 5_000, "accept")), 5_000, "server read")], [
      0x57,
      0,
    ]);
  }
});

Deno.test("unixTrigger() rejects with NotFound naming the endpoint when nothing is at the path", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/missing`;
  const start = performance.now();
  await assert.rejects(unixTrigger(path, "W", { timeout: 5_000 }), (error: Error) => {
    assert.ok(error instanceof Deno.errors.NotFound, `${error}`);
    assert.ok(error.message.includes(`unix:${path}`), error.message);
    return true;
  });
  const took = performance.now() - start;
  assert.ok(took < 2_000, `took ${took} ms`);
  console.log(`unixTrigger NotFound after ${took.toFixed(2)} ms`);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing was created");
});

Deno.test("unixTrigger() rejects with ConnectionRefused naming the endpoint when the socket is stale", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/stale`;
  // A stale socket: a second name for a listener's socket outlives the listener.
  const listener = listenAt(`${dir.path}/live`);
  await Deno.link(`${dir.path}/live`, path);
  listener.close();
  assert.ok((await Deno.lstat(path)).isSocket);
  const start = performance.now();
  await assert.rejects(unixTrigger(path, "W", { timeout: 5_000 }), (error: Error) => {
    assert.ok(error instanceof Deno.errors.ConnectionRefused, `${error}`);
    assert.ok(error.message.includes(`unix:${path}`), error.message);
    return true;
  });
  const took = performance.now() - start;
  assert.ok(took < 2_000, `took ${took} ms`);
  console.log(`unixTrigger ConnectionRefused after ${took.toFixed(2)} ms`);
});

Deno.test({
  name: "unixTrigger() rejects with WouldBlock naming the endpoint when the listener's backlog is full",
  // A full unix backlog refuses a connect at once (EAGAIN) on Linux; elsewhere the connect waits.
  ignore: Deno.build.os !== "linux",
}, async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/busy`;
  using _listener = listenAt(path);
  const fillers: Deno.UnixConn[] = [];
  try {
    let full = false;
    for (let i = 0; i < 8_192 && !full; i++) {
      try {
        fillers.push(await Deno.connect({ transport: "unix", path }));
      } catch (error) {
        // EAGAIN: the backlog is full, which is what this loop waits for; anything else fails the test.
        if (!(error instanceof Deno.errors.WouldBlock)) throw error;
        full = true;
      }
    }
    assert.ok(full, "the backlog never filled up");
    await assert.rejects(unixTrigger(path, "W", { timeout: 5_000 }), (error: Error) => {
      assert.ok(error instanceof Deno.errors.WouldBlock, `${error}`);
      assert.ok(error.message.includes(`unix:${path}`), error.message);
      return true;
    });
  } finally {
    for (const conn of fillers) conn.close();
  }
});

Deno.test("unixTrigger() rejects with signal.reason, doing no I/O, when the signal is already aborted", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  const reason = new Error("stopped by the caller");
  await assert.rejects(unixTrigger(path, "W", { signal: AbortSignal.abort(reason) }), (error) => error === reason);
  const plain = AbortSignal.abort();
  await assert.rejects(unixTrigger(path, "W", { signal: plain }), (error) => error === plain.reason);
  await assertNextConnectionIs(listener, path, "after");
});

Deno.test("unixTrigger() rejects with signal.reason when aborted while waiting for the close", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  const accepted = listener.accept();
  const reason = new Error("stopped mid-wait");
  using signal = abortAfter(100, reason);
  try {
    await assert.rejects(
      within(unixTrigger(path, "W", { timeout: 10_000, signal }), 5_000, "trigger"),
      (error) => error === reason,
    );
  } finally {
    assert.deepEqual([...await within(readAll(await within(accepted, 5_000, "accept")), 5_000, "server read")], [
      0x57,
      0,
    ]);
  }
});

Deno.test("unixTrigger() rejects with TimeoutError naming the endpoint when the write cannot finish", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  const accepted = listener.accept();
  try {
    // 8 MiB is far more than a UNIX-domain socket buffers; the server never reads.
    const request = new Uint8Array(8 << 20).fill(0x41);
    const start = performance.now();
    await assert.rejects(
      within(unixTrigger(path, request, { timeout: 300 }), 5_000, "trigger"),
      (error: DOMException) => {
        assert.equal(error.name, "TimeoutError");
        assert.ok(error.message.includes(`unix:${path}`), error.message);
        return true;
      },
    );
    const took = performance.now() - start;
    assert.ok(took >= 299 && took < 2_300, `took ${took} ms`);
  } finally {
    (await within(accepted, 5_000, "accept")).close();
  }
});

Deno.test("unixTrigger() throws TypeError or RangeError on bad input before any I/O", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  const call = unixTrigger as (path: unknown, request: unknown, options?: unknown) => Promise<unknown>;
  for (const request of [42, null, undefined, {}, [87], new Uint16Array(1), new ArrayBuffer(1)]) {
    await assert.rejects(call(path, request), TypeError, `request ${String(request)}`);
  }
  await assert.rejects(call(42, "W"), TypeError);
  await assert.rejects(call(undefined, "W"), TypeError);
  await assert.rejects(call("", "W"), RangeError);
  await assert.rejects(call(`${path}\0x`, "W"), RangeError);
  await assert.rejects(call(`${dir.path}/${"x".repeat(108)}`, "W"), RangeError);
  await assert.rejects(call(path, "W", { timeout: -1 }), RangeError);
  await assert.rejects(call(path, "W", { timeout: NaN }), RangeError);
  await assert.rejects(call(path, "W", { timeout: "5" }), TypeError);
  await assert.rejects(call(path, "W", { signal: {} }), TypeError);
  await assertNextConnectionIs(listener, path, "after");
});

Deno.test("unixTrigger() reports the endpoint with its prefix, the transport, the bytes and the elapsed time", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = listenAt(path);
  const [, result] = await Promise.all([acceptRequest(listener), unixTrigger(path, "AF", { timeout: 5_000 })]);
  assert.deepEqual(Object.keys(result).sort(), ["bytes", "elapsed", "endpoint", "outcome", "peerClosed", "transport"]);
  assert.equal(result.endpoint, `unix:${path}`);
  assert.equal(result.transport, "unix");
  assert.equal(result.bytes, 3);
  assert.equal(result.peerClosed, true);
  assert.ok(Number.isFinite(result.elapsed) && result.elapsed >= 0, `elapsed ${result.elapsed}`);
});

Deno.test({
  name: "unixTrigger() rejects with NotCapable naming the flag when --allow-net does not cover the socket",
  permissions: { read: true, write: true, net: false },
  async fn() {
    await using dir = await tempDir();
    const path = `${dir.path}/qmgr`;
    await assert.rejects(unixTrigger(path, "W", { timeout: 1_000 }), (error: Error) => {
      assert.ok(error instanceof Deno.errors.NotCapable, `${error}`);
      assert.ok(error.message.includes(`--allow-net=unix:${path}`), error.message);
      return true;
    });
  },
});

Deno.test({
  name: "unixTrigger() rejects with NotCapable naming the flag when --allow-read is missing",
  permissions: { read: false, write: true, net: true },
  async fn() {
    await assert.rejects(unixTrigger("/tmp/postnet-no-such-dir/qmgr", "W", { timeout: 1_000 }), (error: Error) => {
      assert.ok(error instanceof Deno.errors.NotCapable, `${error}`);
      assert.ok(error.message.includes("--allow-read=/tmp/postnet-no-such-dir/qmgr"), error.message);
      return true;
    });
  },
});
