/**
 * Listens on a FIFO (named pipe), as Postfix's master does for fifo services.
 *
 * @module
 */
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { checkPath } from "../_path.ts";
import { requirePermission, requireReadWrite } from "../_permissions.ts";
import { cannot, withEndpoint } from "../_errors.ts";
import { checkMode, kindOf, lstatOrUndefined, sameFile } from "./_path_kind.ts";
import { removeIfSame } from "./_beside.ts";
import { checkOptions } from "../_options.ts";

/** Options for {@linkcode fifoListen}. */
export interface FifoListenOptions {
  /**
   * Permission bits (0 to 0o777) of a FIFO this call creates, whatever the
   * umask (Postfix's master uses 0622). An existing FIFO keeps its mode.
   * @default {0o622}
   */
  mode?: number;
  /**
   * Largest chunk one read returns, in bytes.
   * @default {65536}
   */
  readSize?: number;
}

/** A FIFO open for reading. Iterate it for chunks; close it to stop. */
export interface FifoListener extends AsyncIterable<Uint8Array>, AsyncDisposable {
  /** The FIFO's path, as given. */
  readonly path: string;
  /** Whether this listener created the FIFO (and so removes it on close). */
  readonly created: boolean;
  /**
   * Waits for the next chunk: whatever writers put in the FIFO since the last
   * read, at most `readSize` bytes. Resolves to null once the listener is
   * closed. One read at a time.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Stops listening: ends a pending read (it still returns what writers put
   * in the FIFO before the call, up to `readSize` bytes, less a trailing NUL
   * byte: close() wakes the read with one), closes the FIFO and removes it if
   * this listener created it. Bytes written after the call may be lost.
   */
  close(): Promise<void>;
}

/* The options fifoListen takes: any other is a mistake, reported before any I/O. */
const KNOWN: ReadonlySet<string> = new Set(["mode", "readSize"]);

/**
 * Listens on a FIFO. Requires `--allow-read` and `--allow-write` permissions
 * on the path, and `--allow-run=mkfifo` when the FIFO does not exist yet.
 *
 * Creates the FIFO with `mkfifo` when nothing is at `path`, reuses an
 * existing FIFO, and refuses anything else (a symbolic link included), as
 * Postfix's fifo_listen does minus its unlink. The FIFO is opened for reading
 * AND writing, so reads never see end-of-file when writers come and go, and a
 * writer's non-blocking open succeeds while the listener is up. Bytes left in
 * the FIFO from before are drained. Writes from several writers arrive
 * concatenated in one chunk.
 *
 * Deno cannot cancel a read on a FIFO; `close()` ends the pending read by
 * writing one byte into the FIFO it holds, so it returns at once and the
 * process can exit.
 *
 * @param path Where the FIFO is.
 * @param options Mode and read size.
 * @returns The listener; close it (or use `await using`).
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {RangeError} when the path is empty or holds a NUL byte, or an option is out of range.
 * @throws {Deno.errors.NotCapable} when a permission is missing; the message names the flag.
 * @throws {Deno.errors.AlreadyExists} when something other than a FIFO is at the path.
 * @throws {Deno.errors.NotFound} when the directory does not exist.
 * @see Port of Postfix fifo_listen(3).
 * @tags allow-read, allow-write, allow-run
 *
 * @example Receive what a writer puts in the FIFO
 * ```ts
 * import assert from "node:assert/strict";
 * import { fifoListen } from "@postnet/net/listen";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   await using fifo = await fifoListen(`${dir}/qmgr`);
 *   await Deno.writeTextFile(`${dir}/qmgr`, "I"); // a writer
 *   const chunk = await fifo.read();
 *   assert.equal(new TextDecoder().decode(chunk!), "I");
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function fifoListen(path: string, options: FifoListenOptions = {}): Promise<FifoListener> {
  options = checkOptions(options, KNOWN);
  // Sanity check: everything the caller gave, before any I/O.
  checkPath(path);
  // Only permission bits: mkfifo refuses set-id and sticky bits on a FIFO.
  const mode = checkMode(options.mode, 0o622, 0o777);
  const readSize = options.readSize ?? 65536;
  if (!Number.isInteger(readSize) || readSize < 1) {
    throw new RangeError(`readSize must be a positive integer, got ${readSize}`);
  }
  const what = cannot("listen on", `fifo:${path}`);
  requireReadWrite(path, what);

  let found = await lstatOrUndefined(path, what);
  const created = found === undefined;
  if (found === undefined) {
    requirePermission({ name: "run", command: "mkfifo" }, "--allow-run=mkfifo", what);
    await mkfifo(path, mode, what);
    found = await Deno.lstat(path);
  }
  if (!found.isFifo) {
    throw new Deno.errors.AlreadyExists(`${what}: ${kindOf(found)} is in the way; it was left alone`);
  }
  // A FIFO a process already reads (this one included) is taken, as a socket a
  // process listens on: two readers would split the triggers between them.
  if (!created) refuseIfRead(path, found, what);
  // Open read-write: the listener is its own writer, so it never sees EOF.
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch (error) {
    if (created) removeIfSame(path, found);
    throw withEndpoint(error, what);
  }
  let wake: number | undefined;
  try {
    // Safety net: the path may have been swapped between lstat and open.
    if (!sameFile(found, await file.stat())) {
      throw new Deno.errors.AlreadyExists(`${what}: the path changed while it was opened; it was left alone`);
    }
    // A FIFO made just now holds nothing stale, only triggers already meant for us.
    if (!created) drain(path, found);
    // A second, non-blocking writer that close() uses to end a pending read,
    // opened now so that close() works even if the path is removed later.
    wake = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    if (!sameInode(fstatSync(wake), found)) {
      throw new Deno.errors.AlreadyExists(`${what}: the path changed while it was opened; it was left alone`);
    }
  } catch (error) {
    if (wake !== undefined) closeSync(wake);
    file.close();
    if (created) removeIfSame(path, found);
    throw error;
  }
  return new Listener(path, file, wake, found, created, readSize);
}

/** Creates a FIFO with the exact mode (`mkfifo -m` is not subject to the umask). */
async function mkfifo(path: string, mode: number, what: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("mkfifo", {
    args: ["-m", mode.toString(8), "--", path],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code === 0) return;
  const message = new TextDecoder().decode(stderr).trim();
  const Class = message.includes("File exists")
    ? Deno.errors.AlreadyExists
    : message.includes("No such file")
    ? Deno.errors.NotFound
    : message.includes("Permission denied")
    ? Deno.errors.PermissionDenied
    : Error;
  throw new Class(`${what}: mkfifo: ${message}`);
}

/**
 * Throws AddrInUse when a process holds the FIFO open for reading: a
 * non-blocking write-only open succeeds then, and fails with ENXIO when
 * nobody reads.
 */
function refuseIfRead(path: string, expected: Deno.FileInfo, what: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY);
  } catch (error) {
    if ((error as { code?: string }).code === "ENXIO") return;
    throw withEndpoint(error, what);
  }
  try {
    if (!sameInode(fstatSync(fd), expected)) {
      throw new Deno.errors.AlreadyExists(`${what}: the path changed while it was opened; it was left alone`);
    }
  } finally {
    closeSync(fd);
  }
  throw new Deno.errors.AddrInUse(`${what}: a process is reading it already (two readers would split the triggers)`);
}

