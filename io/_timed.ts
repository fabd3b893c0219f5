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
 * The trigger client writes its request through {@linkcode writeAll}. Its
 * wait for the server's close, and the trigger server's read of a request,
 * end the connection either way: they close it when their deadline passes
 * rather than keep a read in flight, and so need none of the per-connection
 * state (a buffer, a turn queue) that {@linkcode boundedRead} keeps.
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
  /** Whether the connection's read is in flight (it may outlive the call that started it). */
  reading: boolean;
  /** Bytes read and not yet handed out (a view of `buffer`). */
  ready: Uint8Array | undefined;
  /** End-of-file read and not yet handed out. */
  eof: boolean;
  /** An error the read ended with, not yet handed out. */
  failed: { error: unknown } | undefined;
  /** Whether a call holds the turn. */
  busy: boolean;
  /** The call that holds the turn and waits for the read in flight. */
  current: Call | undefined;
  /** Calls waiting for the turn, in call order. */
  readonly waiting: Call[];
}

/** One timedRead or readWait call. */
interface Call {
  readonly into: Uint8Array | undefined;
  readonly deadline: Deadline;
  readonly resolve: (n: number | null) => void;
  readonly reject: (error: unknown) => void;
  /** Settled already (by its read, its deadline, or an error). */
  done: boolean;
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
 *
 * Calls on one connection take turns in call order. The hot path (no call
 * waiting, nothing kept from before) is one read into the connection's
 * buffer and one promise. `deadline` belongs to the call: it is disposed
 * when the call settles.
 */
export function boundedRead(
  conn: ReadableConn,
  into: Uint8Array | undefined,
  deadline: Deadline,
): Promise<number | null> {
  // A caller's signal aborted already: no turn, no read (timeout 0 still takes what an earlier read received).
  if (deadline.aborted && !deadline.timedOut) {
    deadline[Symbol.dispose]();
    return Promise.reject(deadline.reason);
  }
  let state = STATES.get(conn);
  if (state === undefined) {
    state = {
      buffer: new Uint8Array(0),
      reading: false,
      ready: undefined,
      eof: false,
      failed: undefined,
      busy: false,
      current: undefined,
      waiting: [],
    };
    STATES.set(conn, state);
  }
  const held = state;
  return new Promise<number | null>((resolve, reject) => {
    const call: Call = { into, deadline, resolve, reject, done: false };
    if (!held.busy) return take(conn, held, call);
    // Another call holds the turn: wait for it, until the deadline.
    held.waiting.push(call);
    deadline.onExpire(() => settle(call, undefined, deadline.reason));
  });
}

/** Gives `call` the turn: hands out what is kept, or waits for the read in flight (starting one if none). */
function take(conn: ReadableConn, state: ReadState, call: Call): void {
  state.busy = true;
  if (state.ready !== undefined || state.eof || state.failed !== undefined) return finish(conn, state, call);
  // A deadline passed already starts no read.
  if (call.deadline.aborted) {
    settle(call, undefined, call.deadline.reason);
    return release(conn, state);
  }
  state.current = call;
  if (!state.reading) startRead(conn, state, call.into?.length ?? 0);
  call.deadline.onExpire(() => {
    // The read stays in flight; what it returns is kept for the next call.
    if (state.current === call) state.current = undefined;
    if (settle(call, undefined, call.deadline.reason)) release(conn, state);
  });
}

/** Starts the connection's own read; its outcome is kept for whoever holds the turn, or comes next. */
function startRead(conn: ReadableConn, state: ReadState, size: number): void {
  if (state.buffer.length < size || state.buffer.length === 0) state.buffer = new Uint8Array(Math.max(size, 4096));
  state.reading = true;
  conn.read(state.buffer).then((n) => {
    if (n === null) state.eof = true;
    else state.ready = state.buffer.subarray(0, n);
    readDone(conn, state);
  }, (error) => {
    state.failed = { error };
    readDone(conn, state);
  });
}

/** The connection's read settled: its outcome goes to the call holding the turn, if one still waits. */
function readDone(conn: ReadableConn, state: ReadState): void {
  state.reading = false;
  const call = state.current;
  state.current = undefined;
  if (call !== undefined && !call.done) finish(conn, state, call);
}

/** Settles `call` with what is kept (a read hands it out; a wait leaves it), then passes the turn on. */
function finish(conn: ReadableConn, state: ReadState, call: Call): void {
  let value: number | null = 0;
  let error: unknown;
  let failed = false;
  if (call.into !== undefined) {
    try {
      value = handOut(state, call.into);
    } catch (cause) {
      failed = true;
      error = cause;
    }
  }
  if (failed) settle(call, undefined, error);
  else settle(call, value);
  release(conn, state);
}

/** Settles `call` once; returns whether this did. */
function settle(call: Call, value: number | null | undefined, error?: unknown): boolean {
  if (call.done) return false;
  call.done = true;
  // The deadline was made for this call alone: release it with the call.
  call.deadline[Symbol.dispose]();
  if (value === undefined) call.reject(error);
  else call.resolve(value);
  return true;
}

/** Passes the turn to the next waiting call that has not given up. */
function release(conn: ReadableConn, state: ReadState): void {
  state.busy = false;
  for (let next = state.waiting.shift(); next !== undefined; next = state.waiting.shift()) {
    if (next.done) continue;
    next.deadline.onExpire(undefined);
    return take(conn, state, next);
  }
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

/** How far a {@linkcode writeAll} got: bytes written, and whether the deadline closed the connection. */
export interface WriteProgress {
  written: number;
  closed: boolean;
}

/**
 * Writes all of `bytes` to `conn` until `deadline`; when the deadline
 * passes first, closes `conn` (the write in flight cannot be stopped) and
 * rejects with the deadline's reason. `progress` tells the caller how far
 * it got, on failure too. With `owned`, the deadline is disposed at the end.
 */
export async function writeAll(
  conn: WritableConn,
  bytes: Uint8Array,
  deadline: Deadline,
  progress: WriteProgress = { written: 0, closed: false },
  owned = false,
): Promise<void> {
  try {
    deadline.throwIfAborted();
    deadline.onExpire(() => {
      progress.closed = true;
      conn.close();
    });
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
    // An owned deadline (made for this write alone) is released when the write ends.
    if (owned) deadline[Symbol.dispose]();
  }
}
