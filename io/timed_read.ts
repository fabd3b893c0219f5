/**
 * One read with a deadline, that loses nothing when the deadline passes.
 *
 * @module
 */
import type { Deadline } from "../_deadline.ts";
import { bound, boundedRead, checkConn, type ReadableConn } from "./_timed.ts";

export type { ReadableConn } from "./_timed.ts";

/** Options for {@linkcode timedRead}: at least one of them. */
export interface TimedReadOptions {
  /**
   * Milliseconds to wait for data. `Infinity` waits for `signal` alone; 0
   * takes only what an earlier timed-out read already received, and
   * otherwise gives up at once.
   */
  timeout?: number;
  /** Aborts the wait; the promise rejects with `signal.reason`. Pass one signal to every call to bound a whole exchange. */
  signal?: AbortSignal;
}

/**
 * Reads once from `conn` into `buffer`, as `conn.read(buffer)` does, but
 * waits at most `timeout` milliseconds and until `signal` aborts.
 *
 * When the wait ends first, the promise rejects and **the connection stays
 * open and usable**: the read already in flight is kept, and what it
 * returns (bytes, end-of-file, or an error) is what the next `timedRead()`
 * or {@linkcode readWait} on the same connection gets first. No byte is
 * lost, duplicated or reordered, whatever the pattern of timeouts. Calls on
 * one connection are served in call order. Closing the connection settles a
 * pending call at once (with the error the read gives, `BadResource` or
 * `Interrupted`).
 *
 * The read goes to a buffer the connection keeps (so a read in flight never
 * writes to `buffer` after the call has returned) and is copied into
 * `buffer`. Works on `Deno.TcpConn`, `Deno.UnixConn`, a FIFO or pipe opened
 * with `Deno.open`, or anything with `read()` and `close()`. Needs no
 * permission beyond the connection's own.
 *
 * @param conn The connection to read from.
 * @param buffer Where the bytes go; at most `buffer.length` are read.
 * @param options A timeout, a signal, or both: a bound is required.
 * @returns The count of bytes read, or `null` at end-of-file.
 * @throws {TypeError} when `conn` cannot read, `buffer` is not a Uint8Array, or no bound is given.
 * @throws {RangeError} when the timeout is negative or NaN.
 * @throws {DOMException} `TimeoutError` when `timeout` passes first; nothing is lost.
 * @throws {unknown} `signal.reason` when `signal` aborts; nothing is lost.
 * @throws {Deno.errors.BadResource} when the connection is closed (as `conn.read` does).
 * @throws {Deno.errors.ConnectionReset} or another `Deno.errors` class when the read fails.
 * @see Port of Postfix timed_read(3).
 *
 * @example Read a reply, waiting at most 5 seconds
 * ```ts
 * import assert from "node:assert/strict";
 * import { timedRead } from "@postnet/net/io";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using peer = await listener.accept();
 * const buffer = new Uint8Array(64);
 * // Nothing was sent yet: a short wait times out, and the connection stays usable.
 * await assert.rejects(timedRead(conn, buffer, { timeout: 50 }), { name: "TimeoutError" });
 * await peer.write(new TextEncoder().encode("220 ready\r\n"));
 * const n = await timedRead(conn, buffer, { timeout: 5_000 });
 * assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "220 ready\r\n");
 * ```
 */
export function timedRead(
  conn: ReadableConn,
  buffer: Uint8Array,
  options: TimedReadOptions,
): Promise<number | null> {
  let deadline: Deadline;
  try {
    // Sanity check: everything the caller gave, before any I/O.
    checkConn(conn, "read");
    if (!(buffer instanceof Uint8Array)) throw new TypeError(`buffer must be a Uint8Array, got ${typeof buffer}`);
    deadline = bound("timedRead", options);
  } catch (error) {
    return Promise.reject(error);
  }
  // The call owns the deadline, and releases it when it settles.
  return boundedRead(conn, buffer, deadline);
}
