/**
 * Listens on a UNIX-domain stream socket, removing only a stale socket.
 *
 * @module
 */
import { unixConnect } from "../connect/unix_connect.ts";
import { checkTimeout } from "../_deadline.ts";
import { cannot, withEndpoint } from "../_errors.ts";
import { checkSocketPath, SUN_PATH_MAX, utf8Length } from "../_path.ts";
import { hasPermission, requireUnixSocket } from "../_permissions.ts";
import { privateDirBeside, removeIfSame, removePrivateDir } from "./_beside.ts";
import { resolve } from "node:path";
import { checkMode, kindOf, lstatOrUndefined } from "./_path_kind.ts";
import { checkOptions } from "../_options.ts";

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

/* The options unixListen takes: any other is a mistake, reported before any I/O. */
const KNOWN: ReadonlySet<string> = new Set(["mode", "probeTimeout"]);

/**
 * Listens on a UNIX-domain stream socket. Requires `--allow-read`,
 * `--allow-write` and `--allow-net` (scoped as `unix:/abs/path`) permissions.
 *
 * Unlike Postfix, which unlinks whatever is at the path, this removes only a
 * stale socket: one that nothing answers (a connect is refused). A live
 * listener, a regular file, a directory, a symbolic link or anything else is
 * refused and left untouched. (The probe's connect reaches a live listener
 * as an empty connection, which a trigger server treats as a 0-byte
 * trigger, as Postfix's does.)
 *
 * When the grant covers the socket's directory (`--allow-read`,
 * `--allow-write` on the directory and `--allow-net` for its sockets), the
 * socket is made in a private directory beside the path, given `mode` there,
 * and linked into place, which never replaces anything; closing the
 * listener then removes the path only while it is still this socket. Stale
 * sockets are removed the same way. So a co-writer of the directory cannot
 * swap in a link to have some other file chmod-ed or removed. With a grant
 * of the path alone, the socket is bound in place and chmod-ed, as Postfix
 * does, and Deno unlinks the path on close. The backlog is Deno's; it cannot
 * be set for UNIX-domain sockets.
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
 * import assert from "node:assert/strict";
 * import { unixListen } from "@postnet/net/listen";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   using listener = await unixListen(`${dir}/service`);
 *   assert.equal((await Deno.stat(`${dir}/service`)).mode! & 0o777, 0o666);
 *   assert.equal(listener.addr.path, `${dir}/service`);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function unixListen(path: string, options: UnixListenOptions = {}): Promise<Deno.UnixListener> {
  options = checkOptions(options, KNOWN);
  // Sanity check: everything the caller gave, before any I/O.
  checkSocketPath(path);
  const mode = checkMode(options.mode, 0o666);
  const probeTimeout = checkTimeout("probeTimeout", options.probeTimeout, 1_000);
  const what = cannot("listen on", `unix:${path}`);
  requireUnixSocket(path, what);

  await removeStaleSocket(path, probeTimeout, what);
  const aside = privateDirBeside(path);
  const staged = aside === undefined ? undefined : resolve(`${aside}/s`);
  if (aside === undefined || staged === undefined || !canBind(staged)) {
    if (aside !== undefined) removePrivateDir(aside);
    return bindInPlace(path, mode, what);
  }
  // Bind and chmod in a directory nobody else can enter, then link into
  // place: link(2) never replaces, and nothing can be swapped in to be chmod-ed.
  let listener: Deno.UnixListener | undefined;
  try {
    listener = Deno.listen({ transport: "unix", path: staged });
    Deno.chmodSync(staged, mode);
    const info = Deno.lstatSync(staged);
    try {
      Deno.linkSync(staged, path);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new Deno.errors.AddrInUse(`${what}: the path was taken while the socket was made; it was left alone`);
      }
      throw error;
    }
    Deno.removeSync(staged);
    return new OwnSocketListener(listener, path, info);
  } catch (error) {
    listener?.close();
    throw withEndpoint(error, what);
  } finally {
    removePrivateDir(aside);
  }
}

/** Binds at the path itself (the grant covers the path, not its directory), as Postfix does. */
function bindInPlace(path: string, mode: number, what: string): Deno.UnixListener {
  let listener: Deno.UnixListener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (error) {
    throw withEndpoint(error, what);
  }
  try {
    Deno.chmodSync(path, mode);
  } catch (error) {
    listener.close();
    throw withEndpoint(error, what);
  }
  return listener;
}

/** Whether `unix:` net access covers a socket at this absolute path, within the length limit. */
function canBind(path: string): boolean {
  return utf8Length(path) < SUN_PATH_MAX && hasPermission({ name: "net", host: `unix:${path}` });
}

/**
 * A listener for a socket made aside and linked into place. Deno unlinks the
 * path it bound (the aside name, gone by then); close() here removes the
 * public path only while it is still this socket, not a file or a newer
 * listener's socket that replaced it.
 */
class OwnSocketListener implements Deno.UnixListener {
  readonly #inner: Deno.UnixListener;
  readonly #path: string;
  readonly #info: Deno.FileInfo;
  #closed = false;

  constructor(inner: Deno.UnixListener, path: string, info: Deno.FileInfo) {
    this.#inner = inner;
    this.#path = path;
    this.#info = info;
  }

  get addr(): Deno.UnixAddr {
    return { transport: "unix", path: this.#path };
  }

  accept(): Promise<Deno.UnixConn> {
    return this.#inner.accept();
  }

  close(): void {
    // Idempotent, as Deno's own listeners are: a second close (the end of a
    // `using` block after an explicit close) does nothing.
    if (this.#closed) return;
    this.#closed = true;
    this.#inner.close();
    removeIfSame(this.#path, this.#info);
  }

  ref(): void {
    this.#inner.ref();
  }

  unref(): void {
    this.#inner.unref();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Deno.UnixConn> {
    return this.#inner[Symbol.asyncIterator]();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Removes the socket at `path` if nothing answers it; refuses anything else. */
async function removeStaleSocket(path: string, probeTimeout: number, what: string): Promise<void> {
  const found = await lstatOrUndefined(path, what);
  if (found === undefined) return;
  if (!found.isSocket) {
    throw new Deno.errors.AlreadyExists(`${what}: ${kindOf(found)} is in the way; it was left alone`);
  }
  try {
    using _live = await unixConnect(path, { timeout: probeTimeout });
  } catch (error) {
    // Gone while probed: nothing left to remove.
    if (error instanceof Deno.errors.NotFound) return;
    // Only a refused connect proves the socket stale; a full backlog or a slow answer means live.
    if (!(error instanceof Deno.errors.ConnectionRefused)) {
      throw new Deno.errors.AddrInUse(`${what}: a process is listening (${(error as Error).message})`, {
        cause: error,
      });
    }
    // Safety net: remove the socket that refused, never a file put there since.
    if (!removeIfSame(path, found) && (await lstatOrUndefined(path, what)) !== undefined) {
      throw new Deno.errors.AddrInUse(`${what}: the path changed while it was checked; it was left alone`);
    }
    return;
  }
  throw new Deno.errors.AddrInUse(`${what}: a process is listening`);
}
