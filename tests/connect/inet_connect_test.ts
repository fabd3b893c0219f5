/**
 * Tests for inetConnect(): real loopback listeners on port 0, no mocks. The
 * resource and op sanitizers (on in deno.json) prove that every losing or
 * abandoned attempt is closed before the promise settles.
 *
 * ## The loopback black hole
 *
 * Timeouts, Happy Eyeballs and Postfix's serial mode need an address whose
 * SYNs go unanswered. {@linkcode blackHole} makes one on loopback: a listener
 * on 127.0.0.2 with `tcpBacklog: 0` that never accepts. Its accept queue
 * holds one connection (Linux: full when the count exceeds the backlog); once
 * a filler connection sits there, the kernel drops every further SYN
 * (`tcp_abort_on_overflow` is 0 by default, so it does not answer with RST)
 * and a connect just waits. The helper adds fillers one at a time, each with a
 * 300 ms deadline, until one times out: that timed-out raw `Deno.connect` is
 * the proof the hole works. Checked on this machine (gVisor netstack, kernel
 * string 6.18) and on Linux; one filler is enough on both.
 */
import assert from "node:assert/strict";
import {
  inetConnect,
  type InetConnectOptions,
  type LookupAddress,
  type LookupFunction,
} from "../../connect/inet_connect.ts";
import {
  acceptQueueLength,
  freePort,
  message,
  probeIpv6,
  rejection,
  runScript,
  type ScriptResult,
  tempDir,
  within,
} from "../_util.ts";

const BLACK_HOLE_HOST = "127.0.0.2";

/** Whether ::1 can be bound here (some containers have no IPv6 loopback). */
const ipv6 = probeIpv6().ok;

function v4(address: string): LookupAddress {
  return { address, family: 4 };
}

function v6(address: string): LookupAddress {
  return { address, family: 6 };
}

/** A lookup that answers `addresses` and records every call. */
function answering(addresses: LookupAddress[]): LookupFunction & { calls: [string, 0 | 4 | 6][] } {
  const calls: [string, 0 | 4 | 6][] = [];
  const lookup = (hostname: string, options: { family: 0 | 4 | 6 }) => {
    calls.push([hostname, options.family]);
    return Promise.resolve(addresses.map((a) => ({ ...a })));
  };
  return Object.assign(lookup, { calls });
}

/** A lookup that only settles when its signal aborts: a resolver that hangs. */
function hanging(): LookupFunction & { calls: number } {
  const lookup = (_hostname: string, options: { signal: AbortSignal }) => {
    lookup.calls++;
    const { promise, reject } = Promise.withResolvers<LookupAddress[]>();
    options.signal.addEventListener("abort", () => reject(options.signal.reason), { once: true });
    return promise;
  };
  lookup.calls = 0;
  return lookup;
}

/** Times `fn` in milliseconds. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

/** Checks that `conn` reached `listener`: accepts its peer and sends a byte across. */
async function assertReached(conn: Deno.TcpConn, listener: Deno.TcpListener): Promise<void> {
  using peer = await within(listener.accept(), 5_000, "accept");
  assert.equal(peer.remoteAddr.port, conn.localAddr.port);
  assert.equal(peer.localAddr.port, conn.remoteAddr.port);
  await conn.write(new Uint8Array([42]));
  const buffer = new Uint8Array(1);
  assert.equal(await within(peer.read(buffer), 5_000, "read"), 1);
  assert.equal(buffer[0], 42);
}

