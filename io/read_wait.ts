/**
 * Waits until a connection has something to read, with a deadline.
 *
 * @module
 */
import type { Deadline } from "../_deadline.ts";
import { bound, boundedRead, checkConn, type ReadableConn } from "./_timed.ts";

export type { ReadableConn } from "./_timed.ts";

/** Options for {@linkcode readWait}: at least one of them. */
export interface ReadWaitOptions {
  /** Milliseconds to wait. `Infinity` waits for `signal` alone; 0 gives up at once. */
  timeout?: number;
  /** Aborts the wait; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Resolves once data or end-of-file is waiting on `conn`, without consuming
 * it: the next {@linkcode timedRead} returns it. Waits at most `timeout`
 * milliseconds and until `signal` aborts; then it rejects, and the read it
 * started stays in flight for the next call, as with `timedRead`. A read
 * that fails also resolves the wait: the next `timedRead` throws its error.
 *
 * Deno has no readiness poll for a connection, so this starts a read into
 * a buffer the connection keeps and holds what it returns. Needs no
 * permission beyond the connection's own.
 *
 * @param conn The connection to wait on.
 * @param options A timeout, a signal, or both: a bound is required.
 * @throws {TypeError} when `conn` cannot read or no bound is given.
 * @throws {RangeError} when the timeout is negative or NaN.
 * @throws {DOMException} `TimeoutError` when `timeout` passes first.
 * @throws {unknown} `signal.reason` when `signal` aborts.
 * @see Port of Postfix read_wait(3).
 *
 * @example Wait for a greeting, then read it
 * ```ts
 * import assert from "node:assert/strict";
 * import { readWait, timedRead } from "@postnet/net/io";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using peer = await listener.accept();
 * await peer.write(new TextEncoder().encode("hello"));
 * await readWait(conn, { timeout: 5_000 });
 * const buffer = new Uint8Array(16);
 * assert.equal(await timedRead(conn, buffer, { timeout: 5_000 }), 5);
 * ```
 */
export function readWait(conn: ReadableConn, options: ReadWaitOptions): Promise<void> {
  let deadline: Deadline;
  try {
    // Sanity check: everything the caller gave, before any I/O.
    checkConn(conn, "read");
    deadline = bound("readWait", options);
  } catch (error) {
    return Promise.reject(error);
  }
  // The call owns the deadline, and releases it when it settles.
  return boundedRead(conn, undefined, deadline).then(() => undefined);
}
