/**
 * Internal: the one implementation of postnet's bounded reads and writes.
 *
 * Deno cannot cancel a pending `read()`. A read that outlives its deadline
 * is therefore kept in flight, reading into a buffer of the connection's
 * own, and what it returns (bytes, end-of-file or an error) is handed to the
 * next read on that connection, first. Reads on one connection take turns,
 * in call order. A write cannot be cancelled either, and a stream cut in the
 * middle of a record is useless: a write that outlives its deadline closes
 * the connection.
 *
 * @module
 */
import { checkSignal, checkTimeout, Deadline } from "../_deadline.ts";
import { checkOptions } from "../_options.ts";

/** What {@linkcode timedRead} and {@linkcode readWait} read from: a `Deno.Conn`, a `Deno.FsFile`, ... */
export interface ReadableConn {
  /** Reads into `buffer`: the count of bytes read, or null at end-of-file. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Closes the connection; a pending read then settles. */
  close(): void;
}

/** What {@linkcode writeBuf} writes to: a `Deno.Conn`, a `Deno.FsFile`, ... */
export interface WritableConn {
  /** Writes some of `bytes`; resolves to how many. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes the connection; a pending write then settles. */
  close(): void;
}

/** The bound every timed I/O call takes. */
export interface TimedOptions {
  /** Milliseconds the call may wait; `Infinity` waits for `signal` alone, 0 gives up at once. */
  timeout?: number;
  /** Aborts the wait; the call rejects with `signal.reason`. */
  signal?: AbortSignal;
}

const KNOWN: ReadonlySet<string> = new Set(["timeout", "signal"]);

/**
 * Checks the bound of a timed I/O call and makes its deadline.
 *
 * @throws {TypeError} when neither `timeout` nor `signal` is given, or one has the wrong type.
 * @throws {RangeError} when the timeout is negative or NaN.
 */
export function bound(what: string, options: TimedOptions | undefined): Deadline {
  const checked = checkOptions(options, KNOWN);
  const timeout = checkTimeout("timeout", checked.timeout, Infinity);
  const signal = checkSignal(checked.signal);
  // Sanity check: every wait in postnet is bounded, and the caller says by how much.
  if (checked.timeout === undefined && signal === undefined) {
    throw new TypeError(`${what} needs a bound: give a timeout (milliseconds) or a signal, or both`);
  }
  return new Deadline(what, timeout, signal);
}

/** A connection's read side as the timed reads see it. */
interface ReadState {
  /** Where the connection's own reads go. */
  buffer: Uint8Array;
  /** The read still in flight after a deadline passed; settles into `ready`, `eof` or `error`. */
  inflight: Promise<void> | undefined;
  /** Bytes read and not yet handed out (a view of `buffer`). */
  ready: Uint8Array | undefined;
  /** End-of-file read and not yet handed out. */
  eof: boolean;
  /** An error the read in flight ended with, not yet handed out. */
  failed: { error: unknown } | undefined;
  /** Settles when the last call that took a turn is done. */
  turn: Promise<void> | undefined;
}

const STATES = new WeakMap<ReadableConn, ReadState>();

/** Checks a connection argument. */
export function checkConn(conn: unknown, method: "read" | "write"): void {
  if (typeof (conn as Record<string, unknown> | null)?.[method] !== "function") {
    throw new TypeError(`conn must have a ${method}() method, got ${conn === null ? "null" : typeof conn}`);
  }
}

/**
 * One bounded read into `into` (or, with `into` undefined, a wait until
 * a read would not block, consuming nothing). Resolves to what the read
 * gave; rejects with the deadline's reason, keeping the read in flight.
 */