/** A raw Deno.connect that gives up after `ms`: a connection, or "timeout". */
async function rawConnectWithin(hostname: string, port: number, ms: number): Promise<Deno.TcpConn | "timeout"> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException("raw connect timed out", "TimeoutError")), ms);
  try {
    return await Deno.connect({ hostname, port, signal: controller.signal });
  } catch (error) {
    if (controller.signal.aborted) return "timeout";
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

interface BlackHole extends Disposable {
  hostname: string;
  port: number;
}

/**
 * Makes `hostname:port` a black hole (see the module doc) and proves it: the
 * listener's accept queue (backlog 0) holds more than its backlog, as
 * /proc/net/tcp shows, so Linux drops every further SYN. Port 0 picks a free port.
 */
async function blackHole(hostname: string, port: number): Promise<BlackHole> {
  const listener = Deno.listen({ hostname, port, tcpBacklog: 0 });
  const fillers: Deno.TcpConn[] = [];
  const close = () => {
    for (const conn of fillers) conn.close();
    listener.close();
  };
  const hole = { hostname, port: listener.addr.port, [Symbol.dispose]: close };
  try {
    // Bounded: the queue is full after one or two connections.
    for (let i = 0; i < 16; i++) {
      if (acceptQueueLength(hostname, hole.port) > 0) return hole;
      const result = await rawConnectWithin(hostname, hole.port, 5_000);
      // A dropped SYN: the queue filled up after the check above.
      if (result === "timeout") break;
      fillers.push(result);
    }
    if (acceptQueueLength(hostname, hole.port) > 0) return hole;
  } catch (error) {
    close();
    throw error;
  }
  close();
  throw new Error(`no black hole: the accept queue of ${hostname}:${hole.port} never filled up`);
}

interface Pair extends Disposable {
  hole: BlackHole;
  good: Deno.TcpListener;
  port: number;
}

/** A black hole on 127.0.0.2 and a live listener on 127.0.0.1, on the same port. */
async function blackHoleBesideListener(): Promise<Pair> {
  // Bounded retries: another test may hold the port on 127.0.0.2.
  for (let i = 0; i < 10; i++) {
    const good = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let hole: BlackHole;
    try {
      hole = await blackHole(BLACK_HOLE_HOST, good.addr.port);
    } catch (error) {
      good.close();
      if (error instanceof Deno.errors.AddrInUse) continue;
      throw error;
    }
    return {
      hole,
      good,
      port: good.addr.port,
      [Symbol.dispose]() {
        hole[Symbol.dispose]();
        good.close();
      },
    };
  }
  throw new Error("no free port on both 127.0.0.1 and 127.0.0.2 after 10 tries");
}

// ---------------------------------------------------------------------------
// Success

Deno.test("inetConnect() connects to an IPv4 literal", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using conn = await inetConnect(`127.0.0.1:${listener.addr.port}`, { timeout: 5_000 });
  assert.equal(conn.remoteAddr.hostname, "127.0.0.1");
  assert.equal(conn.remoteAddr.port, listener.addr.port);
  await assertReached(conn, listener);
});

Deno.test("inetConnect() connects to a bracketed IPv4 literal [127.0.0.1]:port", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using conn = await inetConnect(`[127.0.0.1]:${listener.addr.port}`, { timeout: 5_000 });
  assert.equal(conn.remoteAddr.hostname, "127.0.0.1");
  await assertReached(conn, listener);
});

Deno.test({
  name: "inetConnect() connects to [::1]:port and [ipv6:::1]:port",
  ignore: !ipv6,
  async fn() {
    using listener = Deno.listen({ hostname: "::1", port: 0 });
    for (const address of [`[::1]:${listener.addr.port}`, `[ipv6:::1]:${listener.addr.port}`]) {
      using conn = await inetConnect(address, { timeout: 5_000 });
      assert.equal(conn.remoteAddr.hostname, "::1", address);
      await assertReached(conn, listener);
    }
  },
});

Deno.test("inetConnect() resolves localhost:port through the system resolver", async () => {
  // Listen on every loopback family localhost may resolve to, on one port.
  using v4Listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = v4Listener.addr.port;
  let v6Listener: Deno.TcpListener | undefined;
  try {
    if (ipv6) v6Listener = Deno.listen({ hostname: "::1", port });
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
  }
  try {
    using conn = await inetConnect(`localhost:${port}`, { timeout: 5_000 });
    const listener = conn.remoteAddr.hostname === "127.0.0.1" ? v4Listener : v6Listener;
    assert.ok(listener, `connected to ${conn.remoteAddr.hostname}`);
    await assertReached(conn, listener);
  } finally {
    v6Listener?.close();
  }
});

