/**
 * readWait() on real loopback TCP and UNIX-domain connections: it waits
 * for data or end-of-file without consuming anything, and times out,
 * aborts and refuses bad input as timedRead() does.
 */
import assert from "node:assert/strict";
import { readWait, timedRead } from "../../io/mod.ts";
import { delay, within } from "../_util.ts";
import { bytes, pair, text, TRANSPORTS } from "./_pair.ts";

const SETTLE_MS = 5_000;

for (const transport of TRANSPORTS) {
  Deno.test(`readWait() resolves when data is waiting and consumes none of it (${transport})`, async () => {
    await using p = await pair(transport);
    await p.peer.write(bytes("220 ready\r\n"));
    await within(readWait(p.conn, { timeout: SETTLE_MS }), SETTLE_MS, "readWait");
    // Twice: the second wait sees the same bytes, still not consumed.
    await within(readWait(p.conn, { timeout: SETTLE_MS }), SETTLE_MS, "readWait");
    const buffer = new Uint8Array(64);
    assert.equal(text(buffer, await timedRead(p.conn, buffer, { timeout: SETTLE_MS })), "220 ready\r\n");
  });

  Deno.test(`readWait() with no data times out, and a later timedRead gets what arrives (${transport})`, async () => {
    await using p = await pair(transport);
    const started = performance.now();
    await within(
      assert.rejects(readWait(p.conn, { timeout: 150 }), (error) => {
        assert.ok(error instanceof DOMException && error.name === "TimeoutError", String(error));
        assert.match(error.message, /readWait: timed out after 150 ms/);
        return true;
      }),
      SETTLE_MS,
      "readWait",
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 145 && elapsed < 1_150, `settled after ${elapsed} ms`);
    await p.peer.write(bytes("EHLO"));
    const buffer = new Uint8Array(64);
    assert.equal(text(buffer, await timedRead(p.conn, buffer, { timeout: SETTLE_MS })), "EHLO");
  });

  Deno.test(`readWait() then timedRead(): the wait ends when data arrives, the read returns it (${transport})`, async () => {
    await using p = await pair(transport);
    const waiting = readWait(p.conn, { timeout: SETTLE_MS });
    await delay(20);
    await p.peer.write(bytes("late"));
    await within(waiting, SETTLE_MS, "readWait");
    const buffer = new Uint8Array(2);
    assert.equal(text(buffer, await timedRead(p.conn, buffer, { timeout: 0 })), "la");
    assert.equal(text(buffer, await timedRead(p.conn, buffer, { timeout: 0 })), "te");
  });

  Deno.test(`readWait() resolves at end-of-file; timedRead() then returns null (${transport})`, async () => {
    await using p = await pair(transport);
    const waiting = readWait(p.conn, { timeout: SETTLE_MS });
    p.peer.close();
    await within(waiting, SETTLE_MS, "readWait");
    assert.equal(await timedRead(p.conn, new Uint8Array(8), { timeout: SETTLE_MS }), null);
  });

  Deno.test(`readWait() aborted rejects with signal.reason; already aborted it starts nothing (${transport})`, async () => {
    await using p = await pair(transport);
    const reason = new Error("stop waiting");
    await assert.rejects(readWait(p.conn, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
    const controller = new AbortController();
    const waiting = readWait(p.conn, { signal: controller.signal, timeout: 60_000 });
    await delay(20);
    controller.abort(reason);
    await within(assert.rejects(waiting, (e) => e === reason), SETTLE_MS, "readWait");
    await p.peer.write(bytes("x"));
    const buffer = new Uint8Array(8);
    assert.equal(text(buffer, await timedRead(p.conn, buffer, { timeout: SETTLE_MS })), "x");
  });

  Deno.test(`readWait() settles when the connection is closed while it waits (${transport})`, async () => {
    await using p = await pair(transport);
    const waiting = readWait(p.conn, { timeout: 60_000 });
    await delay(20);
    p.conn.close();
    // The failed read counts as "something to read": the wait resolves and the next read throws its error.
    await within(waiting, SETTLE_MS, "readWait");
  });
}

Deno.test("readWait() rejects bad input with TypeError or RangeError before any I/O", async () => {
  await using p = await pair("tcp");
  let reads = 0;
  const conn = {
    read: (buffer: Uint8Array) => (reads++, p.conn.read(buffer)),
    close: () => p.conn.close(),
  };
  const type: [string, () => Promise<unknown>, RegExp][] = [
    ["undefined conn", () => readWait(undefined as never, { timeout: 10 }), /conn must have a read\(\) method/],
    ["conn without read", () => readWait({ write() {} } as never, { timeout: 10 }), /read\(\) method/],
    ["no options", () => readWait(conn, undefined as never), /readWait needs a bound/],
    ["empty options", () => readWait(conn, {}), /needs a bound/],
    ["non-AbortSignal signal", () => readWait(conn, { signal: "no" as never }), /signal must be an AbortSignal/],
    ["unknown option", () => readWait(conn, { timeout: 10, timout: 5 } as never), /unknown option "timout"/],
    ["string timeout", () => readWait(conn, { timeout: "1" as never }), /timeout must be a number/],
  ];
  for (const [what, call, message] of type) {
    await assert.rejects(call(), (error) => error instanceof TypeError && message.test(error.message), what);
  }
  for (const timeout of [-5, NaN]) {
    await assert.rejects(readWait(conn, { timeout }), RangeError, String(timeout));
  }
  assert.equal(reads, 0, "bad input started a read");
});
