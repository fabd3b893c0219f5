import assert from "node:assert/strict";
import { fifoListen } from "../../listen/fifo_listen.ts";
import { fifoTrigger } from "../../trigger/fifo_trigger.ts";
import { inetTrigger } from "../../trigger/inet_trigger.ts";
import { trigger } from "../../trigger/trigger.ts";
import { serveTriggers, type TriggerRequest, type TriggerServer } from "../../trigger/trigger_server.ts";
import { unixTrigger } from "../../trigger/unix_trigger.ts";
import { delay, errorSink, exists, existsNow, mkfifo, readToEnd, tempDir, within } from "../_util.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a handler saw, copied, with the time it was called. */
interface Seen {
  request: string;
  data: Uint8Array;
  transport: string;
  endpoint: string;
  signal: AbortSignal;
  at: number;
}

/** A handler that records every trigger, and lets a test wait for a number of them. */
class Inbox {
  readonly seen: Seen[] = [];
  #changed = Promise.withResolvers<void>();

  readonly handler = (t: TriggerRequest): void => {
    this.seen.push({
      request: decoder.decode(t.request),
      data: t.data.slice(),
      transport: t.transport,
      endpoint: t.endpoint,
      signal: t.signal,
      at: performance.now(),
    });
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  };

  /** Waits (at most `ms`) until `count` triggers have arrived. */
  async waitFor(count: number, ms = 5_000): Promise<Seen[]> {
    const end = performance.now() + ms;
    for (let i = 0; i < 100_000 && this.seen.length < count; i++) {
      const left = end - performance.now();
      if (left <= 0) break;
      await within(this.#changed.promise, left, `waiting for trigger ${count}`);
    }
    assert.ok(this.seen.length >= count, `${this.seen.length} of ${count} triggers arrived`);
    return this.seen;
  }
}

/** The transport-specific parts of the stream tests. */
interface StreamCase {
  name: "unix" | "inet";
  /** Starts a server; `dir` is a fresh temporary directory. */
  serve(dir: string, handler: (t: TriggerRequest) => unknown, options?: object): Promise<TriggerServer>;
  /** Opens a raw client connection to the server. */
  connect(server: TriggerServer): Promise<Deno.Conn>;
  /** Sends a trigger with the library client. */
  trigger(server: TriggerServer, request: string): Promise<unknown>;
}

const UNIX: StreamCase = {
  name: "unix",
  serve: (dir, handler, options) => serveTriggers(`unix:${dir}/qmgr`, handler as (t: TriggerRequest) => void, options),
  connect: (server) => Deno.connect({ transport: "unix", path: server.endpoint.slice("unix:".length) }),
  trigger: (server, request) => unixTrigger(server.endpoint.slice("unix:".length), request, { timeout: 5_000 }),
};

const INET: StreamCase = {
  name: "inet",
  serve: (_dir, handler, options) => serveTriggers("inet:127.0.0.1:0", handler as (t: TriggerRequest) => void, options),
  connect: (server) => Deno.connect({ hostname: "127.0.0.1", port: portOf(server) }),
  trigger: (server, request) => inetTrigger(`127.0.0.1:${portOf(server)}`, request, { timeout: 5_000 }),
};

function portOf(server: TriggerServer): number {
  const port = Number(server.endpoint.slice(server.endpoint.lastIndexOf(":") + 1));
  assert.ok(port > 0, server.endpoint);
  return port;
}

// ---------------------------------------------------------------------------
// What the handler receives, per transport.

Deno.test("serveTriggers() on unix: passes the request without its NUL and the data with it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  const inbox = new Inbox();
  const { errors, onError } = errorSink();
  await using server = await serveTriggers(`unix:${path}`, inbox.handler, { onError });
  assert.equal(server.endpoint, `unix:${path}`);
  assert.equal(server.transport, "unix");
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o666);
  const result = await unixTrigger(path, "I", { timeout: 5_000 });
  assert.equal(result.peerClosed, true, "the server closes after the request");
  const [seen] = await inbox.waitFor(1);
  assert.equal(seen.request, "I");
  assert.deepEqual([...seen.data], [0x49, 0]);
  assert.equal(seen.transport, "unix");
  assert.equal(seen.endpoint, `unix:${path}`);
  assert.ok(seen.signal instanceof AbortSignal && !seen.signal.aborted);
  assert.deepEqual(errors, []);
});

