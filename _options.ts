/**
 * Internal: the check every public function makes of its options object
 * before any I/O, so a misspelt option is an error, not a default.
 *
 * @module
 */

/**
 * Checks that `options` is undefined or a plain object whose keys are all
 * in `known`, and returns it (an empty object for undefined).
 *
 * @throws {TypeError} when it is not an object, or names an unknown option.
 */
export function checkOptions<T extends object>(options: T | undefined, known: ReadonlySet<string>): T {
  if (options === undefined) return {} as T;
  // Sanity check: null, a string or an array would be read as "no options" and hide the mistake.
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`options must be an object, got ${options === null ? "null" : typeof options}`);
  }
  for (const key in options) {
    if (!known.has(key)) {
      throw new TypeError(`unknown option "${key}"; the options are ${[...known].join(", ")}`);
    }
  }
  return options;
}
