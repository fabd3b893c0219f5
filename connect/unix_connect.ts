/**
 * Connects to a UNIX-domain stream socket.
 *
 * @module
 */
import { checkSignal, checkTimeout, Deadline } from "../_deadline.ts";
import { checkSocketPath } from "../_path.ts";
import { requireUnixSocket } from "../_permissions.ts";
import { withEndpoint } from "../_errors.ts";

/** Options for {@linkcode unixConnect}. */
export interface UnixConnectOptions {
  /**
   * Milliseconds the connect may take.
   * @default {30000}
   */
  timeout?: number;
  /** Aborts the connect; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Connects to a UNIX-domain stream socket. Requires `--allow-read`,
 * `--allow-write` and `--allow-net` (scoped as `unix:/abs/path`) permissions.
 *
 * Deno takes no signal for a UNIX-domain connect, so the connect is raced
 * against the timeout and the signal, and a connection that arrives after
 * them is closed. On Linux a connect to a listener whose backlog is full
 * fails at once (`EAGAIN`), it does not wait.
 *
 * @param path The socket's path, absolute or relative, under 108 bytes.
 * @param options Timeout and signal.
 * @returns The connection; the caller closes it.
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {RangeError} when the path is empty, holds a NUL byte or is 108 bytes or more, or the timeout is negative.
 * @throws {Deno.errors.NotCapable} when a permission is missing; the message names the flag.
 * @throws {Deno.errors.NotFound} when nothing exists at `path`.
 * @throws {Deno.errors.ConnectionRefused} when no process listens on the socket.
 * @throws {Deno.errors.WouldBlock} when the listener's backlog is full.
 * @throws {DOMException} `TimeoutError` when `timeout` passes.
 * @throws {unknown} `signal.reason` when `signal` aborts.
 * @see Port of Postfix unix_connect(3).
 * @tags allow-read, allow-write, allow-net
 *
 * @example Connect to a socket in a temporary directory
 * ```ts
 * import { unixConnect } from "@postnet/net/connect";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/service`;
 * using listener = Deno.listen({ transport: "unix", path });
 * using conn = await unixConnect(path, { timeout: 5_000 });
 * using peer = await listener.accept();
 * console.log(conn.remoteAddr.path === path); // true
 * ```
 */
export async function unixConnect(
  path: string,
  options: UnixConnectOptions = {},
): Promise<Deno.UnixConn> {
  // Sanity check: everything the caller gave, before any I/O.
  checkSocketPath(path);
  const timeout = checkTimeout("timeout", options.timeout, 30_000);
  const signal = checkSignal(options.signal);
  const what = `Cannot connect to "unix:${path}"`;
  requireUnixSocket(path, what);

  using deadline = new Deadline(what, timeout, signal);
  deadline.throwIfAborted();
  const connecting = Deno.connect({ transport: "unix", path });
  const { promise: aborted, reject } = Promise.withResolvers<never>();
  const onAbort = () => reject(deadline.reason);
  deadline.signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([connecting, aborted]);
  } catch (error) {
    if (deadline.signal.aborted) {
      // Timed connect: a connection that arrives after the deadline is closed
      // before the promise settles, so nothing outlives the call. The wait is
      // short: a UNIX-domain connect never blocks (a full backlog is EAGAIN).
      // Its own failure is moot: the caller gets the abort reason.
      await connecting.then((conn) => conn.close(), () => {});
      throw deadline.reason;
    }
    throw withEndpoint(error, what);
  } finally {
    deadline.signal.removeEventListener("abort", onAbort);
  }
}