Deno.test("serveTriggers() on fifo: passes the request as written, without a NUL", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const inbox = new Inbox();
  const { errors, onError } = errorSink();
  await using server = await serveTriggers(`fifo:${path}`, inbox.handler, { onError });
  assert.equal(server.endpoint, `fifo:${path}`);
  assert.equal(server.transport, "fifo");
  const info = await Deno.lstat(path);
  assert.ok(info.isFifo);
  assert.equal(info.mode! & 0o777, 0o622);
  await fifoTrigger(path, "W");
  const [seen] = await inbox.waitFor(1);
  assert.equal(seen.request, "W");
  assert.deepEqual([...seen.data], [0x57]);
  assert.equal(seen.transport, "fifo");
  assert.equal(seen.endpoint, `fifo:${path}`);
  assert.deepEqual(errors, []);
});

Deno.test("serveTriggers() on inet: reports the real port and passes the request without its NUL", async () => {
  const inbox = new Inbox();
  const { errors, onError } = errorSink();
  await using server = await serveTriggers("inet:127.0.0.1:0", inbox.handler, { onError });
  assert.match(server.endpoint, /^inet:127\.0\.0\.1:[1-9][0-9]*$/);
  assert.equal(server.transport, "inet");
  const result = await trigger(server.endpoint, "D", { timeout: 5_000 });
  assert.equal(result.peerClosed, true);
  const [seen] = await inbox.waitFor(1);
  assert.equal(seen.request, "D");
  assert.deepEqual([...seen.data], [0x44, 0]);
  assert.equal(seen.transport, "inet");
  assert.equal(seen.endpoint, server.endpoint);
  assert.deepEqual(errors, []);
});

Deno.test("serveTriggers() on a bare path makes a socket, and reuses a FIFO that is there without removing it", async () => {
  await using dir = await tempDir();
  const inbox = new Inbox();
  const socket = `${dir.path}/qmgr`;
  {
    await using server = await serveTriggers(socket, inbox.handler);
    assert.equal(server.endpoint, `unix:${socket}`);
    assert.ok((await Deno.lstat(socket)).isSocket);
    await trigger(socket, "I", { timeout: 5_000 });
    await inbox.waitFor(1);
  }
  assert.equal(await exists(socket), false);

  const fifo = `${dir.path}/pickup`;
  await mkfifo(fifo);
  {
    await using server = await serveTriggers(fifo, inbox.handler);
    assert.equal(server.endpoint, `fifo:${fifo}`);
    await trigger(fifo, "W", { timeout: 5_000 });
    const seen = await inbox.waitFor(2);
    assert.equal(seen[1].request, "W");
  }
  assert.ok((await Deno.lstat(fifo)).isFifo, "a FIFO the server did not make is left in place");
});

// ---------------------------------------------------------------------------
// Stream framing: the NUL, Postfix's two writes, empty and silent connections.

