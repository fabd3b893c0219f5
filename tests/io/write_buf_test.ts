/**
 * writeBuf() on real loopback TCP and UNIX-domain connections and a FIFO:
 * everything arrives, in order; a peer that stops reading costs the
 * timeout and the connection is closed; bad input is refused before any
 * I/O.
 */
import assert from "node:assert/strict";
import { timedRead, writeBuf } from "../../io/mod.ts";
import { delay, mkfifo, tempDir, within } from "../_util.ts";
import { bytes, pair, text, TRANSPORTS } from "./_pair.ts";

const SETTLE_MS = 5_000;
const MIB = 1024 * 1024;

/** Reads `length` bytes from `conn` (bounded: each read waits at most SETTLE_MS). */
async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const got = new Uint8Array(length);
  let at = 0;
  for (let i = 0; i < 100_000 && at < length; i++) {
    const n = await timedRead(conn, got.subarray(at), { timeout: SETTLE_MS });
    if (n === null) break;
    at += n;
  }
  return got.subarray(0, at);
}

/** A buffer of `length` bytes that is not periodic in any small power of two. */
function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0x2545f491;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

for (const transport of TRANSPORTS) {
  Deno.test(`writeBuf() writes several MiB intact while the peer reads concurrently (${transport})`, async () => {
    await using p = await pair(transport);
    const sent = pattern(6 * MIB);
    const [, got] = await within(
      Promise.all([writeBuf(p.conn, sent, { timeout: 20_000 }), readExactly(p.peer, sent.length)]),
      30_000,
      "writeBuf and the reader",
    );
    assert.equal(got.length, sent.length);
    assert.ok(got.every((byte, i) => byte === sent[i]), "the bytes differ");
    // The connection stays open and usable after a whole write.
    await writeBuf(p.conn, bytes("QUIT\r\n"), { timeout: SETTLE_MS });
    const buffer = new Uint8Array(16);
    assert.equal(text(buffer, await timedRead(p.peer, buffer, { timeout: SETTLE_MS })), "QUIT\r\n");
  });

  Deno.test(`writeBuf() to a peer that never reads settles at its timeout and closes the connection (${transport})`, async () => {
    await using p = await pair(transport);
    // More than the socket buffers of both ends hold.
    const started = performance.now();
    await within(
      assert.rejects(writeBuf(p.conn, pattern(32 * MIB), { timeout: 300 }), (error) => {
        assert.ok(error instanceof DOMException && error.name === "TimeoutError", String(error));
        assert.match(error.message, /writeBuf: timed out after 300 ms/);
        return true;
      }),
      SETTLE_MS,
      "writeBuf",
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 295, `settled early: ${elapsed} ms`);
    assert.ok(elapsed < 1_300, `settled late: ${elapsed} ms`);
    // Closed: a later write throws BadResource.
    await assert.rejects(p.conn.write(bytes("more")), Deno.errors.BadResource);
    await assert.rejects(writeBuf(p.conn, bytes("more"), { timeout: SETTLE_MS }), Deno.errors.BadResource);
  });

  Deno.test(`writeBuf() aborted mid-write rejects with signal.reason and closes the connection (${transport})`, async () => {
    await using p = await pair(transport);
    const controller = new AbortController();
    const reason = new Error("shutting down");
    const writing = writeBuf(p.conn, pattern(32 * MIB), { signal: controller.signal });
    await delay(50);
    controller.abort(reason);
    await within(assert.rejects(writing, (e) => e === reason), SETTLE_MS, "writeBuf");
    await assert.rejects(p.conn.write(bytes("more")), Deno.errors.BadResource);
  });

  Deno.test(`writeBuf() with an already-aborted signal or timeout 0 writes nothing and leaves the connection open (${transport})`, async () => {
    await using p = await pair(transport);
    const reason = new Error("too late");
    await assert.rejects(writeBuf(p.conn, bytes("never"), { signal: AbortSignal.abort(reason) }), (e) => e === reason);
    await assert.rejects(writeBuf(p.conn, bytes("never"), { timeout: 0 }), { name: "TimeoutError" });
    // No byte went out, so the stream is intact and the connection was left open.
    await writeBuf(p.conn, bytes("first"), { timeout: SETTLE_MS });
    const buffer = new Uint8Array(16);
    assert.equal(text(buffer, await timedRead(p.peer, buffer, { timeout: SETTLE_MS })), "first");
  });
}

