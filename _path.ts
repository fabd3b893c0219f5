/**
 * Internal: checks of socket and FIFO paths, made before any I/O.
 *
 * @module
 */

/** Linux `sizeof(sun_path)`: a UNIX-domain socket path must be shorter. */
export const SUN_PATH_MAX = 108;

const encoder = new TextEncoder();

/**
 * Checks a file-system path given as an endpoint.
 *
 * @throws {TypeError} when `path` is not a string.
 * @throws {RangeError} when it is empty or holds a NUL byte.
 */
export function checkPath(path: unknown, name = "path"): string {
  if (typeof path !== "string") throw new TypeError(`${name} must be a string, got ${typeof path}`);
  if (path.length === 0) throw new RangeError(`${name} must not be empty`);
  if (path.includes("\0")) throw new RangeError(`${name} must not contain a NUL byte: ${JSON.stringify(path)}`);
  return path;
}

/**
 * Checks a UNIX-domain socket path: as {@linkcode checkPath}, and shorter
 * than 108 bytes (the kernel's limit, as Postfix's unix_connect checks).
 *
 * @throws {RangeError} when the path is 108 bytes or longer.
 */
export function checkSocketPath(path: unknown): string {
  const checked = checkPath(path);
  // A UTF-16 unit takes at most 3 UTF-8 bytes: short paths need no encoding.
  if (checked.length * 3 < SUN_PATH_MAX) return checked;
  const bytes = encoder.encode(checked).length;
  if (bytes >= SUN_PATH_MAX) {
    throw new RangeError(`UNIX-domain socket path is ${bytes} bytes, the limit is ${SUN_PATH_MAX - 1}: "${checked}"`);
  }
  return checked;
}