for (const transport of [UNIX, INET]) {
  Deno.test(`serveTriggers() on ${transport.name}: does not close between a Postfix client's request and its NUL (20 times)`, async () => {
    await using dir = await tempDir();
    const inbox = new Inbox();
    await using server = await transport.serve(dir.path, inbox.handler);
    for (let i = 0; i < 20; i++) {
      using conn = await transport.connect(server);
      // Postfix's unix_trigger: write(request), then write(NUL), as two calls.
      assert.equal(await conn.write(encoder.encode("I")), 1);
      await delay(20);
      assert.equal(await conn.write(Uint8Array.of(0)), 1, "the NUL write succeeds");
      // Then it waits for the server to close.
      const { bytes, end } = await within(readToEnd(conn), 5_000, "server close");
      assert.equal(bytes, 0);
      assert.equal(end, "eof", "an orderly close, not a reset: the NUL was read");
      const seen = await inbox.waitFor(i + 1);
      assert.equal(seen[i].request, "I");
      assert.deepEqual([...seen[i].data], [0x49, 0]);
    }
  });

  Deno.test(`serveTriggers() on ${transport.name}: takes a NUL that arrived within pause even when the process was busy past it`, async () => {
    await using dir = await tempDir();
    const inbox = new Inbox();
    const pause = 100;
    await using server = await transport.serve(dir.path, inbox.handler, { pause });
    for (let i = 0; i < 3; i++) {
      using conn = await transport.connect(server);
      assert.equal(await conn.write(encoder.encode("I")), 1);
      // The process is busy for longer than pause just after the server read "I" and armed its timer;
      // the NUL is written 20 ms after "I", in time, and both timers are due when the process wakes.
      const busy = setTimeout(() => {
        for (const end = performance.now() + pause + 50; performance.now() < end;);
      }, 5);
      try {
        await delay(20);
        assert.equal(await conn.write(Uint8Array.of(0)), 1);
      } finally {
        clearTimeout(busy);
      }
      const { end } = await within(readToEnd(conn), 5_000, "server close");
      assert.equal(end, "eof", "an orderly close, not a reset: the NUL was read");
      const seen = await inbox.waitFor(i + 1);
      assert.deepEqual([...seen[i].data], [0x49, 0]);
    }
  });

  Deno.test(`serveTriggers() on ${transport.name}: calls the handler with an empty request for a connection that sends nothing`, async () => {
    await using dir = await tempDir();
    const inbox = new Inbox();
    await using server = await transport.serve(dir.path, inbox.handler);
    const conn = await transport.connect(server);
    conn.close();
    const [seen] = await inbox.waitFor(1);
    assert.equal(seen.request, "");
    assert.equal(seen.data.length, 0);
    // And keeps serving.
    await transport.trigger(server, "W");
    assert.equal((await inbox.waitFor(2))[1].request, "W");
  });

  Deno.test(`serveTriggers() on ${transport.name}: closes a silent connection at readTimeout and calls the handler with 0 bytes`, async () => {
    await using dir = await tempDir();
    const inbox = new Inbox();
    const readTimeout = 200;
    await using server = await transport.serve(dir.path, inbox.handler, { readTimeout });
    // Timed from before the connect, so from no later than the server's accept.
    const start = performance.now();
    using conn = await transport.connect(server);
    const { bytes } = await within(readToEnd(conn), readTimeout + 2_000, "server close");
    const took = performance.now() - start;
    assert.equal(bytes, 0);
    assert.ok(took >= readTimeout - 1, `closed after ${took} ms`);
    assert.ok(took < readTimeout + 2_000, `closed after ${took} ms`);
    console.log(`${transport.name}: readTimeout ${readTimeout} ms closed a silent client after ${took.toFixed(1)} ms`);
    const [seen] = await inbox.waitFor(1);
    assert.equal(seen.data.length, 0);
    assert.equal(seen.request, "");
  });

  Deno.test(`serveTriggers() on ${transport.name}: waits up to pause for the NUL, then takes a request without one`, async () => {
    await using dir = await tempDir();
    const inbox = new Inbox();
    await using server = await transport.serve(dir.path, inbox.handler, { pause: 50 });
    using conn = await transport.connect(server);
    await conn.write(encoder.encode("DA"));
    const { end } = await within(readToEnd(conn), 5_000, "server close");
    assert.equal(end, "eof");
    const [seen] = await inbox.waitFor(1);
    assert.equal(seen.request, "DA");
    assert.deepEqual([...seen.data], [0x44, 0x41]);
  });

  Deno.test(`serveTriggers() on ${transport.name}: takes at most maxRequestBytes of a 1 MiB request and keeps serving`, async () => {
    await using dir = await tempDir();
    for (const maxRequestBytes of [undefined, 16]) {
      const inbox = new Inbox();
      await using server = await transport.serve(dir.path, inbox.handler, { maxRequestBytes });
      const limit = maxRequestBytes ?? 1024;
      {
        using conn = await transport.connect(server);
        const big = new Uint8Array(1 << 20).fill(0x41);
        // The server stops reading at its limit and closes: the rest of the write fails, as in Postfix.
        let written = 0;
        try {
          for (let i = 0; i < 10_000 && written < big.length; i++) written += await conn.write(big.subarray(written));
        } catch (error) {
          assert.ok(
            error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset,
            `${error}`,
          );
        }
      }
      const [seen] = await inbox.waitFor(1);
      assert.ok(seen.data.length <= limit, `${seen.data.length} bytes`);
      assert.equal(seen.data.length, limit);
      assert.ok(seen.data.every((byte) => byte === 0x41));
      await transport.trigger(server, "W");
      const after = await inbox.waitFor(2);
      assert.equal(after[1].request, "W");
      assert.equal(inbox.seen.length, 2, "the 1 MiB request was one trigger");
    }
  });

  Deno.test(`serveTriggers() on ${transport.name}: with maxConnections 2 serves 5 silent clients at most 2 at once, queueing the rest`, async () => {
    // Documented behaviour: beyond maxConnections the server stops accepting;
    // new connections wait in the kernel's listen queue (their connect succeeds
    // at once) and are served, oldest first, as slots free.
    await using dir = await tempDir();
    const readTimeout = 150;
    const handlerTime = 100;
    let active = 0;
    let maxActive = 0;
    const inbox = new Inbox();
    await using server = await transport.serve(dir.path, async (t: TriggerRequest) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await delay(handlerTime);
      active--;
      inbox.handler(t);
    }, { maxConnections: 2, readTimeout });
    const start = performance.now();
    const conns = await Promise.all(Array.from({ length: 5 }, () => transport.connect(server)));
    try {
      const connected = performance.now() - start;
      assert.ok(connected < 2_000, `all 5 connects took ${connected} ms`);
      const closes = await within(
        Promise.all(conns.map(async (conn) => {
          await readToEnd(conn);
          return performance.now() - start;
        })),
        10_000,
        "all clients closed",
      );
      closes.sort((a, b) => a - b);
      console.log(
        `${transport.name}: maxConnections 2, 5 silent clients closed at ${
          closes.map((ms) => ms.toFixed(0)).join(", ")
        } ms`,
      );
      // Two at a time: a third client is accepted only once a slot frees (after readTimeout + handler).
      assert.ok(closes[2] >= 2 * readTimeout, `third close at ${closes[2]} ms`);
      assert.ok(closes[4] >= 3 * readTimeout, `fifth close at ${closes[4]} ms`);
      const seen = await inbox.waitFor(5);
      assert.equal(seen.length, 5);
      assert.ok(seen.every((s) => s.data.length === 0));
      assert.ok(maxActive <= 2, `${maxActive} handlers at once`);
    } finally {
      for (const conn of conns) conn.close();
    }
  });

  Deno.test(`serveTriggers() on ${transport.name}: reports a handler's sync throw and async rejection to onError and keeps serving`, async () => {
    await using dir = await tempDir();
    const { errors, onError } = errorSink();
    const inbox = new Inbox();
    const thrown = new Error("sync failure");
    const rejected = new Error("async failure");
    await using server = await transport.serve(dir.path, async (t: TriggerRequest) => {
      const request = decoder.decode(t.request);
      if (request === "sync") throw thrown;
      if (request === "async") {
        await delay(1);
        throw rejected;
      }
      inbox.handler(t);
    }, { onError });
    await transport.trigger(server, "sync");
    await transport.trigger(server, "async");
    await transport.trigger(server, "W");
    await inbox.waitFor(1);
    for (let i = 0; i < 500 && errors.length < 2; i++) await delay(10);
    assert.equal(errors.length, 2);
    assert.ok(errors.includes(thrown));
    assert.ok(errors.includes(rejected));
  });

  Deno.test(`serveTriggers() on ${transport.name}: times out a handler that never returns, aborts its signal and keeps serving`, async () => {
    await using dir = await tempDir();
    const { errors, onError } = errorSink();
    const inbox = new Inbox();
    const handlerTimeout = 200;
    let hungSignal: AbortSignal | undefined;
    await using server = await transport.serve(dir.path, (t: TriggerRequest) => {
      if (decoder.decode(t.request) === "hang") {
        hungSignal = t.signal;
        return new Promise<void>(() => {});
      }
      return inbox.handler(t);
    }, { onError, handlerTimeout });
    const start = performance.now();
    await transport.trigger(server, "hang");
    for (let i = 0; i < 500 && errors.length < 1; i++) await delay(10);
    const took = performance.now() - start;
    assert.equal(errors.length, 1);
    const error = errors[0] as DOMException;
    assert.equal(error.name, "TimeoutError");
    assert.ok(error.message.includes(server.endpoint), error.message);
    assert.ok(took >= handlerTimeout - 1 && took < handlerTimeout + 2_000, `reported after ${took} ms`);
    assert.ok(hungSignal?.aborted, "the handler's signal is aborted");
    assert.equal(hungSignal?.reason, error);
    for (const request of ["A", "B"]) await transport.trigger(server, request);
    const seen = await inbox.waitFor(2);
    assert.deepEqual(seen.map((s) => s.request), ["A", "B"]);
  });

  Deno.test(`serveTriggers() on ${transport.name}: close() waits for running handlers, cuts silent connections, and finished resolves`, async () => {
    await using dir = await tempDir();
    const started = Promise.withResolvers<void>();
    let done = false;
    const inbox = new Inbox();
    const server = await transport.serve(dir.path, async (t: TriggerRequest) => {
      if (t.data.length === 0) return inbox.handler(t);
      started.resolve();
      await delay(300);
      done = true;
    });
    const path = transport.name === "unix" ? server.endpoint.slice("unix:".length) : undefined;
    if (path) assert.ok(await exists(path));
    await transport.trigger(server, "I");
    await within(started.promise, 5_000, "handler start");
    // A silent client: close() must not wait readTimeout (10 s) for it.
    using silent = await transport.connect(server);
    await delay(20);
    await within(server.close(), 5_000, "close");
    assert.equal(done, true, "close() waited for the running handler");
    await within(server.finished, 1_000, "finished");
    await within(server.close(), 1_000, "second close");
    assert.equal((await within(readToEnd(silent), 2_000, "silent client")).bytes, 0);
    assert.equal(inbox.seen.length, 0, "a silent connection cut by close() is not a trigger");
    if (path) {
      assert.equal(await exists(path), false, "the socket it created is removed");
      await assert.rejects(unixTrigger(path, "W"), Deno.errors.NotFound);
    } else {
      await assert.rejects(transport.trigger(server, "W"), Deno.errors.ConnectionRefused);
    }
  });

  Deno.test(`serveTriggers() on ${transport.name}: the signal option stops the server`, async () => {
    await using dir = await tempDir();
    const controller = new AbortController();
    const inbox = new Inbox();
    const server = await transport.serve(dir.path, inbox.handler, { signal: controller.signal });
    await transport.trigger(server, "W");
    await inbox.waitFor(1);
    controller.abort();
    await within(server.finished, 5_000, "finished");
    if (transport.name === "unix") assert.equal(existsNow(`${dir.path}/qmgr`), false);
    // Nothing listens any more: the socket is gone (NotFound), the port refuses.
    await assert.rejects(
      transport.trigger(server, "W"),
      transport.name === "unix" ? Deno.errors.NotFound : Deno.errors.ConnectionRefused,
    );
    await server.close();
  });
}

