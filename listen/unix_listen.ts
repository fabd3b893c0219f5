/**
 * Listens on a UNIX-domain stream socket, removing only a stale socket.
 *
 * @module
 */
import { unixConnect } from "../connect/unix_connect.ts";
import { checkTimeout } from "../_deadline.ts";
import { withEndpoint } from "../_errors.ts";
import { checkSocketPath } from "../_path.ts";
import { requireUnixSocket } from "../_permissions.ts";
import { checkMode, kindOf, lstatOrUndefined, sameFile } from "./_path_kind.ts";

/** Options for {@linkcode unixListen}. */
export interface UnixListenOptions {
  /**
   * Permission bits of the socket, applied whatever the umask. Access
   * control normally comes from the directory, as in Postfix (`public/`
   * 0710, `private/` 0700).
   * @default {0o666}
   */
  mode?: number;
  /**
   * Milliseconds to wait for an existing socket at `path` to answer before
   * it is judged live and left alone.
   * @default {1000}
   */
  probeTimeout?: number;
}

/**
 * Listens on a UNIX-domain stream socket. Requires `--allow-read`,
 * `--allow-write` and `--allow-net` (scoped as `unix:/abs/path`) permissions.
 *
 * Unlike Postfix, which unlinks whatever is at the path, this removes only a
 * stale socket: one that nothing answers (a connect is refused). A live
 * listener, a regular file, a directory, a symbolic link or anything else is
 * refused and left untouched. (The probe's connect reaches a live listener
 * as an empty connection, which a trigger server treats as a 0-byte
 * trigger, as Postfix's does.) The socket then gets `mode` with `chmod`; until
 * then it has the umask's mode. Closing the listener removes the socket
 * (Deno unlinks the path on close). The backlog is Deno's; it cannot be set
 * for UNIX-domain sockets.
 *
 * @param path The socket's path, absolute or relative, under 108 bytes.
 * @param options Mode and probe timeout.
 * @returns The listener; the caller closes it.
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {RangeError} when the path is empty, holds a NUL byte, is 108 bytes or more, or `mode` is out of range.
 * @throws {Deno.errors.NotCapable} when a permission is missing; the message names the flag.
 * @throws {Deno.errors.AddrInUse} when a live listener owns the path.
 * @throws {Deno.errors.AlreadyExists} when something other than a socket is at the path.
 * @throws {Deno.errors.NotFound} when the directory does not exist.
 * @see Port of Postfix unix_listen(3).
 * @tags allow-read, allow-write, allow-net
 *
 * @example Listen on a socket in a temporary directory
 * ```ts
 * import { unixListen } from "@postnet/net/listen";
 *
 * const dir = await Deno.makeTempDir();
 * using listener = await unixListen(`${dir}/service`);
 * console.log((await Deno.stat(`${dir}/service`)).mode! & 0o777); // 438 (0o666)
 * ```
 */
export async function unixListen(path: string, options: UnixListenOptions = {}): Promise<Deno.UnixListener> {
  // Sanity check: everything the caller gave, before any I/O.
  checkSocketPath(path);
  const mode = checkMode(options.mode, 0o666);
  const probeTimeout = checkTimeout("probeTimeout", options.probeTimeout, 1_000);
  const what = `Cannot listen on "unix:${path}"`;
  requireUnixSocket(path, what);

  await removeStaleSocket(path, probeTimeout, what);
  let listener: Deno.UnixListener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (error) {
    throw withEndpoint(error, what);
  }
  try {
    await Deno.chmod(path, mode);
  } catch (error) {
    listener.close();
    throw withEndpoint(error, what);
  }
  return listener;
}

/** Removes the socket at `path` if nothing answers it; refuses anything else. */
async function removeStaleSocket(path: string, probeTimeout: number, what: string): Promise<void> {
  const found = await lstatOrUndefined(path);
  if (found === undefined) return;
  if (!found.isSocket) {
    throw new Deno.errors.AlreadyExists(`${what}: ${kindOf(found)} is in the way; it was left alone`);
  }
  try {
    using _live = await unixConnect(path, { timeout: probeTimeout });
  } catch (error) {
    // Only a refused connect proves the socket stale; a full backlog or a slow answer means live.
    if (!(error instanceof Deno.errors.ConnectionRefused)) {
      throw new Deno.errors.AddrInUse(`${what}: a process is listening (${(error as Error).message})`, {
        cause: error,
      });
    }
    // Safety net: the path must still be the socket that refused, not a file put there since.
    const again = await lstatOrUndefined(path);
    if (again === undefined) return;
    if (!sameFile(found, again)) {
      throw new Deno.errors.AddrInUse(`${what}: the path changed while it was checked; it was left alone`);
    }
    await Deno.remove(path);
    return;
  }
  throw new Deno.errors.AddrInUse(`${what}: a process is listening`);
}