Deno.test("writeBuf() and timedRead() work on a FIFO opened with Deno.open", async () => {
  await using dir = await tempDir("postnet-io-");
  const path = `${dir.path}/fifo`;
  await mkfifo(path, 0o600);
  // Read side opened read-write: the open never blocks, and the FIFO never reports end-of-file.
  using reader = await Deno.open(path, { read: true, write: true });
  using writer = await Deno.open(path, { write: true });
  const buffer = new Uint8Array(64);
  // A read that times out stays in flight. Deno cannot cancel a FIFO read (a close does not end it), so the
  // test must end with no read pending: the bytes it waits for are written below, before anything is closed.
  await assert.rejects(timedRead(reader, buffer, { timeout: 50 }), { name: "TimeoutError" });
  await writeBuf(writer, bytes("kick"), { timeout: SETTLE_MS });
  assert.equal(
    text(buffer, await within(timedRead(reader, buffer, { timeout: SETTLE_MS }), SETTLE_MS, "read")),
    "kick",
  );

  // A larger write, in as many writes as the pipe takes, read back concurrently.
  const sent = pattern(256 * 1024);
  const got = new Uint8Array(sent.length);
  const reading = (async () => {
    let at = 0;
    for (let i = 0; i < 10_000 && at < sent.length; i++) {
      at += (await timedRead(reader, got.subarray(at), { timeout: SETTLE_MS }))!;
    }
    return at;
  })();
  await within(writeBuf(writer, sent, { timeout: SETTLE_MS }), SETTLE_MS * 2, "writeBuf");
  assert.equal(await within(reading, SETTLE_MS * 2, "reading"), sent.length);
  assert.deepEqual(got, sent);
});

Deno.test("writeBuf() rejects bad input with TypeError or RangeError before any I/O", async () => {
  await using p = await pair("tcp");
  let writes = 0;
  const conn = {
    write: (b: Uint8Array) => (writes++, p.conn.write(b)),
    close: () => p.conn.close(),
  };
  const data = bytes("x");
  const type: [string, () => Promise<unknown>, RegExp][] = [
    ["null conn", () => writeBuf(null as never, data, { timeout: 10 }), /conn must have a write\(\) method, got null/],
    ["conn without write", () => writeBuf({ read() {} } as never, data, { timeout: 10 }), /write\(\) method/],
    ["string bytes", () => writeBuf(conn, "x" as never, { timeout: 10 }), /bytes must be a Uint8Array/],
    ["number array", () => writeBuf(conn, [120] as never, { timeout: 10 }), /bytes must be a Uint8Array/],
    ["no options", () => writeBuf(conn, data, undefined as never), /writeBuf needs a bound/],
    ["empty options", () => writeBuf(conn, data, {}), /needs a bound/],
    ["non-AbortSignal signal", () => writeBuf(conn, data, { signal: new AbortController() as never }), /AbortSignal/],
    ["unknown option", () => writeBuf(conn, data, { timeout: 10, retries: 2 } as never), /unknown option "retries"/],
    ["string timeout", () => writeBuf(conn, data, { timeout: "10" as never }), /timeout must be a number/],
  ];
  for (const [what, call, message] of type) {
    await assert.rejects(call(), (error) => error instanceof TypeError && message.test(error.message), what);
  }
  for (const timeout of [-1, NaN]) {
    await assert.rejects(writeBuf(conn, data, { timeout }), RangeError, String(timeout));
  }
  assert.equal(writes, 0, "bad input started a write");
});
