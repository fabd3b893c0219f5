import assert from "node:assert/strict";
import { inetTrigger } from "../../trigger/inet_trigger.ts";
import { abortAfter, acceptQueueLength, acceptRequest, freePort, Lines, probeIpv6, readAll, within } from "../_util.ts";

const HOST = "127.0.0.1";

/** `host:port` of a loopback TCP listener. */
function addressOf(listener: Deno.TcpListener): string {
  return `${HOST}:${listener.addr.port}`;
}

/**
 * Proves a call did no I/O: the next connection the listener accepts is a
 * real trigger's, not a connection left by the call under test.
 */
async function assertNextConnectionIs(listener: Deno.TcpListener, request: string): Promise<void> {
  const [received] = await Promise.all([
    acceptRequest(listener),
    inetTrigger(addressOf(listener), request, { timeout: 5_000 }),
  ]);
  assert.deepEqual(received, new TextEncoder().encode(`${request}\0`));
}

/**
 * A server in another process: accepts `count` connections, prints the bytes
 * of each connection's FIRST read as a JSON line, closes each. In its own
 * process its read is often already waiting when the client writes, so a
 * client that writes twice is seen split (measured: ~20% of first reads).
 */
const FIRST_READ_SERVER = `
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);
for (let i = 0; i < Number(Deno.args[0]); i++) {
  const conn = await listener.accept();
  const buffer = new Uint8Array(1024);
  const n = await conn.read(buffer);
  console.log(JSON.stringify([...buffer.subarray(0, n ?? 0)]));
  conn.close();
}
listener.close();
`;

Deno.test("inetTrigger() sends the request and its NUL in one write (100 triggers, first read holds both)", async () => {
  const count = 100;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", FIRST_READ_SERVER, String(count)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = new Lines(child.stdout);
  let passed = false;
  try {
    const port = Number(await within(lines.next(), 10_000, "server start"));
    assert.ok(port > 0);
    for (let i = 0; i < count; i++) {
      const result = await inetTrigger(`${HOST}:${port}`, "W", { timeout: 5_000 });
      assert.equal(result.bytes, 2);
      const firstRead = await within(lines.next(), 5_000, "server report");
      assert.equal(firstRead, "[87,0]", `trigger ${i}: the server's first read held ${firstRead}`);
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

Deno.test("inetTrigger() sends a string as UTF-8 and a Uint8Array as is, each with one NUL", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const cases: [string | Uint8Array, number[]][] = [
    ["W", [0x57, 0]],
    ["", [0]],
    ["é€", [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0]],
    [Uint8Array.of(1, 2, 3), [1, 2, 3, 0]],
    [new Uint8Array(0), [0]],
    [new Uint8Array(new ArrayBuffer(8), 2, 3).fill(7), [7, 7, 7, 0]],
  ];
  for (const [request, expected] of cases) {
    const before = request instanceof Uint8Array ? request.slice() : undefined;
    const [received, result] = await Promise.all([
      acceptRequest(listener),
      inetTrigger(addressOf(listener), request, { timeout: 5_000 }),
    ]);
    assert.deepEqual([...received], expected);
    assert.equal(result.bytes, expected.length);
    if (before) assert.deepEqual(request, before, "the caller's bytes are not changed");
  }
});

Deno.test("inetTrigger() resolves with peerClosed true when the server reads then closes", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const [received, result] = await Promise.all([
    acceptRequest(listener),
    inetTrigger(addressOf(listener), "D", { timeout: 5_000 }),
  ]);
  assert.deepEqual([...received], [0x44, 0]);
  assert.equal(result.peerClosed, true);
  assert.ok(result.elapsed < 5_000);
});

Deno.test("inetTrigger() counts a server that reads everything and closes at once as delivered", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  for (let i = 0; i < 20; i++) {
    const server = listener.accept().then(async (conn) => {
      using _conn = conn;
      const buffer = new Uint8Array(1024);
      return await within(conn.read(buffer), 5_000, "read");
    });
    const result = await inetTrigger(addressOf(listener), "I", { timeout: 5_000 });
    assert.equal(await within(server, 5_000, "server"), 2);
    assert.equal(result.peerClosed, true);
    assert.equal(result.bytes, 2);
  }
});

Deno.test("inetTrigger() counts a server that resets after reading the request as delivered", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  for (let i = 0; i < 20; i++) {
    // The server reads the request byte only and closes with the NUL unread: the kernel sends a reset.
    const server = listener.accept().then(async (conn) => {
      using _conn = conn;
      const buffer = new Uint8Array(1);
      assert.equal(await within(conn.read(buffer), 5_000, "read"), 1);
      return buffer[0];
    });
    const result = await inetTrigger(addressOf(listener), "I", { timeout: 5_000 });
    assert.equal(await within(server, 5_000, "server"), 0x49);
    assert.equal(result.peerClosed, true);
    assert.equal(result.bytes, 2);
  }
});

