/**
 * Internal: race-free work on a path in a directory others may write to,
 * through a private directory made beside it (mode 0700, same file system,
 * so renames and links between them are atomic).
 *
 * Used only when the grant covers the directory: with `--allow-write` on
 * the path alone, callers fall back to lstat-checked operations, which a
 * co-writer of the directory could race (as Postfix's are).
 *
 * @module
 */
import { hasPermission } from "../_permissions.ts";
import { lstatSyncOrUndefined, sameFile } from "./_path_kind.ts";

/** The directory part of `path` ("." for a bare name). */
export function dirOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/** Makes a private directory beside `path`, or returns undefined when the grant does not cover its directory. */
export function privateDirBeside(path: string): string | undefined {
  const dir = dirOf(path);
  if (!hasPermission({ name: "write", path: dir }) || !hasPermission({ name: "read", path: dir })) return undefined;
  try {
    return Deno.makeTempDirSync({ dir, prefix: ".postnet-" });
  } catch {
    // No directory, or no room in it: the caller's plain path says why, naming the endpoint.
    return undefined;
  }
}

/** Removes a private directory if it is empty; anything in it is not ours to remove. */
export function removePrivateDir(dir: string): void {
  try {
    Deno.removeSync(dir);
  } catch (error) {
    // Not empty: a file that was not ours was moved aside and could not go back; it stays.
    if (!(error instanceof Deno.errors.NotFound) && (error as { code?: string }).code !== "ENOTEMPTY") throw error;
  }
}

/**
 * Removes `path` only if it is still the file `expected` describes. With the
 * directory granted, whatever is at the path is first renamed into a private
 * directory (atomic), checked there, and removed, or put back with `link`
 * (which never replaces) when it is not ours. Returns whether it removed it.
 */
export function removeIfSame(path: string, expected: Deno.FileInfo): boolean {
  const aside = privateDirBeside(path);
  if (aside === undefined) {
    const now = lstatSyncOrUndefined(path);
    if (!now || !sameFile(now, expected)) return false;
    Deno.removeSync(path);
    return true;
  }
  try {
    const moved = `${aside}/x`;
    try {
      Deno.renameSync(path, moved);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
    if (sameFile(Deno.lstatSync(moved), expected)) {
      Deno.removeSync(moved);
      return true;
    }
    // Not ours: put it back; if the path was taken meanwhile it stays aside, intact.
    try {
      Deno.linkSync(moved, path);
      Deno.removeSync(moved);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    return false;
  } finally {
    removePrivateDir(aside);
  }
}
