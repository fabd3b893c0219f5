/**
 * Sends a trigger to a UNIX-domain socket service, as Postfix's unix_trigger.
 *
 * @module
 */
import { connectUnix } from "../connect/_unix.ts";
import { checkSignal, checkTimeout, Deadline } from "../_deadline.ts";
import { cannot } from "../_errors.ts";
import { checkSocketPath } from "../_path.ts";
import { requestBytes, sendStream, triggerError, type TriggerResult } from "./_request.ts";
import { checkOptions } from "../_options.ts";

export type { TriggerOutcome, TriggerResult, TriggerTransport } from "./_request.ts";

/** Options for {@linkcode unixTrigger}. */
export interface UnixTriggerOptions {
  /**
   * Milliseconds the whole trigger may take: connect, write, and the wait
   * for the server to close (Postfix `trigger_timeout`).
   * `Infinity` waits without limit; 0 gives up at once (unlike Postfix, where 0
   * means no limit).
   * @default {10000}
   */
  timeout?: number;
  /** Aborts the trigger; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/* The options unixTrigger takes: any other is a mistake, reported before any I/O. */
const KNOWN: ReadonlySet<string> = new Set(["timeout", "signal"]);

/**
 * Sends a trigger to a UNIX-domain socket service, such as Postfix's
 * `public/qmgr` or `public/pickup`. Requires `--allow-read`, `--allow-write`
 * and `--allow-net` (scoped as `unix:/abs/path`) permissions.
 *
 * Connects, writes the request followed by one NUL byte in ONE write, then
 * waits for the server to close, all within `timeout`. Postfix writes the
 * request and the NUL separately, which races the server's single read and
 * kills postkick with SIGPIPE; here the server reads both at once. The
 * result's `outcome` says how it ended: `"closed"` (the server read the
 * request and closed: a confirmed receipt), `"reset"` (the connection was
 * dropped, typically unread) or `"timeout"` (written, no answer within
 * `timeout`); the promise resolves in all three, since the request may have
 * arrived. The socket is closed before the promise settles.
 *
 * @param path The service's socket path.
 * @param request The request bytes, e.g. `"I"` (qmgr: scan incoming).
 * @param options Timeout and signal.
 * @returns What was sent and how it ended.
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {RangeError} when the path is empty, too long or holds a NUL, or the timeout is negative.
 * @throws {Deno.errors.NotCapable} when a permission is missing; the message names the flag.
 * @throws {Deno.errors.NotFound} when nothing is at `path`.
 * @throws {Deno.errors.ConnectionRefused} when no process listens on the socket.
 * @throws {Deno.errors.WouldBlock} when the listener's backlog is full.
 * @throws {Deno.errors.BrokenPipe} when the server went away before the request was written.
 * @throws {DOMException} `TimeoutError` when the connect or the write does not finish in time.
 * @throws {unknown} `signal.reason` when `signal` aborts.
 * @see Port of Postfix unix_trigger(3).
 * @tags allow-read, allow-write, allow-net
 *
 * @example Wake a server listening on a socket
 * ```ts
 * import assert from "node:assert/strict";
 * import { unixTrigger } from "@postnet/net/trigger";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/qmgr`;
 * try {
 *   using listener = Deno.listen({ transport: "unix", path });
 *   const server = (async () => {
 *     using conn = await listener.accept();
 *     const buffer = new Uint8Array(1024);
 *     return buffer.subarray(0, (await conn.read(buffer)) ?? 0);
 *   })();
 *   const result = await unixTrigger(path, "I");
 *   assert.deepEqual(await server, Uint8Array.of(73, 0)); // "I" and its NUL
 *   assert.equal(result.bytes, 2);
 *   assert.equal(result.peerClosed, true);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function unixTrigger(
  path: string,
  request: string | Uint8Array,
  options: UnixTriggerOptions = {},
): Promise<TriggerResult> {
  options = checkOptions(options, KNOWN);
  const start = performance.now();
  // Sanity check: everything the caller gave, before any I/O.
  checkSocketPath(path);
  const wire = requestBytes(request, 1);
  const timeout = checkTimeout("timeout", options.timeout, 10_000);
  const signal = checkSignal(options.signal);
  const endpoint = `unix:${path}`;

  const what = cannot("trigger", endpoint);
  // Released in finally rather than with `using`, which costs a disposal stack per call on this hot path.
  const deadline = new Deadline(what, timeout, signal);
  try {
    let conn: Deno.UnixConn;
    try {
      conn = await connectUnix(path, deadline, cannot("connect to", endpoint));
    } catch (error) {
      throw triggerError(error, what, signal);
    }
    const { bytes, peerClosed, outcome } = await sendStream(conn, wire, deadline, what);
    return { endpoint, transport: "unix", bytes, peerClosed, outcome, elapsed: performance.now() - start };
  } finally {
    deadline[Symbol.dispose]();
  }
}
