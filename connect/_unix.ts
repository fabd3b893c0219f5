/**
 * Internal: the UNIX-domain connect behind `unixConnect` and `unixTrigger`,
 * for a path already checked, under the caller's {@linkcode Deadline}.
 *
 * @module
 */
import type { Deadline } from "../_deadline.ts";
import { explainDenial } from "../_permissions.ts";
import { withEndpoint } from "../_errors.ts";

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
    throw error instanceof Deno.errors.NotCapable ? explainDenial(error, what) : withEndpoint(error, what);
  }
  if (deadline.aborted) {
    conn.close();
    throw deadline.reason;
  }
  return conn;
}