Deno.test("inetConnect() takes :port and a bare port to mean localhost", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  for (const address of [`:${listener.addr.port}`, `${listener.addr.port}`]) {
    const lookup = answering([v4("127.0.0.1")]);
    using conn = await inetConnect(address, { timeout: 5_000, lookup });
    assert.deepEqual(lookup.calls, [["localhost", 0]], address);
    await assertReached(conn, listener);
  }
});

Deno.test("inetConnect() passes the protocols family hint to a custom lookup", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const expected: [InetConnectOptions["protocols"], 0 | 4 | 6][] = [[undefined, 0], ["all", 0], ["ipv4", 4]];
  for (const [protocols, family] of expected) {
    const lookup = answering([v4("127.0.0.1")]);
    using conn = await inetConnect(`mail.test:${listener.addr.port}`, { timeout: 5_000, lookup, protocols });
    assert.deepEqual(lookup.calls, [["mail.test", family]]);
    await assertReached(conn, listener);
  }
});

Deno.test("inetConnect() does not call lookup for an IP literal", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lookup = answering([v4("127.0.0.9")]);
  using conn = await inetConnect(`127.0.0.1:${listener.addr.port}`, { timeout: 5_000, lookup });
  assert.deepEqual(lookup.calls, []);
  await assertReached(conn, listener);
});

Deno.test("inetConnect() accepts noDelay and keepAlive, true and false", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  for (const flag of [true, false]) {
    using conn = await inetConnect(`127.0.0.1:${listener.addr.port}`, {
      timeout: 5_000,
      noDelay: flag,
      keepAlive: flag,
    });
    await assertReached(conn, listener);
  }
});

Deno.test("inetConnect() tries the next address when the first refuses, in either strategy", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // Nothing listens on 127.0.0.3 at this port: refused at once.
  for (const strategy of ["happy-eyeballs", "serial"] as const) {
    const lookup = answering([v4("127.0.0.3"), v4("127.0.0.1")]);
    using conn = await inetConnect(`two.test:${listener.addr.port}`, { timeout: 5_000, lookup, strategy });
    assert.equal(conn.remoteAddr.hostname, "127.0.0.1", strategy);
    await assertReached(conn, listener);
  }
});

// ---------------------------------------------------------------------------
// Argument checks: synchronous in spirit, before any I/O (lookup never called)

Deno.test("inetConnect() rejects with TypeError for arguments of the wrong type or unknown values", async () => {
  const lookup = answering([v4("127.0.0.1")]);
  const cases: [unknown, Record<string, unknown>][] = [
    [25, {}],
    [undefined, {}],
    [null, {}],
    ["host.test:25", { timeout: "1000" }],
    ["host.test:25", { attemptTimeout: "1000" }],
    ["host.test:25", { attemptDelay: "100" }],
    ["host.test:25", { strategy: "fastest" }],
    ["host.test:25", { strategy: "" }],
    ["host.test:25", { protocols: "ipv5" }],
    ["host.test:25", { protocols: "IPv4" }],
    ["host.test:25", { protocols: null }],
    ["host.test:25", { signal: {} }],
    ["host.test:25", { signal: "abort" }],
    ["host.test:25", { lookup: "8.8.8.8" }],
  ];
  for (const [address, extra] of cases) {
    const options = { lookup, ...extra } as unknown as InetConnectOptions;
    const error = await rejection(inetConnect(address as string, options));
    assert.ok(error instanceof TypeError, `${String(address)} ${JSON.stringify(extra)}: got ${String(error)}`);
  }
  assert.deepEqual(lookup.calls, []);
});

Deno.test("inetConnect() rejects with SyntaxError naming the address when it cannot be parsed", async () => {
  const lookup = answering([v4("127.0.0.1")]);
  const cases = ["127.0.0.1", "", "host.test:", "[127.0.0.1", "[127.0.0.1]x", "*:25", "25x", "host.test:smtpx"];
  for (const address of cases) {
    const error = await rejection(inetConnect(address, { lookup }));
    assert.ok(error instanceof SyntaxError, `${JSON.stringify(address)}: got ${String(error)}`);
    assert.ok(message(error).includes(`"${address}"`), message(error));
  }
  assert.deepEqual(lookup.calls, []);
});

