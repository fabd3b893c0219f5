/**
 * Internal: the trigger server's per-connection read. Postfix's server does
 * one read of at most 1024 bytes; this one reads until the request's NUL,
 * end-of-file, the size limit, or a short pause after the first bytes, so a
 * client that writes the request and its NUL separately (Postfix's own) is
 * not closed on between its two writes.
 *
 * @module
 */
import { Deadline } from "../_deadline.ts";

/** Limits for one request. */
export interface ReadLimits {
  /** Milliseconds to wait for the first bytes. */
  readTimeout: number;
  /** Milliseconds to wait for more once some bytes have arrived without a NUL. */
  pause: number;
  /** Largest request taken; more is left unread. */
  maxRequestBytes: number;
}

/** What one connection sent, and how the read ended. */
export interface ReadOutcome {
  data: Uint8Array;
  /** Set when a read failed for a reason other than the limits (e.g. a reset). */
  error?: unknown;
  /** The server was closing and cut the read short. */
  cut: boolean;
}

/**
 * Reads one request from `conn` and closes it. `stop` registers a function
 * the server calls to cut the read short when it closes.
 */
export async function readRequest(
  conn: Deno.Conn,
  limits: ReadLimits,
  stop: Set<() => void>,
): Promise<ReadOutcome> {
  const buffer = new Uint8Array(limits.maxRequestBytes);
  let length = 0;
  let closed = false;
  let cut = false;
  let error: unknown;
  // Bounded wait: Deno reads take no signal, so the timer closes the socket.
  const close = () => {
    if (!closed) {
      closed = true;
      conn.close();
    }
  };
  const shutdown = () => {
    cut = true;
    close();
  };
  stop.add(shutdown);
  // A deadline can pass in the same turn as bytes that arrived in time, when
  // the process was busy: close two turns later, so that at least one full
  // poll for I/O comes between (the kernel may tell a socket is readable
  // only at the poll after the bytes came), and pending reads are delivered
  // first (a read that completes meanwhile replaces the deadline).
  let late: ReturnType<typeof setTimeout> | undefined;
  const expire = () => {
    late = setTimeout(() => late = setTimeout(close, 0), 0);
  };
  let deadline = new Deadline("read", limits.readTimeout);
  deadline.onExpire(expire);
  try {
    while (length < buffer.length) {
      // The first read takes the whole buffer: no view to make.
      const n = await conn.read(length === 0 ? buffer : buffer.subarray(length));
      if (n === null) break;
      length += n;
      if (buffer[length - 1] === 0) break;
      clearTimeout(late);
      deadline[Symbol.dispose]();
      deadline = new Deadline("read", limits.pause);
      deadline.onExpire(expire);
    }
  } catch (cause) {
    // A read ended by our own deadline or shutdown is the limit working, not an error.
    if (!closed) error = cause;
  } finally {
    deadline[Symbol.dispose]();
    clearTimeout(late);
    stop.delete(shutdown);
    close();
  }
  return { data: buffer.subarray(0, length), error, cut };
}
