/**
 * Internal: errors in one style, `Cannot <verb> "<endpoint>": <reason>`,
 * the reason in plain words and a long endpoint shortened once.
 *
 * @module
 */

/** Endpoints longer than this are shown as their start and end. */
const LONGEST = 160;

/**
 * `Cannot <verb> "<endpoint>"`, the start of every error message; an
 * endpoint longer than 160 characters is shortened to its first and last
 * 70, so a 5,000-character path does not fill the terminal.
 */
export function cannot(verb: string, endpoint: string): string {
  const shown = endpoint.length <= LONGEST ? endpoint : `${endpoint.slice(0, 70)}...${endpoint.slice(-70)}`;
  return `Cannot ${verb} "${shown}"`;
}

/* Deno's OS error text: "No such file or directory (os error 2): lstat '/path'". */
const OS_ERROR = /^(.*?) \(os error \d+\)(?:: .*)?$/s;

/**
 * The reason an error gives, in plain words: for an OS error, its text
 * without the error number and without the path Deno appends (the endpoint
 * is named once, by the caller), first letter in lower case.
 */
export function plainReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const os = OS_ERROR.exec(message);
  if (!os) return message;
  return os[1].charAt(0).toLowerCase() + os[1].slice(1);
}

/**
 * Returns an error of the same class whose message is `what` (the operation
 * and the endpoint) and the reason in plain words, the original kept as
 * `cause`. A DOMException keeps its name (`TimeoutError`, `AbortError`).
 */
export function withEndpoint(error: unknown, what: string): unknown {
  if (error instanceof DOMException) return new DOMException(`${what}: ${error.message}`, error.name);
  if (!(error instanceof Error)) return error;
  const Class = error.constructor as ErrorConstructor;
  return new Class(`${what}: ${plainReason(error)}`, { cause: error });
}