/** Discards bytes left in the FIFO by writers from before (at most 1 MiB, the largest pipe). */
function drain(path: string, expected: Deno.FileInfo): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    if (!sameInode(fstatSync(fd), expected)) return;
    const buffer = new Uint8Array(65536);
    for (let total = 0; total < 1 << 20;) {
      let n: number;
      try {
        n = readSync(fd, buffer);
      } catch (error) {
        // EAGAIN: the FIFO is empty, which is what draining waits for.
        if ((error as { code?: string }).code === "EAGAIN") return;
        throw error;
      }
      if (n <= 0) return;
      total += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** How many wake-up bytes close() writes at most, and how long it waits after each. */
const WAKE_TRIES = 10;
const WAKE_WAIT = 100;

/** Whether `promise` settles within `ms` (its rejection counts as settling). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when a `node:fs` stat and a Deno stat describe the same file. */
function sameInode(stat: { dev: number; ino: number }, info: Deno.FileInfo): boolean {
  return stat.dev === info.dev && stat.ino === info.ino;
}

class Listener implements FifoListener {
  readonly path: string;
  readonly created: boolean;
  readonly #file: Deno.FsFile;
  readonly #wake: number;
  readonly #info: Deno.FileInfo;
  readonly #buffer: Uint8Array;
  #reading: Promise<number | null> | undefined;
  #closing: Promise<void> | undefined;

  constructor(path: string, file: Deno.FsFile, wake: number, info: Deno.FileInfo, created: boolean, readSize: number) {
    this.path = path;
    this.#file = file;
    this.#wake = wake;
    this.#info = info;
    this.created = created;
    this.#buffer = new Uint8Array(readSize);
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closing) return null;
    if (this.#reading) throw new Deno.errors.Busy(`fifo:${this.path}: a read is already pending`);
    this.#reading = this.#file.read(this.#buffer);
    let n: number | null;
    try {
      n = await this.#reading;
    } finally {
      this.#reading = undefined;
    }
    if (n === null) return null;
    // A lone NUL is what a closing listener writes to wake its read, not a
    // trigger (a FIFO trigger carries no NUL; qmgr ignores one): skip it.
    if (n === 1 && this.#buffer[0] === 0 && !this.#closing) return this.read();
    const chunk = this.#buffer.slice(0, n);
    if (!this.#closing) return chunk;
    // close() may have woken this read with a NUL of its own, written after
    // the writers' bytes already in the FIFO, so it can only be the LAST
    // byte; a NUL elsewhere is a writer's and stays. (The read may also have
    // returned the writers' bytes before the wake byte came.)
    const rest = chunk.at(-1) === 0 ? chunk.subarray(0, -1) : chunk;
    return rest.length > 0 ? rest : null;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const reading = this.#reading;
    let stuck = false;
    try {
      // A pending FIFO read cannot be cancelled, and it holds the file: wake
      // it with a byte written through the second descriptor, kept for this.
      // A reader that opened the FIFO since may take the byte: try again, a
      // bounded number of times.
      for (let tries = 0; reading && tries < WAKE_TRIES; tries++) {
        this.#wake1();
        if (await settlesWithin(reading, WAKE_WAIT)) break;
        stuck = tries === WAKE_TRIES - 1;
      }
    } finally {
      closeSync(this.#wake);
      this.#file.close();
    }
    // Safety net: remove only the FIFO this listener made, not one put there since.
    if (this.created) removeIfSame(this.path, this.#info);
    if (stuck) {
      throw new Deno.errors.Busy(
        `Cannot close "fifo:${this.path}": another process reads the FIFO and took every wake-up byte; ` +
          `the pending read ends when a writer next writes`,
      );
    }
  }

  /** Writes the one wake-up byte; a full pipe means the read has bytes and returns by itself. */
  #wake1(): void {
    try {
      writeSync(this.#wake, new Uint8Array(1));
    } catch (error) {
      // EAGAIN: the pipe is full, so the pending read has bytes and returns by itself.
      if ((error as { code?: string }).code !== "EAGAIN") throw error;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