Deno.test("inetConnect() rejects with RangeError for port 0 or above 65535", async () => {
  const lookup = answering([v4("127.0.0.1")]);
  for (const address of ["127.0.0.1:0", "host.test:0", ":0", "127.0.0.1:65536", "[::1]:99999"]) {
    const error = await rejection(inetConnect(address, { lookup }));
    assert.ok(error instanceof RangeError, `${address}: got ${String(error)}`);
  }
  assert.deepEqual(lookup.calls, []);
});

Deno.test("inetConnect() rejects with RangeError for a negative or NaN timeout and attemptDelay below 10", async () => {
  const lookup = answering([v4("127.0.0.1")]);
  const cases: InetConnectOptions[] = [
    { timeout: -1 },
    { timeout: NaN },
    { timeout: -Infinity },
    { attemptTimeout: -1 },
    { attemptTimeout: NaN },
    { attemptDelay: 9.9 },
    { attemptDelay: 0 },
    { attemptDelay: -5 },
    { attemptDelay: NaN },
  ];
  for (const options of cases) {
    const error = await rejection(inetConnect("host.test:25", { lookup, ...options }));
    assert.ok(error instanceof RangeError, `${JSON.stringify(options)}: got ${String(error)}`);
    const name = Object.keys(options)[0];
    assert.ok(message(error).includes(name), message(error));
  }
  assert.deepEqual(lookup.calls, []);
});

// ---------------------------------------------------------------------------
// Resolution and the address-family filter

Deno.test("inetConnect() rejects with NotFound naming the host when lookup rejects", async () => {
  const cause = Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.test"), { code: "ENOTFOUND" });
  const lookup: LookupFunction = () => Promise.reject(cause);
  const error = await rejection(inetConnect("nowhere.test:25", { lookup, timeout: 5_000 }));
  assert.ok(error instanceof Deno.errors.NotFound, `got ${String(error)}`);
  assert.ok(message(error).includes(`"inet:nowhere.test:25"`), message(error));
  assert.ok(message(error).includes(`"nowhere.test"`), message(error));
  assert.ok(message(error).includes("ENOTFOUND"), message(error));
  assert.equal((error as Error).cause, cause);
});

Deno.test("inetConnect() rejects with NotFound when lookup answers no address", async () => {
  const error = await rejection(inetConnect("empty.test:25", { lookup: answering([]), timeout: 5_000 }));
  assert.ok(error instanceof Deno.errors.NotFound, `got ${String(error)}`);
  assert.ok(message(error).includes(`"empty.test"`), message(error));
});

Deno.test("inetConnect() rejects with NotFound when protocols ipv6 meets a lookup answering only IPv4", async () => {
  const lookup = answering([v4("127.0.0.1"), v4("127.0.0.2")]);
  const error = await rejection(inetConnect("v4only.test:25", { lookup, protocols: "ipv6", timeout: 5_000 }));
  assert.ok(error instanceof Deno.errors.NotFound, `got ${String(error)}`);
  assert.deepEqual(lookup.calls, [["v4only.test", 6]]);
  assert.ok(message(error).includes("IPv6"), message(error));
  assert.ok(message(error).includes(`"ipv6"`), message(error));
});

Deno.test("inetConnect() rejects with NotFound when protocols filters out an IP literal", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const error = await rejection(inetConnect(`127.0.0.1:${listener.addr.port}`, { protocols: "ipv6", timeout: 5_000 }));
  assert.ok(error instanceof Deno.errors.NotFound, `got ${String(error)}`);
  const error6 = await rejection(inetConnect(`[::1]:${listener.addr.port}`, { protocols: "ipv4", timeout: 5_000 }));
  assert.ok(error6 instanceof Deno.errors.NotFound, `got ${String(error6)}`);
});