Deno.test("inetTrigger() resolves at the timeout with peerClosed false when the server never reads nor closes", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const accepted = listener.accept();
  const timeout = 300;
  const start = performance.now();
  try {
    const result = await within(inetTrigger(addressOf(listener), "W", { timeout }), timeout + 2_000, "trigger");
    const settled = performance.now() - start;
    assert.equal(result.peerClosed, false);
    assert.equal(result.bytes, 2);
    assert.ok(result.elapsed >= timeout - 1, `elapsed ${result.elapsed} ms`);
    console.log(
      `inetTrigger timeout ${timeout} ms: settled after ${settled.toFixed(1)} ms, overshoot ${
        (settled - timeout).toFixed(1)
      } ms`,
    );
  } finally {
    (await within(accepted, 5_000, "accept")).close();
  }
});

Deno.test("inetTrigger() rejects with ConnectionRefused naming the endpoint, within milliseconds", async () => {
  const address = `${HOST}:${freePort(HOST)}`;
  const start = performance.now();
  await assert.rejects(inetTrigger(address, "W", { timeout: 5_000 }), (error: Error) => {
    assert.ok(error instanceof Deno.errors.ConnectionRefused, `${error}`);
    assert.ok(error.message.includes(address), error.message);
    return true;
  });
  const took = performance.now() - start;
  assert.ok(took < 2_000, `took ${took} ms`);
  console.log(`inetTrigger ConnectionRefused after ${took.toFixed(2)} ms`);
});

Deno.test("inetTrigger() rejects with NotFound naming the endpoint when no allowed address is left", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const address = addressOf(listener);
  const start = performance.now();
  await assert.rejects(inetTrigger(address, "W", { timeout: 5_000, protocols: "ipv6" }), (error: Error) => {
    assert.ok(error instanceof Deno.errors.NotFound, `${error}`);
    assert.ok(error.message.includes(address), error.message);
    return true;
  });
  const took = performance.now() - start;
  assert.ok(took < 2_000, `took ${took} ms`);
  console.log(`inetTrigger NotFound after ${took.toFixed(2)} ms`);
  await assertNextConnectionIs(listener, "after");
});

Deno.test("inetTrigger() rejects with signal.reason, doing no I/O, when the signal is already aborted", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const reason = new Error("stopped by the caller");
  await assert.rejects(
    inetTrigger(addressOf(listener), "W", { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  const plain = AbortSignal.abort();
  await assert.rejects(inetTrigger(addressOf(listener), "W", { signal: plain }), (error) => error === plain.reason);
  await assertNextConnectionIs(listener, "after");
});

Deno.test("inetTrigger() rejects with signal.reason when aborted while waiting for the close", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const accepted = listener.accept();
  const reason = new Error("stopped mid-wait");
  using signal = abortAfter(100, reason);
  try {
    await assert.rejects(
      within(inetTrigger(addressOf(listener), "W", { timeout: 10_000, signal }), 5_000, "trigger"),
      (error) => error === reason,
    );
  } finally {
    // The client closed its socket before rejecting: the server sees the request, then end-of-file.
    const received = await within(readAll(await within(accepted, 5_000, "accept")), 5_000, "server read");
    assert.deepEqual([...received], [0x57, 0]);
  }
});

/**
 * A listener whose accept queue is full, as /proc/net/tcp shows (more queued
 * than its backlog of 0): Linux drops a further SYN, so a connect stays pending.
 */
async function fullListener(): Promise<{ listener: Deno.TcpListener; fillers: Deno.TcpConn[] }> {
  const listener = Deno.listen({ hostname: HOST, port: 0, tcpBacklog: 0 });
  const fillers: Deno.TcpConn[] = [];
  const port = listener.addr.port;
  // Bounded: the queue is full after one or two connections.
  for (let i = 0; i < 16 && acceptQueueLength(HOST, port) === 0; i++) {
    using signal = abortAfter(5_000);
    try {
      fillers.push(await Deno.connect({ hostname: HOST, port, signal }));
    } catch (error) {
      // A dropped SYN: the queue filled up after the check.
      if (!signal.aborted) throw error;
      break;
    }
  }
  if (acceptQueueLength(HOST, port) > 0) return { listener, fillers };
  for (const conn of fillers) conn.close();
  listener.close();
  throw new Error("the accept queue never filled up");
}

Deno.test("inetTrigger() rejects with TimeoutError naming the endpoint when the connect cannot finish", async () => {
  const { listener, fillers } = await fullListener();
  try {
    const address = addressOf(listener);
    const start = performance.now();
    await assert.rejects(
      within(inetTrigger(address, "W", { timeout: 300 }), 5_000, "trigger"),
      (error: DOMException) => {
        assert.equal(error.name, "TimeoutError");
        assert.ok(error.message.includes(`inet:${address}`), error.message);
        return true;
      },
    );
    const took = performance.now() - start;
    assert.ok(took >= 299 && took < 2_300, `took ${took} ms`);
  } finally {
    for (const conn of fillers) conn.close();
    listener.close();
  }
});

Deno.test("inetTrigger() rejects with signal.reason when aborted during a connect that cannot finish", async () => {
  const { listener, fillers } = await fullListener();
  try {
    const reason = new Error("stopped mid-connect");
    using signal = abortAfter(100, reason);
    await assert.rejects(
      within(inetTrigger(addressOf(listener), "W", { timeout: 10_000, signal }), 5_000, "trigger"),
      (error) => error === reason,
    );
  } finally {
    for (const conn of fillers) conn.close();
    listener.close();
  }
});

Deno.test("inetTrigger() rejects with TimeoutError when the write cannot finish (server never reads)", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const accepted = listener.accept();
  const address = addressOf(listener);
  try {
    // 16 MiB is far more than the loopback socket buffers hold.
    const request = new Uint8Array(16 << 20).fill(0x41);
    await assert.rejects(
      within(inetTrigger(address, request, { timeout: 300 }), 5_000, "trigger"),
      (error: DOMException) => {
        assert.equal(error.name, "TimeoutError");
        assert.ok(error.message.includes(`inet:${address}`), error.message);
        return true;
      },
    );
  } finally {
    (await within(accepted, 5_000, "accept")).close();
  }
});

