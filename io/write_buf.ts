/**
 * Writes a whole buffer with a deadline.
 *
 * @module
 */
import type { Deadline } from "../_deadline.ts";
import { bound, checkConn, type WritableConn, writeAll } from "./_timed.ts";

export type { WritableConn } from "./_timed.ts";

/** Options for {@linkcode writeBuf}: at least one of them. */
export interface WriteBufOptions {
  /** Milliseconds the whole write may take. `Infinity` waits for `signal` alone; 0 gives up at once. */
  timeout?: number;
  /** Aborts the write (and closes the connection); the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Writes ALL of `bytes` to `conn`, in as many writes as it takes, within
 * `timeout` milliseconds and until `signal` aborts.
 *
 * **On timeout or abort the connection is closed**: a write in flight
 * cannot be cancelled in Deno, and a stream cut in the middle of a record
 * is unusable anyway. The promise then rejects with a `TimeoutError` or
 * `signal.reason`. A peer that stops reading therefore costs at most the
 * timeout. A signal that has aborted already, or a timeout of 0, writes
 * nothing and leaves the connection open. Needs no permission beyond the
 * connection's own.
 *
 * @param conn The connection to write to.
 * @param bytes What to write, all of it.
 * @param options A timeout, a signal, or both: a bound is required.
 * @throws {TypeError} when `conn` cannot write, `bytes` is not a Uint8Array, or no bound is given.
 * @throws {RangeError} when the timeout is negative or NaN.
 * @throws {DOMException} `TimeoutError` when `timeout` passes first; the connection is closed.
 * @throws {unknown} `signal.reason` when `signal` aborts; the connection is closed.
 * @throws {Deno.errors.BrokenPipe} or another `Deno.errors` class when the write fails.
 * @see Port of Postfix write_buf(3).
 *
 * @example Send a command and read the reply, all within one deadline
 * ```ts
 * import assert from "node:assert/strict";
 * import { timedRead, writeBuf } from "@postnet/net/io";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using peer = await listener.accept();
 * const signal = AbortSignal.timeout(10_000);
 * await writeBuf(conn, new TextEncoder().encode("NOOP\r\n"), { signal });
 * const buffer = new Uint8Array(64);
 * const n = await timedRead(peer, buffer, { signal });
 * assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "NOOP\r\n");
 * ```
 */
export function writeBuf(conn: WritableConn, bytes: Uint8Array, options: WriteBufOptions): Promise<void> {
  let deadline: Deadline;
  try {
    // Sanity check: everything the caller gave, before any I/O.
    checkConn(conn, "write");
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`bytes must be a Uint8Array, got ${typeof bytes}`);
    deadline = bound("writeBuf", options);
  } catch (error) {
    return Promise.reject(error);
  }
  // The write owns the deadline, and releases it when it ends.
  return writeAll(conn, bytes, deadline, undefined, true);
}