Deno.test({
  name: "inetConnect() drops the addresses of a forbidden family when lookup ignores the family hint",
  ignore: !ipv6,
  async fn() {
    // Both families listen on one port, so an unfiltered list would connect
    // to whichever comes first: the forbidden one.
    using listener4 = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener4.addr.port;
    using listener6 = Deno.listen({ hostname: "::1", port });
    for (const strategy of ["happy-eyeballs", "serial"] as const) {
      {
        const lookup = answering([v6("::1"), v4("127.0.0.1")]);
        using conn = await inetConnect(`dual.test:${port}`, { lookup, protocols: "ipv4", strategy, timeout: 5_000 });
        assert.deepEqual(lookup.calls, [["dual.test", 4]]);
        assert.equal(conn.remoteAddr.hostname, "127.0.0.1", strategy);
        await assertReached(conn, listener4);
      }
      {
        const lookup = answering([v4("127.0.0.1"), v6("::1")]);
        using conn = await inetConnect(`dual.test:${port}`, { lookup, protocols: "ipv6", strategy, timeout: 5_000 });
        assert.deepEqual(lookup.calls, [["dual.test", 6]]);
        assert.equal(conn.remoteAddr.hostname, "::1", strategy);
        await assertReached(conn, listener6);
      }
    }
  },
});

// ---------------------------------------------------------------------------
// Failure reports

Deno.test("inetConnect() rejects with ConnectionRefused naming the address when nothing listens", async () => {
  const port = freePort();
  const error = await rejection(inetConnect(`127.0.0.1:${port}`, { timeout: 5_000 }));
  assert.ok(error instanceof Deno.errors.ConnectionRefused, `got ${String(error)}`);
  assert.ok(message(error).includes(`"inet:127.0.0.1:${port}"`), message(error));
  assert.ok((error as Error).cause instanceof Deno.errors.ConnectionRefused, "the OS error is kept as cause");
});

Deno.test("inetConnect() names every address tried, in order, when all of them refuse", async () => {
  const port = freePort();
  for (const strategy of ["happy-eyeballs", "serial"] as const) {
    const lookup = answering([v4("127.0.0.1"), v4("127.0.0.2")]);
    const error = await rejection(inetConnect(`multi.test:${port}`, { lookup, strategy, timeout: 5_000 }));
    assert.ok(error instanceof Deno.errors.ConnectionRefused, `${strategy}: got ${String(error)}`);
    const text = message(error);
    assert.ok(text.startsWith(`Cannot connect to "inet:multi.test:${port}": `), text);
    const first = text.indexOf(`127.0.0.1:${port}: `);
    const second = text.indexOf(`127.0.0.2:${port}: `);
    assert.ok(first > 0 && second > first, text);
    const cause = (error as Error).cause;
    assert.ok(cause instanceof AggregateError, `cause: ${String(cause)}`);
    assert.equal(cause.errors.length, 2);
  }
});

Deno.test({
  name: "inetConnect() interleaves families for happy-eyeballs and keeps resolver order for serial",
  ignore: !ipv6,
  async fn() {
    const port = freePort();
    const answer = [v4("127.0.0.1"), v4("127.0.0.2"), v6("::1")];
    // Each refusal starts the next address at once, so the message lists the attempt order.
    const expected = {
      "happy-eyeballs": [`127.0.0.1:${port}`, `[::1]:${port}`, `127.0.0.2:${port}`],
      serial: [`127.0.0.1:${port}`, `127.0.0.2:${port}`, `[::1]:${port}`],
    };
    for (const strategy of ["happy-eyeballs", "serial"] as const) {
      const error = await rejection(
        inetConnect(`order.test:${port}`, { lookup: answering(answer), strategy, timeout: 5_000 }),
      );
      const text = message(error);
      const positions = expected[strategy].map((address) => text.indexOf(`${address}: `));
      assert.ok(positions.every((p) => p > 0), `${strategy}: ${text}`);
      assert.deepEqual([...positions].sort((a, b) => a - b), positions, `${strategy}: ${text}`);
    }
  },
});