Deno.test("inetTrigger() throws TypeError, SyntaxError or RangeError on bad input before any I/O", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const address = addressOf(listener);
  const call = inetTrigger as (address: unknown, request: unknown, options?: unknown) => Promise<unknown>;
  for (const request of [42, null, undefined, {}, [87], new Uint16Array(1), new ArrayBuffer(1)]) {
    await assert.rejects(call(address, request), TypeError, `request ${String(request)}`);
  }
  for (const bad of ["host:", "[127.0.0.1]", "[127.0.0.1]x:25", "[127.0.0.1:25", "25x", "*:25", "127.0.0.1"]) {
    await assert.rejects(call(bad, "W"), SyntaxError, `address ${bad}`);
  }
  await assert.rejects(call(42, "W"), TypeError);
  await assert.rejects(call(`${HOST}:70000`, "W"), RangeError);
  await assert.rejects(call(address, "W", { timeout: -1 }), RangeError);
  await assert.rejects(call(address, "W", { timeout: NaN }), RangeError);
  await assert.rejects(call(address, "W", { timeout: "5" }), TypeError);
  await assert.rejects(call(address, "W", { signal: "abort" }), TypeError);
  await assertNextConnectionIs(listener, "after");
});

Deno.test("inetTrigger() reports the endpoint with its prefix, the transport, the bytes and the elapsed time", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const address = addressOf(listener);
  const [, result] = await Promise.all([
    acceptRequest(listener),
    inetTrigger(address, "WD", { timeout: 5_000 }),
  ]);
  assert.deepEqual(Object.keys(result).sort(), ["bytes", "elapsed", "endpoint", "outcome", "peerClosed", "transport"]);
  assert.equal(result.endpoint, `inet:${address}`);
  assert.equal(result.transport, "inet");
  assert.equal(result.bytes, 3);
  assert.equal(result.peerClosed, true);
  assert.ok(Number.isFinite(result.elapsed) && result.elapsed >= 0, `elapsed ${result.elapsed}`);
});

/* Whether this machine can bind the IPv6 loopback address, and why not. */
const IPV6 = probeIpv6();
if (!IPV6.ok) console.log(`IPv6 test ignored: cannot listen on [::1]: ${IPV6.reason}`);

Deno.test({
  name: "inetTrigger() reaches an IPv6 loopback listener by [::1]:port",
  ignore: !IPV6.ok,
  fn: async () => {
    using listener = Deno.listen({ hostname: "::1", port: 0 });
    const address = `[::1]:${listener.addr.port}`;
    const [received, result] = await Promise.all([
      acceptRequest(listener),
      inetTrigger(address, "A", { timeout: 5_000 }),
    ]);
    assert.deepEqual([...received], [0x41, 0]);
    assert.equal(result.endpoint, `inet:${address}`);
  },
});

Deno.test({
  name: "inetTrigger() rejects with NotCapable naming the flag when --allow-net is missing",
  permissions: { net: false },
  async fn() {
    // The permission check comes before any I/O: nothing is contacted on this port.
    await assert.rejects(inetTrigger("127.0.0.1:25", "W", { timeout: 1_000 }), (error: Error) => {
      assert.ok(error instanceof Deno.errors.NotCapable, `${error}`);
      assert.ok(error.message.includes("--allow-net=127.0.0.1:25"), error.message);
      return true;
    });
  },
});

Deno.test("inetTrigger() leaves the socket closed once it settles", async () => {
  using listener = Deno.listen({ hostname: HOST, port: 0 });
  const accepted = listener.accept();
  const result = await inetTrigger(addressOf(listener), "W", { timeout: 200 });
  assert.equal(result.peerClosed, false);
  // The server never closed; the client did: the server reads the request, then end-of-file.
  const received = await within(readAll(await within(accepted, 5_000, "accept")), 5_000, "server read");
  assert.deepEqual([...received], [0x57, 0]);
});