// ---------------------------------------------------------------------------
// FIFO specifics.

Deno.test("serveTriggers() on fifo: 100 back-to-back writes coalesce into fewer handler calls, every byte arrives", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  let calls = 0;
  let bytes = "";
  const arrived = Promise.withResolvers<void>();
  await using _server = await serveTriggers(`fifo:${path}`, ({ request }) => {
    calls++;
    bytes += decoder.decode(request);
    if (bytes.length >= 100) arrived.resolve();
  }, { onError: (error) => arrived.reject(error) });
  for (let i = 0; i < 100; i++) await fifoTrigger(path, "X");
  await within(arrived.promise, 5_000, "100 bytes");
  assert.equal(bytes, "X".repeat(100));
  assert.ok(calls < 100, `${calls} handler calls`);
  console.log(`fifo: 100 one-byte triggers arrived in ${calls} handler call(s)`);
});

Deno.test("serveTriggers() on fifo: times out a handler that never returns and serves the next triggers", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const { errors, onError } = errorSink();
  const inbox = new Inbox();
  let hungSignal: AbortSignal | undefined;
  await using server = await serveTriggers(`fifo:${path}`, (t) => {
    if (decoder.decode(t.request) === "H") {
      hungSignal = t.signal;
      return new Promise<void>(() => {});
    }
    return inbox.handler(t);
  }, { onError, handlerTimeout: 200 });
  await fifoTrigger(path, "H");
  for (let i = 0; i < 500 && errors.length < 1; i++) await delay(10);
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as DOMException).name, "TimeoutError");
  assert.ok((errors[0] as Error).message.includes(server.endpoint));
  assert.equal(hungSignal?.aborted, true);
  await fifoTrigger(path, "W");
  assert.equal((await inbox.waitFor(1))[0].request, "W");
});