// ---------------------------------------------------------------------------
// Signal

Deno.test("inetConnect() rejects with signal.reason unchanged when the signal is already aborted", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const reason = { custom: "reason" };
  const lookup = answering([v4("127.0.0.1")]);
  for (const address of [`127.0.0.1:${listener.addr.port}`, `named.test:${listener.addr.port}`]) {
    const error = await rejection(inetConnect(address, { signal: AbortSignal.abort(reason), lookup, timeout: 5_000 }));
    assert.equal(error, reason);
  }
  // No lookup, and no connection: a probe is the first one accepted.
  assert.deepEqual(lookup.calls, []);
  using probe = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await assertReached(probe, listener);
});

Deno.test("inetConnect() rejects with signal.reason unchanged when aborted during lookup", async () => {
  const reason = new Error("caller gave up");
  const controller = new AbortController();
  const lookup = hanging();
  const connecting = inetConnect("slow.test:25", { lookup, signal: controller.signal, timeout: 10_000 });
  const timer = setTimeout(() => controller.abort(reason), 50);
  try {
    const [error, elapsed] = await timed(() => rejection(connecting));
    assert.equal(error, reason);
    assert.equal(lookup.calls, 1);
    assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("inetConnect() rejects with signal.reason unchanged when aborted while connecting to a black hole", async () => {
  using hole = await blackHole(BLACK_HOLE_HOST, 0);
  const reason = { custom: "mid-flight" };
  for (const strategy of ["happy-eyeballs", "serial"] as const) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(reason), 100);
    try {
      const [error, elapsed] = await timed(() =>
        rejection(
          inetConnect(`${hole.hostname}:${hole.port}`, { signal: controller.signal, strategy, timeout: 10_000 }),
        )
      );
      assert.equal(error, reason, strategy);
      assert.ok(elapsed >= 80 && elapsed < 5_000, `${strategy}: took ${elapsed} ms`);
    } finally {
      clearTimeout(timer);
    }
  }
});

// ---------------------------------------------------------------------------
// Timeouts and the black hole

Deno.test("inetConnect() rejects with a TimeoutError naming the endpoint when lookup outlasts the timeout", async () => {
  const lookup = hanging();
  const [error, elapsed] = await timed(() => rejection(inetConnect("slow.test:25", { lookup, timeout: 200 })));
  assert.ok(error instanceof DOMException, `got ${String(error)}`);
  assert.equal(error.name, "TimeoutError");
  assert.ok(error.message.includes(`"inet:slow.test:25"`), error.message);
  assert.ok(elapsed >= 180 && elapsed < 200 + 2_000, `took ${elapsed} ms`);
});

Deno.test("inetConnect() to a black hole rejects with a TimeoutError naming the endpoint within timeout + margin", async () => {
  using hole = await blackHole(BLACK_HOLE_HOST, 0);
  const address = `${hole.hostname}:${hole.port}`;
  const timeout = 300;
  const [error, elapsed] = await timed(() => rejection(inetConnect(address, { timeout })));
  assert.ok(error instanceof DOMException, `got ${String(error)}`);
  assert.equal(error.name, "TimeoutError");
  assert.ok(error.message.includes(`"inet:${address}"`), error.message);
  assert.ok(error.message.includes(`${timeout} ms`), error.message);
  console.log(
    `black hole, timeout ${timeout} ms: settled after ${elapsed.toFixed(1)} ms (overshoot ${
      (elapsed - timeout).toFixed(1)
    } ms)`,
  );
  assert.ok(elapsed >= timeout * 0.9, `settled early: ${elapsed} ms`);
  assert.ok(elapsed < timeout + 1_000, `settled late: ${elapsed} ms`);
});

/**
 * Connects to `host`:PORT, which a lookup answers with a black hole on
 * 127.0.0.2 first and a live listener on 127.0.0.1 second, with `options`;
 * asserts the connection is to 127.0.0.1 and reached the listener, and
 * returns how long the connect took, in milliseconds.
 */
async function connectPastHole(host: string, options: InetConnectOptions): Promise<number> {
  using pair = await blackHoleBesideListener();
  const lookup = answering([v4(BLACK_HOLE_HOST), v4("127.0.0.1")]);
  const [conn, elapsed] = await timed(() => inetConnect(`${host}:${pair.port}`, { ...options, lookup }));
  using _conn = conn;
  assert.equal(conn.remoteAddr.hostname, "127.0.0.1");
  await assertReached(conn, pair.good);
  return elapsed;
}

for (const attemptDelay of [100, 250]) {
  Deno.test(`inetConnect() happy-eyeballs reaches the second address about attemptDelay ${attemptDelay} ms after a black-holed first`, async () => {
    const elapsed = await connectPastHole("eyeballs.test", { attemptDelay, timeout: 10_000 });
    console.log(
      `happy eyeballs, attemptDelay ${attemptDelay} ms: connected after ${elapsed.toFixed(1)} ms (+${
        (elapsed - attemptDelay).toFixed(1)
      } ms)`,
    );
    assert.ok(elapsed >= attemptDelay * 0.8, `connected before attemptDelay: ${elapsed} ms`);
    assert.ok(elapsed < attemptDelay + 1_000, `connected late: ${elapsed} ms`);
  });
}

Deno.test("inetConnect() happy-eyeballs starts the next address at once when an attempt times out", async () => {
  // attemptTimeout 200 ends the first attempt long before attemptDelay 3000.
  const elapsed = await connectPastHole("eyeballs.test", { attemptDelay: 3_000, attemptTimeout: 200, timeout: 10_000 });
  assert.ok(elapsed >= 160 && elapsed < 2_500, `took ${elapsed} ms`);
});

Deno.test("inetConnect() serial waits out attemptTimeout on a black-holed first address, then connects to the second", async () => {
  const attemptTimeout = 500;
  const elapsed = await connectPastHole("serial.test", { strategy: "serial", attemptTimeout, timeout: 10_000 });
  console.log(
    `serial, attemptTimeout ${attemptTimeout} ms: connected after ${elapsed.toFixed(1)} ms (+${
      (elapsed - attemptTimeout).toFixed(1)
    } ms)`,
  );
  assert.ok(elapsed >= attemptTimeout * 0.9, `connected before attemptTimeout: ${elapsed} ms`);
  assert.ok(elapsed < attemptTimeout + 2_000, `connected late: ${elapsed} ms`);
});

Deno.test("inetConnect() serial without attemptTimeout spends the whole timeout on a black-holed first address", async () => {
  using pair = await blackHoleBesideListener();
  const lookup = answering([v4(BLACK_HOLE_HOST), v4("127.0.0.1")]);
  const [error, elapsed] = await timed(() =>
    rejection(inetConnect(`serial.test:${pair.port}`, { lookup, strategy: "serial", timeout: 400 }))
  );
  assert.ok(error instanceof DOMException, `got ${String(error)}`);
  assert.equal(error.name, "TimeoutError");
  assert.ok(error.message.includes(`"inet:serial.test:${pair.port}"`), error.message);
  assert.ok(elapsed >= 360 && elapsed < 400 + 1_000, `took ${elapsed} ms`);
});

Deno.test("inetConnect() rejects with a TimeoutError naming each address when every attempt times out", async () => {
  using hole = await blackHole(BLACK_HOLE_HOST, 0);
  const lookup = answering([v4(BLACK_HOLE_HOST), v4(BLACK_HOLE_HOST)]);
  const [error, elapsed] = await timed(() =>
    rejection(
      inetConnect(`holes.test:${hole.port}`, { lookup, strategy: "serial", attemptTimeout: 150, timeout: 10_000 }),
    )
  );
  assert.ok(error instanceof DOMException, `got ${String(error)}`);
  assert.equal(error.name, "TimeoutError");
  const text = error.message;
  assert.ok(text.startsWith(`Cannot connect to "inet:holes.test:${hole.port}": `), text);
  const entry = `${BLACK_HOLE_HOST}:${hole.port}: timed out after 150 ms`;
  assert.equal(text.split(entry).length - 1, 2, text);
  assert.ok(elapsed >= 270 && elapsed < 300 + 2_000, `took ${elapsed} ms`);
});

// ---------------------------------------------------------------------------
// Permissions

Deno.test({
  name: "inetConnect() rejects with NotCapable naming --allow-net=host:port when net is denied",
  permissions: { net: false },
  async fn() {
    const error = await rejection(inetConnect("127.0.0.1:2525", { timeout: 5_000 }));
    assert.ok(error instanceof Deno.errors.NotCapable, `got ${String(error)}`);
    assert.ok(message(error).includes("--allow-net=127.0.0.1:2525"), message(error));
    const error6 = await rejection(inetConnect("[::1]:2525", { timeout: 5_000 }));
    assert.ok(error6 instanceof Deno.errors.NotCapable, `got ${String(error6)}`);
    assert.ok(message(error6).includes("--allow-net=[::1]:2525"), message(error6));
  },
});

/**
 * Runs `body` (which may use `inetConnect` and `Deno.args`) in a subprocess
 * with exactly `flags`: a grant naming a port chosen inside the test cannot
 * be given through `Deno.test({permissions})`, which is fixed beforehand.
 */
async function runNarrowed(flags: string[], body: string, args: string[]): Promise<ScriptResult> {
  await using dir = await tempDir("postnet_inet_connect_");
  const module = new URL("../../connect/inet_connect.ts", import.meta.url).href;
  return await runScript(dir.path, `import { inetConnect } from ${JSON.stringify(module)};\n${body}\n`, flags, args);
}

Deno.test("inetConnect() connects by name when --allow-net names the host and port only", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const accepted = listener.accept();
  // Handled here so a failed assertion below does not also surface as an
  // unhandled rejection when the listener closes; awaiting still throws.
  accepted.catch(() => {});
  const output = await runNarrowed(
    [`--allow-net=localhost:${port}`],
    `using conn = await inetConnect(\`localhost:\${Deno.args[0]}\`, { timeout: 5000 });
    await conn.write(new TextEncoder().encode("granted"));`,
    [String(port)],
  );
  assert.equal(output.code, 0, output.stderr);
  using peer = await within(accepted, 5_000, "accept");
  const buffer = new Uint8Array(16);
  const n = await within(peer.read(buffer), 5_000, "read");
  assert.equal(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), "granted");
});

