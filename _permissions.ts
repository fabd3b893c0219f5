/**
 * Internal: permission checks made before any I/O, so that a sandboxed
 * caller learns the exact flag to add instead of a generic denial.
 *
 * Where Deno would prompt (an interactive run without the flag), the check
 * prompts; with `--no-prompt`, or when stdin or stderr is not a terminal,
 * Deno answers "denied" at once and nothing is printed, so a sandboxed
 * script never hangs on a check.
 *
 * @module
 */
import { resolve } from "node:path";

/**
 * Throws `Deno.errors.NotCapable` unless `descriptor` is granted. When Deno
 * would prompt (an interactive run without the flag), it prompts here.
 *
 * @param descriptor What is needed.
 * @param flag The command-line flag that grants it, e.g. `--allow-net=host:25`.
 * @param what The operation and endpoint, e.g. `Cannot connect to "host:25"`.
 * @throws {Deno.errors.NotCapable} when the permission is not granted.
 */
export function requirePermission(
  descriptor: Deno.PermissionDescriptor,
  flag: string,
  what: string,
): void {
  let { state } = Deno.permissions.querySync(descriptor);
  if (state === "prompt") state = Deno.permissions.requestSync(descriptor).state;
  if (state !== "granted") {
    throw new Deno.errors.NotCapable(`${what}: requires ${flag}; run again with ${flag}`);
  }
}

/** Returns true when `descriptor` is granted, without prompting. */
export function hasPermission(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Requires read and write access to a file-system path: what creating,
 * opening or removing a socket or FIFO there needs.
 */
export function requireReadWrite(path: string, what: string): void {
  requirePermission({ name: "read", path }, `--allow-read=${path}`, what);
  requirePermission({ name: "write", path }, `--allow-write=${path}`, what);
}

/**
 * Requires what a UNIX-domain socket at `path` needs: read, write and net
 * `unix:` access. A `unix:` grant takes an absolute path only, so a relative
 * `path` is resolved against the working directory (Deno.cwd() needs no
 * permission) and normalized, as Deno resolves it for its own check: the
 * flag in the message is one that works.
 */
export function requireUnixSocket(path: string, what: string): void {
  requireReadWrite(path, what);
  const abs = resolve(path);
  requirePermission({ name: "net", host: `unix:${abs}` }, `--allow-net=unix:${abs}`, what);
}

const DENO_DENIAL = /^Requires (\w+) access to "([^"]*)"/;

/**
 * Rewrites a `NotCapable` that Deno itself threw (before the system call it
 * guards, so nothing was done) in the words of {@linkcode requirePermission}:
 * the endpoint, then the exact flag. Hot paths use this instead of querying
 * up front, which costs a few microseconds per permission. Other errors pass
 * unchanged.
 */
export function explainDenial(error: unknown, what: string): unknown {
  if (!(error instanceof Deno.errors.NotCapable)) return error;
  const denied = DENO_DENIAL.exec(error.message);
  if (!denied) return error;
  const flag = `--allow-${denied[1]}=${denied[2]}`;
  return new Deno.errors.NotCapable(`${what}: requires ${flag}; run again with ${flag}`, { cause: error });
}
