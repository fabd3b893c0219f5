/**
 * Connects to a UNIX-domain stream socket.
 *
 * @module
 */
import { checkSignal, checkTimeout, Deadline } from "../_deadline.ts";
import { cannot } from "../_errors.ts";
import { checkSocketPath } from "../_path.ts";
import { connectUnix } from "./_unix.ts";
import { checkOptions } from "../_options.ts";

/** Options for {@linkcode unixConnect}. */
export interface UnixConnectOptions {
  /**
   * Milliseconds the connect may take.
   * `Infinity` waits without limit; 0 gives up at once (unlike Postfix, where 0
   * means no limit).
   * @default {30000}
   */
  timeout?: number;
  /** Aborts the connect; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/* The options unixConnect takes: any other is a mistake, reported before any I/O. */
const KNOWN: ReadonlySet<string> = new Set(["timeout", "signal"]);

/**
 * Connects to a UNIX-domain stream socket. Requires `--allow-read`,
 * `--allow-write` and `--allow-net` (scoped as `unix:/abs/path`) permissions.
 *
 * Deno takes no signal for a UNIX-domain connect. On Linux it never waits:
 * it connects or fails at once (a listener whose backlog is full gives
 * `EAGAIN`), so the deadline is checked when it returns and a connection
 * that arrives after the timeout or the abort is closed.
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
 * import assert from "node:assert/strict";
 * import { unixConnect } from "@postnet/net/connect";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/service`;
 * try {
 *   using listener = Deno.listen({ transport: "unix", path });
 *   using conn = await unixConnect(path, { timeout: 5_000 });
 *   using peer = await listener.accept();
 *   assert.equal(conn.remoteAddr.path, path);
 *   await conn.write(new Uint8Array([1]));
 *   assert.equal(await peer.read(new Uint8Array(1)), 1);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function unixConnect(
  path: string,
  options: UnixConnectOptions = {},
): Promise<Deno.UnixConn> {
  options = checkOptions(options, KNOWN);
  // Sanity check: everything the caller gave, before any I/O.
  checkSocketPath(path);
  const timeout = checkTimeout("timeout", options.timeout, 30_000);
  const signal = checkSignal(options.signal);
  const what = cannot("connect to", `unix:${path}`);

  using deadline = new Deadline(what, timeout, signal);
  return await connectUnix(path, deadline, what);
}
