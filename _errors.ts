/**
 * Internal: errors that name the endpoint, Postfix style ("connect to X: reason").
 *
 * @module
 */

/**
 * Returns an error of the same class whose message starts with `what`
 * (the operation and the endpoint), the original kept as `cause`. A
 * DOMException keeps its name (`TimeoutError`, `AbortError`).
 */
export function withEndpoint(error: unknown, what: string): unknown {
  if (error instanceof DOMException) return new DOMException(`${what}: ${error.message}`, error.name);
  if (!(error instanceof Error)) return error;
  const Class = error.constructor as ErrorConstructor;
  return new Class(`${what}: ${error.message}`, { cause: error });
}