Deno.test("serveTriggers() on fifo: reports a throwing handler to onError and keeps serving", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const { errors, onError } = errorSink();
  const inbox = new Inbox();
  const failure = new Error("handler failed");
  await using _server = await serveTriggers(`fifo:${path}`, (t) => {
    if (decoder.decode(t.request) === "T") throw failure;
    inbox.handler(t);
  }, { onError });
  await fifoTrigger(path, "T");
  for (let i = 0; i < 500 && errors.length < 1; i++) await delay(10);
  assert.deepEqual(errors, [failure]);
  await fifoTrigger(path, "W");
  assert.equal((await inbox.waitFor(1))[0].request, "W");
});

Deno.test("serveTriggers() on fifo: close() waits for the running handler, removes the FIFO, and finished resolves", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const started = Promise.withResolvers<void>();
  let done = false;
  const server = await serveTriggers(`fifo:${path}`, async () => {
    started.resolve();
    await delay(300);
    done = true;
  });
  await fifoTrigger(path, "I");
  await within(started.promise, 5_000, "handler start");
  await within(server.close(), 5_000, "close");
  assert.equal(done, true);
  await within(server.finished, 1_000, "finished");
  assert.equal(await exists(path), false, "the FIFO it created is removed");
  await assert.rejects(fifoTrigger(path, "W"), Deno.errors.NotFound);
});

