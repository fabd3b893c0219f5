/**
 * Internal: where the queue directory is, for mailTrigger() and `kick`:
 * given, or read from a configuration directory's main.cf.
 *
 * @module
 */
import { cannot, withEndpoint } from "../_errors.ts";
import { hasPermission, requirePermission } from "../_permissions.ts";
import { DEFAULT_CONFIG_DIRECTORY, queueDirectoryOf } from "./_main_cf.ts";

/** Where a queue directory came from: see {@linkcode findQueueDirectory}. */
export interface QueueDirectorySource {
  /** The queue directory. */
  queueDirectory: string;
  /** The main.cf read, or undefined when the queue directory was given. */
  mainCf?: string;
}

/**
 * The queue directory to use: `queueDirectory` when given, else
 * `queue_directory` from `configDirectory/main.cf`; `configDirectory`
 * defaults to `$MAIL_CONFIG` when the env permission allows reading it (no
 * prompt), else `/etc/postfix`.
 *
 * @throws {Deno.errors.NotCapable} when main.cf may not be read; the message names the flag.
 * @throws {Deno.errors.NotFound} when main.cf does not exist.
 * @throws {Deno.errors.InvalidData} when main.cf is not a regular file.
 * @throws {SyntaxError} when main.cf cannot be parsed, or sets an empty queue_directory.
 */
export async function findQueueDirectory(
  configDirectory: string | undefined,
  queueDirectory: string | undefined,
  signal: AbortSignal | undefined,
): Promise<QueueDirectorySource> {
  if (queueDirectory !== undefined) return { queueDirectory };
  configDirectory ??= mailConfig() ?? DEFAULT_CONFIG_DIRECTORY;
  const file = `${configDirectory.replace(/\/+$/, "")}/main.cf`;
  const what = cannot("read", file);
  requirePermission({ name: "read", path: file }, `--allow-read=${file}`, what);
  let text: string;
  try {
    // Safety net: a FIFO named main.cf would block the read forever.
    if (!(await Deno.stat(file)).isFile) throw new Deno.errors.InvalidData("it is not a regular file");
    text = await Deno.readTextFile(file, { signal });
  } catch (error) {
    if (signal?.aborted && error === signal.reason) throw error;
    throw withEndpoint(error, what);
  }
  const found = queueDirectoryOf(text, file);
  if (found === "") throw new SyntaxError(`${what}: queue_directory is empty`);
  return { queueDirectory: found, mainCf: file };
}

/** `$MAIL_CONFIG` when the env permission allows reading it (without a prompt) and it is not empty. */
function mailConfig(): string | undefined {
  if (!hasPermission({ name: "env", variable: "MAIL_CONFIG" })) return undefined;
  return Deno.env.get("MAIL_CONFIG") || undefined;
}
