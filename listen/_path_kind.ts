/**
 * Internal: what is at a path, in words, for errors that say why a path was
 * refused and left alone.
 *
 * @module
 */
import { withEndpoint } from "../_errors.ts";

/** Names the kind of file `info` describes ("a regular file", "a symbolic link", ...). */
export function kindOf(info: Deno.FileInfo): string {
  if (info.isSymlink) return "a symbolic link";
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a directory";
  if (info.isSocket) return "a socket";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return "a file of unknown type";
}

/**
 * Returns the lstat of `path`, or undefined when nothing is there. Other
 * failures (a parent that is not a directory, a name too long) are thrown
 * as `what` and the reason.
 */
export async function lstatOrUndefined(path: string, what: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw withEndpoint(error, what);
  }
}

/** As {@linkcode lstatOrUndefined}, synchronously. */
export function lstatSyncOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** True when two stats describe the same file (same device and inode). */
export function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Checks a file mode option: an integer from 0 to `max` (0o7777 unless told).
 *
 * @throws {TypeError} when it is not a number.
 * @throws {RangeError} when it is not an integer in range.
 */
export function checkMode(mode: unknown, fallback: number, max = 0o7777): number {
  if (mode === undefined) return fallback;
  if (typeof mode !== "number") throw new TypeError(`mode must be a number, got ${typeof mode}`);
  if (!Number.isInteger(mode) || mode < 0 || mode > max) {
    throw new RangeError(`mode must be an integer from 0 to 0o${max.toString(8)}, got ${mode}`);
  }
  return mode;
}
