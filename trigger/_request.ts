/**
 * Internal: what every trigger client shares: the request check, the result
 * type, and the stream wire format (request and NUL in one write, then wait
 * for the peer to close).
 *
 * @module
 */
import type { Deadline } from "../_deadline.ts";
import { plainReason, withEndpoint } from "../_errors.ts";
import { Recent } from "../_recent.ts";
import { writeAll, type WriteProgress } from "../io/_timed.ts";

/** How a trigger travelled. */
export type TriggerTransport = "inet" | "unix" | "fifo";

/** How a trigger ended: see {@linkcode TriggerResult.outcome}. */
export type TriggerOutcome = "closed" | "written" | "reset" | "timeout";

/** What a trigger client reports once the trigger is delivered and its socket or file closed. */
export interface TriggerResult {
  /** The endpoint, with its transport prefix: `"unix:/var/spool/postfix/public/qmgr"`. */
  endpoint: string;
  /** The transport used. */
  transport: TriggerTransport;
  /** Bytes written: the request plus its NUL on a stream, the request alone on a FIFO. */
  bytes: number;
  /**
   * Whether the peer closed (or reset, or answered) before the timeout. Always
   * false for a FIFO, which has no reply.
   */
  peerClosed: boolean;
  /**
   * How the trigger ended, which tells a confirmed receipt from a doubtful one:
   * - `"closed"`: the server closed cleanly (or answered) after the whole
   *   request: it read it. A confirmed receipt.
   * - `"written"`: FIFO only: the request is in the FIFO, whole, and a
   *   process holds the FIFO open for reading. As confirmed as a FIFO gets.
   * - `"reset"`: the connection was reset or refused the rest of the
   *   request: dropped, typically unread (a listener that closed without
   *   accepting, or a server that took only part of a long request).
   * - `"timeout"`: written, but the server neither closed nor answered
   *   within the timeout; receipt unknown.
   */
  outcome: TriggerOutcome;
  /** Milliseconds from the call to the result. */
  elapsed: number;
}

/** The options inetTrigger and trigger take: any other is a mistake, reported before any I/O. */
export const INET_TRIGGER_OPTIONS: ReadonlySet<string> = new Set([
  "timeout",
  "signal",
  "protocols",
  "strategy",
  "attemptDelay",
  "attemptTimeout",
  "lookup",
]);

const encoder = new TextEncoder();

/* Where the wait for the close reads to: what arrives is never looked at,
 * so concurrent triggers share it instead of allocating one each. */
const SCRATCH = new Uint8Array(1);

/**
 * Checks a request and returns its bytes, with `extra` zero bytes (a NUL)
 * at the end. The bytes of a short string are shared between calls: read
 * them, never write to them.
 *
 * @throws {TypeError} when it is neither a string nor a Uint8Array.
 */
export function requestBytes(request: unknown, extra: 0 | 1 = 0): Uint8Array {
  if (typeof request === "string") {
    // Postfix's requests are one letter, sent again and again: encode each once.
    const made = ENCODED[extra];
    const bytes = made.get(request);
    if (bytes !== undefined) return bytes;
    const encoded = encode(request, extra);
    return request.length <= 16 ? made.remember(request, encoded) : encoded;
  }
  if (request instanceof Uint8Array) {
    if (extra === 0) return request;
    const bytes = new Uint8Array(request.length + extra);
    bytes.set(request);
    return bytes;
  }
  throw new TypeError(`request must be a string or a Uint8Array, got ${typeof request}`);
}

/* Short string requests already encoded, without and with the NUL; never
 * handed to a caller, and only ever read (written to a socket or a FIFO). */
const ENCODED = [new Recent<string, Uint8Array>(64), new Recent<string, Uint8Array>(64)];

/* UTF-8 bytes of `request`, then `extra` zero bytes. */
function encode(request: string, extra: 0 | 1): Uint8Array {
  if (extra === 0) return encoder.encode(request);
  const bytes = new Uint8Array(request.length * 3 + extra);
  const { written } = encoder.encodeInto(request, bytes);
  return bytes.subarray(0, written + extra);
}

/**
 * Sends a stream trigger on `conn` and closes it: `wire` (the request with
 * its NUL) in one write, then waits for the peer to close, send or reset,
 * bounded by `deadline`.
 *
 * The request and its NUL go in one write, so a server that read them has
 * nothing left unread and closes cleanly: end-of-file (or an answer) is a
 * confirmed receipt. A reset means the connection was dropped with bytes
 * unread, typically the whole request (a listener closed before it
 * accepted): it is reported, not taken for delivery. No SIGPIPE either way.
 */
export async function sendStream(
  conn: Deno.Conn,
  wire: Uint8Array,
  deadline: Deadline,
  what: string,
): Promise<{ bytes: number; peerClosed: boolean; outcome: TriggerOutcome }> {
  // Bounded wait: Deno has no signal for reads and writes, so the deadline closes the socket.
  const progress: WriteProgress = { written: 0, closed: false };
  try {
    try {
      await writeAll(conn, wire, deadline, progress);
    } catch (error) {
      if (deadline.aborted) throw deadline.reason;
      if (!isPeerGone(error)) throw withEndpoint(error, what);
      // The server closed while the request was being written: it took part of it at most.
      const Class = (error as Error).constructor as ErrorConstructor;
      throw new Class(
        progress.written === 0
          ? `${what}: the server closed the connection before the request was written (${plainReason(error)})`
          : `${what}: the server closed the connection after ${progress.written} of the request's ${wire.length} ` +
            `bytes (with its NUL) were written; it took at most those (a server cuts a request longer than it ` +
            `takes) (${plainReason(error)})`,
        { cause: error },
      );
    }
    // The wait for the close ends the trigger either way: on expiry, close rather than keep a read in flight.
    deadline.onExpire(() => {
      progress.closed = true;
      conn.close();
    });
    const bytes = progress.written;
    try {
      await conn.read(SCRATCH);
    } catch (error) {
      if (deadline.aborted) {
        // Timed out waiting for the close: written, but its receipt is not known.
        if (deadline.timedOut) return { bytes, peerClosed: false, outcome: "timeout" };
        throw deadline.reason;
      }
      // The peer reset instead of closing: it dropped the connection, typically unread.
      if (!isPeerGone(error)) throw withEndpoint(error, what);
      return { bytes, peerClosed: true, outcome: "reset" };
    }
    return { bytes, peerClosed: true, outcome: "closed" };
  } finally {
    deadline.onExpire(undefined);
    if (!progress.closed) conn.close();
  }
}

/**
 * Renames a connect failure as a trigger failure: `Cannot trigger "ENDPOINT":
 * REASON`, with "no process is listening" for a refused connect. Timeouts
 * (already named by the deadline) and the caller's abort reason pass unchanged.
 */
export function triggerError(error: unknown, what: string, signal: AbortSignal | undefined): unknown {
  if (!(error instanceof Error) || (signal?.aborted && error === signal.reason)) return error;
  const prefix = /^Cannot connect to "[^"]*": /.exec(error.message);
  if (!prefix) return error;
  const reason = error.message.slice(prefix[0].length);
  const Class = error.constructor as ErrorConstructor;
  const text = error instanceof Deno.errors.ConnectionRefused && !reason.startsWith("not a socket")
    ? `no process is listening (${reason})`
    : reason;
  return new Class(`${what}: ${text}`, { cause: error });
}

/** EPIPE or ECONNRESET: the peer has closed its end. */
function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset;
}