Deno.test("inetConnect() by name closes a connection of a family protocols forbids and rejects with NotFound", async () => {
  // Only 127.0.0.1 listens: whatever localhost maps to, Deno's own Happy
  // Eyeballs ends up connected over IPv4 (::1, if tried, is refused), which
  // protocols "ipv6" forbids after the fact.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const accepted = listener.accept();
  // Handled here so a failed assertion below does not also surface as an
  // unhandled rejection when the listener closes; awaiting still throws.
  accepted.catch(() => {});
  const output = await runNarrowed(
    [`--allow-net=localhost:${port}`],
    `try {
      using conn = await inetConnect(\`localhost:\${Deno.args[0]}\`, { timeout: 5000, protocols: "ipv6" });
      console.log(JSON.stringify({ connected: conn.remoteAddr.hostname }));
    } catch (error) {
      console.log(JSON.stringify({ name: error.name, message: error.message, notFound: error instanceof Deno.errors.NotFound }));
    }`,
    [String(port)],
  );
  assert.equal(output.code, 0, output.stderr);
  const result = JSON.parse(output.stdout);
  assert.equal(result.notFound, true, JSON.stringify(result));
  assert.ok(result.message.includes(`Cannot connect to "inet:localhost:${port}"`), result.message);
  assert.ok(result.message.includes(`"ipv6"`), result.message);
  // The connection that reached the listener was closed: its peer reads EOF.
  using peer = await within(accepted, 5_000, "accept");
  assert.equal(await within(peer.read(new Uint8Array(1)), 5_000, "read"), null);
});
