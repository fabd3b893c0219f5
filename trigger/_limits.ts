/**
 * Internal: how many connections a trigger server may hold at once without
 * running its process out of file descriptors.
 *
 * @module
 */
import { hasPermission } from "../_permissions.ts";

/** The default when the descriptor limit cannot be read. */
const MAX_CONNECTIONS = 2048;

/** Where Linux tells a process its limits; reading it needs `--allow-read=/proc/self/limits`. */
const LIMITS = "/proc/self/limits";

/**
 * The default `maxConnections`: 2048, or fewer when the soft RLIMIT_NOFILE
 * would not hold them. One connection holds one descriptor; the rest of the
 * process keeps an eighth of the limit, at least 64 (a Deno process holds
 * about 23 at start). So a limit of 256 gives 192, 1024 gives 896. Where
 * the limit cannot be read (no permission, not Linux), 2048.
 */
export function defaultMaxConnections(): number {
  const soft = softDescriptorLimit();
  if (soft === undefined) return MAX_CONNECTIONS;
  return Math.max(1, Math.min(MAX_CONNECTIONS, soft - Math.max(64, soft >> 3)));
}

/** The soft limit on open files, from /proc/self/limits, or undefined when it cannot be read. */
function softDescriptorLimit(): number | undefined {
  if (!hasPermission({ name: "read", path: LIMITS })) return undefined;
  let text: string;
  try {
    text = Deno.readTextFileSync(LIMITS);
  } catch {
    // Not Linux, or no /proc: the documented default applies.
    return undefined;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  if (soft === undefined) return undefined;
  return soft === "unlimited" ? Infinity : Number(soft) || undefined;
}

/** EMFILE or ENFILE: the process, or the system, has no descriptor left. */
export function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}