Deno.test("serveTriggers() on fifo: the signal option stops the server and removes the FIFO", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const controller = new AbortController();
  const server = await serveTriggers(`fifo:${path}`, () => {}, { signal: controller.signal });
  controller.abort();
  await within(server.finished, 5_000, "finished");
  assert.equal(existsNow(path), false, "the FIFO is gone once finished resolves");
});

// ---------------------------------------------------------------------------
// The signal, around creation.

Deno.test("serveTriggers() rejects with signal.reason and creates nothing when the signal is already aborted", async () => {
  await using dir = await tempDir();
  const reason = new Error("not today");
  for (const endpoint of [`unix:${dir.path}/a`, `fifo:${dir.path}/b`, "inet:127.0.0.1:0"]) {
    await assert.rejects(
      serveTriggers(endpoint, () => {}, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("serveTriggers() stops at once when the signal aborts while the listener is being made", async () => {
  await using dir = await tempDir();
  for (const endpoint of [`unix:${dir.path}/a`, `fifo:${dir.path}/b`, "inet:127.0.0.1:0"]) {
    const controller = new AbortController();
    const starting = serveTriggers(endpoint, () => {}, { signal: controller.signal });
    controller.abort();
    const server = await starting;
    await within(server.finished, 2_000, `${endpoint} finished`);
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "what was created is removed");
});

// ---------------------------------------------------------------------------
// Listeners passed in.

Deno.test("serveTriggers() serves a Deno.listen() UNIX-domain listener passed in, and closes it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  const listener = Deno.listen({ transport: "unix", path });
  const inbox = new Inbox();
  const server = await serveTriggers(listener, inbox.handler);
  assert.equal(server.endpoint, `unix:${path}`);
  assert.equal(server.transport, "unix");
  await unixTrigger(path, "I", { timeout: 5_000 });
  const [seen] = await inbox.waitFor(1);
  assert.equal(seen.request, "I");
  assert.deepEqual([...seen.data], [0x49, 0]);
  await server.close();
  assert.equal(await exists(path), false);
  assert.throws(() => listener.close(), Deno.errors.BadResource, "the listener is closed");
});

Deno.test("serveTriggers() serves a Deno.listen() TCP listener passed in, and closes it", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const inbox = new Inbox();
  const server = await serveTriggers(listener, inbox.handler);
  assert.equal(server.endpoint, `inet:127.0.0.1:${listener.addr.port}`);
  assert.equal(server.transport, "inet");
  await inetTrigger(`127.0.0.1:${listener.addr.port}`, "W", { timeout: 5_000 });
  assert.equal((await inbox.waitFor(1))[0].request, "W");
  await server.close();
  assert.throws(() => listener.close(), Deno.errors.BadResource, "the listener is closed");
});

Deno.test("serveTriggers() serves a fifoListen() listener passed in, and closes it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const fifo = await fifoListen(path);
  const inbox = new Inbox();
  const server = await serveTriggers(fifo, inbox.handler);
  assert.equal(server.endpoint, `fifo:${path}`);
  assert.equal(server.transport, "fifo");
  await fifoTrigger(path, "D");
  assert.equal((await inbox.waitFor(1))[0].request, "D");
  await server.close();
  assert.equal(await exists(path), false, "the FIFO fifoListen() made is removed");
  assert.equal(await fifo.read(), null, "the listener is closed");
});

// ---------------------------------------------------------------------------
// Arguments.

Deno.test("serveTriggers() throws on bad arguments before creating anything", async () => {
  await using dir = await tempDir();
  const path = `unix:${dir.path}/qmgr`;
  const call = serveTriggers as (endpoint: unknown, handler: unknown, options?: unknown) => Promise<TriggerServer>;
  const handler = () => {};
  await assert.rejects(call(path, "not a function"), TypeError);
  await assert.rejects(call(path, handler, { maxRequestBytes: 0 }), RangeError);
  await assert.rejects(call(path, handler, { maxRequestBytes: 1.5 }), RangeError);
  await assert.rejects(call(path, handler, { maxRequestBytes: "1024" }), TypeError);
  await assert.rejects(call(path, handler, { maxConnections: 0 }), RangeError);
  await assert.rejects(call(path, handler, { readTimeout: -1 }), RangeError);
  await assert.rejects(call(path, handler, { handlerTimeout: NaN }), RangeError);
  await assert.rejects(call(path, handler, { pause: "100" }), TypeError);
  await assert.rejects(call(path, handler, { onError: 42 }), TypeError);
  await assert.rejects(call(path, handler, { signal: "stop" }), TypeError);
  await assert.rejects(call(path, handler, { mode: 0o10000 }), RangeError);
  await assert.rejects(call("tcp:x", handler), SyntaxError);
  await assert.rejects(call("inet:host:", handler), SyntaxError);
  await assert.rejects(call(42, handler), TypeError);
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("serveTriggers() refuses a path a live server owns with AddrInUse, leaving it serving", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  const inbox = new Inbox();
  await using _server = await serveTriggers(`unix:${path}`, inbox.handler);
  await assert.rejects(serveTriggers(`unix:${path}`, () => {}), Deno.errors.AddrInUse);
  // unixListen() found the server live by connecting to it: that probe reached the handler as an empty trigger.
  await unixTrigger(path, "W", { timeout: 5_000 });
  const seen = await inbox.waitFor(2);
  assert.deepEqual(seen.map((s) => s.request).sort(), ["", "W"]);
});

Deno.test("serveTriggers() with readTimeout Infinity keeps a silent connection open instead of closing it at once", async () => {
  const sink = errorSink();
  const received: string[] = [];
  await using server = await serveTriggers("inet:127.0.0.1:0", ({ request }) => {
    received.push(decoder.decode(request));
  }, { readTimeout: Infinity, pause: Infinity, onError: sink.onError });
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: portOf(server) });
  // setTimeout clamps an infinite delay to 1 ms; a timer armed that way would have closed this by now.
  await delay(100);
  await conn.write(encoder.encode("D\0"));
  const end = await within(readToEnd(conn), 5_000, "the server's close");
  assert.equal(end.bytes, 0);
  await server.close();
  assert.deepEqual(received, ["D"]);
  assert.deepEqual(sink.errors, []);
});
