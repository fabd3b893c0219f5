/**
 * timedRead() on real loopback TCP and UNIX-domain connections: a timeout
 * or an abort leaves the connection usable and loses nothing; calls are
 * served in call order; end-of-file, a close while waiting, bad input.
 */
import assert from "node:assert/strict";
import { timedRead } from "../../io/mod.ts";
import { delay, mkfifo, tempDir, within } from "../_util.ts";
import { bytes, pair, text, TRANSPORTS } from "./_pair.ts";

/** A generous bound for "settles": the machine is shared and noisy. */
const SETTLE_MS = 5_000;

/** A connection that counts the reads it is asked for: proves that a call did no I/O. */
function counting(conn: Deno.Conn): { reads: number; read(b: Uint8Array): Promise<number | null>; close(): void } {
  const counted = {
    reads: 0,
    read(buffer: Uint8Array): Promise<number | null> {
      counted.reads++;
      return conn.read(buffer);
    },
    close: () => conn.close(),
  };
  return counted;
}

function isTimeout(ms: number) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof DOMException, `expected a DOMException, got ${error}`);
    assert.equal(error.name, "TimeoutError");
    assert.match(error.message, new RegExp(`timedRead: timed out after ${ms} ms`));
    return true;
  };
}

for (const transport of TRANSPORTS) {
  Deno.test(`timedRead() on a silent peer settles at its timeout, and what the peer sends later arrives intact (${transport})`, async () => {
    await using p = await pair(transport);
    const buffer = new Uint8Array(64);
    const started = performance.now();
    await within(assert.rejects(timedRead(p.conn, buffer, { timeout: 200 }), isTimeout(200)), SETTLE_MS, "timedRead");
    const elapsed = performance.now() - started;
    // Not early; the upper bound is generous (shared, noisy machine).
    assert.ok(elapsed >= 195, `settled early: ${elapsed} ms`);
    assert.ok(elapsed < 1_200, `settled late: ${elapsed} ms`);
    // Nothing was written to the caller's buffer by the read still in flight.
    assert.deepEqual(buffer, new Uint8Array(64));

    await p.peer.write(bytes("250 late but intact\r\n"));
    const n = await timedRead(p.conn, buffer, { timeout: SETTLE_MS });
    assert.equal(text(buffer, n), "250 late but intact\r\n");
  });

  Deno.test(`timedRead() aborted mid-read rejects with signal.reason and loses nothing (${transport})`, async () => {
    await using p = await pair(transport);
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const buffer = new Uint8Array(64);
    const reading = timedRead(p.conn, buffer, { signal: controller.signal });
    await delay(20);
    controller.abort(reason);
    await within(assert.rejects(reading, (error) => error === reason), SETTLE_MS, "timedRead");

    await p.peer.write(bytes("after the abort"));
    const n = await timedRead(p.conn, buffer, { timeout: SETTLE_MS });
    assert.equal(text(buffer, n), "after the abort");
  });

  Deno.test(`timedRead() with an already-aborted signal or timeout 0 rejects before any read and consumes nothing (${transport})`, async () => {
    await using p = await pair(transport);
    const conn = counting(p.conn);
    await p.peer.write(bytes("waiting"));
    const reason = new Error("already aborted");
    await assert.rejects(
      timedRead(conn, new Uint8Array(64), { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    await assert.rejects(
      timedRead(conn, new Uint8Array(64), { timeout: 10_000, signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    await assert.rejects(timedRead(conn, new Uint8Array(64), { timeout: 0 }), isTimeout(0));
    assert.equal(conn.reads, 0, "a read was started");

    const buffer = new Uint8Array(4);
    assert.equal(text(buffer, await timedRead(conn, buffer, { timeout: SETTLE_MS })), "wait");
    // Received and not yet handed out: an aborted signal still takes none of it.
    await assert.rejects(timedRead(conn, buffer, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
    assert.equal(text(buffer, await timedRead(conn, buffer, { timeout: SETTLE_MS })), "ing");
    assert.equal(conn.reads, 1);
  });

  Deno.test(`timedRead() with timeout 0 hands out what a timed-out read received since (${transport})`, async () => {
    await using p = await pair(transport);
    const buffer = new Uint8Array(64);
    await assert.rejects(timedRead(p.conn, buffer, { timeout: 30 }), isTimeout(30));
    await p.peer.write(bytes("kept"));
    // Wait (bounded) until the read in flight has it: readWait is the tool, but this test is about timedRead alone.
    let n: number | null = null;
    for (let i = 0; i < 200 && n === null; i++) {
      n = await timedRead(p.conn, buffer, { timeout: 0 }).catch((error) => {
        isTimeout(0)(error);
        return delay(10).then(() => null);
      });
    }
    assert.equal(text(buffer, n), "kept");
  });

  Deno.test(`timedRead() returns null at end-of-file, also when a timed-out read saw it (${transport})`, async () => {
    await using p = await pair(transport);
    const buffer = new Uint8Array(64);
    await p.peer.write(bytes("last words"));
    assert.equal(text(buffer, await timedRead(p.conn, buffer, { timeout: SETTLE_MS })), "last words");
    await assert.rejects(timedRead(p.conn, buffer, { timeout: 30 }), isTimeout(30));
    p.peer.close();
    assert.equal(await timedRead(p.conn, buffer, { timeout: SETTLE_MS }), null);
    // End-of-file stays end-of-file.
    assert.equal(await timedRead(p.conn, buffer, { timeout: SETTLE_MS }), null);
  });

  Deno.test(`timedRead() settles at once when the connection is closed while it waits (${transport})`, async () => {
    await using p = await pair(transport);
    const buffer = new Uint8Array(64);
    const reading = timedRead(p.conn, buffer, { timeout: 60_000 });
    const behind = timedRead(p.conn, buffer, { timeout: 60_000 });
    await delay(20);
    const started = performance.now();
    p.conn.close();
    const closed = (error: unknown) =>
      error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted;
    await within(assert.rejects(reading, closed), SETTLE_MS, "the pending timedRead");
    // The call queued behind it settles too: its read finds the connection closed.
    await within(assert.rejects(behind, closed), SETTLE_MS, "the queued timedRead");
    assert.ok(performance.now() - started < 1_000, `took ${performance.now() - started} ms`);
  });

  Deno.test(`timedRead() serves calls on one connection in call order (${transport})`, async () => {
    await using p = await pair(transport);
    const order: string[] = [];
    const one = (name: string, timeout: number) => {
      const buffer = new Uint8Array(1);
      return timedRead(p.conn, buffer, { timeout }).then((n) => {
        order.push(name);
        return text(buffer, n);
      });
    };
    // The first call times out; its read stays in flight and the others queue behind it.
    const first = one("first", 30);
    const calls = [one("a", SETTLE_MS), one("b", SETTLE_MS), one("c", SETTLE_MS)];
    await assert.rejects(first, isTimeout(30));
    await p.peer.write(bytes("xy"));
    await delay(20);
    await p.peer.write(bytes("z"));
    assert.deepEqual(await within(Promise.all(calls), SETTLE_MS, "the queued calls"), ["x", "y", "z"]);
    assert.deepEqual(order, ["a", "b", "c"]);
  });

  Deno.test(`timedRead() into a small buffer after a timed-out larger read hands the rest out on the following calls (${transport})`, async () => {
    await using p = await pair(transport);
    await assert.rejects(timedRead(p.conn, new Uint8Array(65536), { timeout: 30 }), isTimeout(30));
    const sent = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) % 251);
    await p.peer.write(sent);
    const got: number[] = [];
    const small = new Uint8Array(7);
    for (let i = 0; i < 1000 && got.length < sent.length; i++) {
      const n = await timedRead(p.conn, small, { timeout: SETTLE_MS });
      assert.ok(n !== null && n > 0 && n <= small.length, `read ${n}`);
      got.push(...small.subarray(0, n));
    }
    assert.deepEqual(Uint8Array.from(got), sent);
  });
}

Deno.test("timedRead() on a FIFO opened with Deno.open: a timed-out read is kept, and a close settles it", async () => {
  await using dir = await tempDir("postnet-io-");
  const path = `${dir.path}/fifo`;
  await mkfifo(path, 0o600);
  // Opened read-write: the open does not wait for a writer, and the FIFO never reports end-of-file.
  using fifo = await Deno.open(path, { read: true, write: true });
  // A separate writer: Deno runs one op at a time on a file, so a write on `fifo` would wait behind its read.
  using writer = await Deno.open(path, { write: true });
  const buffer = new Uint8Array(64);
  await assert.rejects(timedRead(fifo, buffer, { timeout: 50 }), isTimeout(50));
  await writer.write(bytes("W"));
  assert.equal(text(buffer, await timedRead(fifo, buffer, { timeout: SETTLE_MS })), "W");
  // Another read is kept in flight, and a call waits on it; closing the FIFO ends both (Deno 2.9.6
  // interrupts the read), so no op is left behind.
  await assert.rejects(timedRead(fifo, buffer, { timeout: 50 }), isTimeout(50));
  const waiting = timedRead(fifo, buffer, { timeout: 60_000 });
  await delay(20);
  fifo.close();
  await within(
    assert.rejects(
      waiting,
      (error) => error instanceof Deno.errors.Interrupted || error instanceof Deno.errors.BadResource,
    ),
    SETTLE_MS,
    "the pending timedRead on the FIFO",
  );
});

Deno.test("timedRead() rejects bad input with TypeError or RangeError before any I/O", async () => {
  await using p = await pair("tcp");
  const conn = counting(p.conn);
  const buffer = new Uint8Array(8);
  const type: [string, () => Promise<unknown>, RegExp][] = [
    [
      "null conn",
      () => timedRead(null as never, buffer, { timeout: 10 }),
      /conn must have a read\(\) method, got null/,
    ],
    ["conn without read", () => timedRead({ close() {} } as never, buffer, { timeout: 10 }), /read\(\) method/],
    ["conn whose read is not a function", () => timedRead({ read: 1 } as never, buffer, { timeout: 10 }), /read\(\)/],
    ["string buffer", () => timedRead(conn, "abc" as never, { timeout: 10 }), /buffer must be a Uint8Array/],
    ["ArrayBuffer", () => timedRead(conn, new ArrayBuffer(8) as never, { timeout: 10 }), /buffer must be a Uint8Array/],
    ["no options", () => timedRead(conn, buffer, undefined as never), /needs a bound/],
    ["empty options", () => timedRead(conn, buffer, {}), /needs a bound/],
    ["non-AbortSignal signal", () => timedRead(conn, buffer, { signal: {} as never }), /signal must be an AbortSignal/],
    [
      "unknown option",
      () => timedRead(conn, buffer, { timeout: 10, deadline: 5 } as never),
      /unknown option "deadline"/,
    ],
    ["null options", () => timedRead(conn, buffer, null as never), /options must be an object/],
    ["string timeout", () => timedRead(conn, buffer, { timeout: "10" as never }), /timeout must be a number/],
  ];
  for (const [what, call, text] of type) {
    await assert.rejects(call(), (error) => error instanceof TypeError && text.test(error.message), what);
  }
  for (const timeout of [-1, NaN]) {
    await assert.rejects(
      timedRead(conn, buffer, { timeout }),
      (error) => error instanceof RangeError && /non-negative/.test(error.message),
      String(timeout),
    );
  }
  assert.equal(conn.reads, 0, "bad input started a read");
});