export async function boundedRead(
  conn: ReadableConn,
  into: Uint8Array | undefined,
  deadline: Deadline,
): Promise<number | null> {
  // A caller's signal aborted already: no turn, no read (timeout 0 still takes what an earlier read received).
  if (deadline.aborted && !deadline.timedOut) throw deadline.reason;
  let state = STATES.get(conn);
  if (state === undefined) {
    state = {
      buffer: new Uint8Array(0),
      inflight: undefined,
      ready: undefined,
      eof: false,
      failed: undefined,
      turn: undefined,
    };
    STATES.set(conn, state);
  }
  // Take a turn: reads on one connection are served in call order.
  const previous = state.turn;
  const { promise: done, resolve: release } = Promise.withResolvers<void>();
  state.turn = done;
  try {
    if (previous !== undefined) await within(previous, deadline);
    if (state.inflight !== undefined) await within(state.inflight, deadline);
    if (state.ready === undefined && !state.eof && state.failed === undefined) {
      // A deadline passed already starts no read: within() would check it only after the read began.
      deadline.throwIfAborted();
      await within(startRead(conn, state, into?.length ?? 0), deadline);
    }
    return into === undefined ? 0 : handOut(state, into);
  } finally {
    // The next turn starts once this one and the one before it are done.
    const finish = () => {
      if (state.turn === done) state.turn = undefined;
      release();
    };
    if (previous === undefined) finish();
    else previous.then(finish);
  }
}

/** Starts the connection's own read; its outcome lands in the state, whether or not anyone still waits. */
function startRead(conn: ReadableConn, state: ReadState, size: number): Promise<void> {
  if (state.buffer.length < size || state.buffer.length === 0) state.buffer = new Uint8Array(Math.max(size, 4096));
  const inflight = conn.read(state.buffer).then((n) => {
    if (n === null) state.eof = true;
    else state.ready = state.buffer.subarray(0, n);
  }, (error) => {
    state.failed = { error };
  }).finally(() => {
    state.inflight = undefined;
  });
  state.inflight = inflight;
  return inflight;
}

/** Hands out what the connection's read gave: bytes (as many as fit), end-of-file, or its error. */
function handOut(state: ReadState, into: Uint8Array): number | null {
  if (state.failed !== undefined) {
    const { error } = state.failed;
    state.failed = undefined;
    throw error;
  }
  const ready = state.ready;
  if (ready === undefined) {
    state.eof = false;
    return null;
  }
  const n = Math.min(ready.length, into.length);
  into.set(n === ready.length ? ready : ready.subarray(0, n));
  state.ready = n === ready.length ? undefined : ready.subarray(n);
  return n;
}

/** Waits for `promise` until `deadline`; the promise is left running either way. */
function within<T>(promise: Promise<T>, deadline: Deadline): Promise<T> {
  deadline.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    deadline.onExpire(() => reject(deadline.reason));
    // Release the deadline's one callback before the waiter goes on and sets its next.
    promise.then((value) => {
      deadline.onExpire(undefined);
      resolve(value);
    }, (error) => {
      deadline.onExpire(undefined);
      reject(error);
    });
  });
}

/** How far a {@linkcode writeAll} got: bytes written, and whether the deadline closed the connection. */
export interface WriteProgress {
  written: number;
  closed: boolean;
}

/**
 * Writes all of `bytes` to `conn` until `deadline`; when the deadline
 * passes first, closes `conn` (the write in flight cannot be stopped) and
 * rejects with the deadline's reason. `progress` tells the caller how far
 * it got, on failure too.
 */
export async function writeAll(
  conn: WritableConn,
  bytes: Uint8Array,
  deadline: Deadline,
  progress: WriteProgress = { written: 0, closed: false },
): Promise<void> {
  deadline.throwIfAborted();
  deadline.onExpire(() => {
    progress.closed = true;
    conn.close();
  });
  try {
    // The first write takes the whole buffer: no view to make.
    while (progress.written < bytes.length) {
      progress.written += await conn.write(progress.written === 0 ? bytes : bytes.subarray(progress.written));
    }
    // The deadline may pass in the turn the last write completes: the connection is closed then.
    if (progress.closed) throw deadline.reason;
  } catch (error) {
    if (progress.closed) throw deadline.reason;
    throw error;
  } finally {
    deadline.onExpire(undefined);
  }
}
