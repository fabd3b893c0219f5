/**
 * Internal: the UNIX-domain connect behind `unixConnect` and `unixTrigger`,
 * for a path already checked, under the caller's {@linkcode Deadline}.
 *
 * @module
 */
import type { Deadline } from "../_deadline.ts";
import { explainDenial } from "../_permissions.ts";
import { withEndpoint } from "../_errors.ts";
import { kindOf } from "../listen/_path_kind.ts";

/**
 * Connects to the socket at `path` unless `deadline` has passed. On Linux a
 * UNIX-domain connect completes or fails at once (a full backlog is EAGAIN,
 * not a wait), so it is awaited and the deadline checked when it returns; a
 * connection that arrives after the deadline is closed.
 */
export async function connectUnix(path: string, deadline: Deadline, what: string): Promise<Deno.UnixConn> {
  deadline.throwIfAborted();
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    if (deadline.aborted) throw deadline.reason;
    // Deno checks read, write and net access before it connects.
    if (error instanceof Deno.errors.NotCapable) throw explainDenial(error, what);
    // Linux refuses a connect to a file that is not a socket as if nothing listened: say which it is.
    if (error instanceof Deno.errors.ConnectionRefused) {
      const kind = kindOfPath(path);
      if (kind !== undefined && kind !== "a socket") {
        throw new Deno.errors.ConnectionRefused(`${what}: not a socket (${kind} is there)`, { cause: error });
      }
    }
    throw withEndpoint(error, what);
  }
  if (deadline.aborted) {
    conn.close();
    throw deadline.reason;
  }
  return conn;
}

/** What is at `path` in words, or undefined when it cannot be looked at. */
function kindOfPath(path: string): string | undefined {
  try {
    return kindOf(Deno.statSync(path));
  } catch {
    // Gone or unreadable since the connect: the connect's own reason stands.
    return undefined;
  }
}
