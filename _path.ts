/**
 * Internal: checks of socket and FIFO paths, made before any I/O.
 *
 * @module
 */

/** Linux `sizeof(sun_path)`: a UNIX-domain socket path must be shorter. */
export const SUN_PATH_MAX = 108;

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
  // A UTF-16 unit takes at most 3 UTF-8 bytes: short paths need no counting.
  if (checked.length * 3 < SUN_PATH_MAX) return checked;
  const bytes = utf8Length(checked);
  if (bytes >= SUN_PATH_MAX) {
    throw new RangeError(`UNIX-domain socket path is ${bytes} bytes, the limit is ${SUN_PATH_MAX - 1}: "${checked}"`);
  }
  return checked;
}

/** The UTF-8 length of `text`, counted without encoding it (a lone surrogate counts 3, as its U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) bytes += 1;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: 2 units, 4 bytes.
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}
