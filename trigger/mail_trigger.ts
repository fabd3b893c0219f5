/**
 * Sends a trigger to a Postfix service by class and service name, finding
 * the queue directory in main.cf as postkick does.
 *
 * @module
 */
import { trigger } from "./trigger.ts";
import type { TriggerResult } from "./_request.ts";
import { findQueueDirectory } from "./_queue_directory.ts";
import { checkOptions } from "../_options.ts";
import { checkSignal, checkTimeout } from "../_deadline.ts";
import { requestBytes } from "./_request.ts";

/** Options for {@linkcode mailTrigger}. */
export interface MailTriggerOptions {
  /**
   * The Postfix configuration directory whose main.cf names the queue
   * directory.
   *
   * @default {"$MAIL_CONFIG, else /etc/postfix"}
   */
  configDirectory?: string;
  /**
   * The queue directory; when given, main.cf is not read.
   *
   * @default {"queue_directory in main.cf, else /var/spool/postfix"}
   */
  queueDirectory?: string;
  /**
   * Milliseconds the trigger may take (after main.cf is read).
   *
   * @default {10000}
   */
  timeout?: number;
  /** Aborts reading main.cf and the trigger. */
  signal?: AbortSignal;
}

const OPTIONS: ReadonlySet<string> = new Set(["configDirectory", "queueDirectory", "timeout", "signal"]);

/**
 * Sends `request` to `$queue_directory/CLASS/SERVICE`, the way Postfix's
 * mail_trigger(3) and postkick(1) do: a socket there gets a UNIX-domain
 * trigger, a FIFO a FIFO trigger (chosen by stat, as {@linkcode trigger}
 * does for a bare path).
 *
 * The queue directory is `options.queueDirectory` when given; otherwise
 * `queue_directory` from `main.cf` in `options.configDirectory`, which
 * defaults to `$MAIL_CONFIG` when the env permission allows reading it (no
 * prompt is made), else `/etc/postfix`. When main.cf does not set it,
 * Postfix's default `/var/spool/postfix`. main.cf is read as postconf reads
 * it: continuation lines, comments, and `$name`, `${name}`, `$(name)`,
 * `${name?value}`, `${name:value}` and `$$` expanded; a name main.cf does not
 * set expands to nothing (Postfix's built-in defaults of other parameters
 * are not known).
 *
 * Requires `--allow-read` of main.cf (unless `queueDirectory` is given),
 * `--allow-env=MAIL_CONFIG` to honour that variable, and the permissions of
 * {@linkcode unixTrigger} or {@linkcode fifoTrigger} on the endpoint.
 *
 * @param cls The queue subdirectory, e.g. `"public"`: one path name.
 * @param service The service, e.g. `"qmgr"` or `"pickup"`: one path name.
 * @param request The request bytes, e.g. `"I"`.
 * @param options Where the configuration or the queue is, a timeout and a signal.
 * @returns What was sent and how it ended; `outcome` tells a confirmed receipt.
 * @throws {TypeError} when an argument has the wrong type or an option is unknown.
 * @throws {SyntaxError} when `cls` or `service` is empty, `.`, `..` or holds a `/`, or main.cf cannot be parsed.
 * @throws {RangeError} when the timeout or the request is out of range.
 * @throws {Deno.errors.NotCapable} when a permission is missing; the message names the file and the flag.
 * @throws {Deno.errors.NotFound} when main.cf, or the endpoint, does not exist; the message names it.
 * @throws {Deno.errors.InvalidData} when main.cf is not a regular file, or the endpoint is neither a socket nor a FIFO.
 * @throws {Deno.errors.ConnectionRefused} when no process is listening.
 * @throws {Deno.errors.BrokenPipe} when the server went away before the request was written.
 * @throws {DOMException} `TimeoutError` when the trigger does not finish in time.
 * @throws {unknown} `signal.reason` when `signal` aborts.
 * @see Port of Postfix mail_trigger(3).
 * @tags allow-read, allow-write, allow-net, allow-env
 *
 * @example Trigger "public/qmgr" of the queue a configuration directory names
 * ```ts
 * import assert from "node:assert/strict";
 * import { mailTrigger } from "@postnet/net/mail-trigger";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   await Deno.mkdir(`${dir}/queue/public`, { recursive: true });
 *   await Deno.writeTextFile(`${dir}/main.cf`, `top = ${dir}\nqueue_directory = $top/queue\n`);
 *   using listener = Deno.listen({ transport: "unix", path: `${dir}/queue/public/qmgr` });
 *   const received = listener.accept().then(async (conn) => {
 *     const buffer = new Uint8Array(16);
 *     const n = await conn.read(buffer);
 *     conn.close(); // a trigger server reads, then closes
 *     return buffer.subarray(0, n ?? 0);
 *   });
 *   const result = await mailTrigger("public", "qmgr", "I", { configDirectory: dir, timeout: 5_000 });
 *   assert.deepEqual(await received, Uint8Array.of(73, 0)); // "I" and its NUL
 *   assert.equal(result.endpoint, `unix:${dir}/queue/public/qmgr`);
 *   assert.equal(result.outcome, "closed");
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function mailTrigger(
  cls: string,
  service: string,
  request: string | Uint8Array,
  options: MailTriggerOptions = {},
): Promise<TriggerResult> {
  // Sanity check: everything the caller gave, before main.cf is read.
  const { configDirectory, queueDirectory, timeout, signal } = checkOptions(options, OPTIONS);
  checkName("class", cls);
  checkName("service", service);
  requestBytes(request);
  checkTimeout("timeout", timeout, 10_000);
  checkSignal(signal)?.throwIfAborted();
  for (const [name, value] of [["configDirectory", configDirectory], ["queueDirectory", queueDirectory]]) {
    if (value !== undefined && (typeof value !== "string" || value === "")) {
      throw new TypeError(`${name} must be a non-empty string, got ${JSON.stringify(value)}`);
    }
  }
  // Find the queue, then trigger by path: stat picks the transport.
  const found = await findQueueDirectory(configDirectory, queueDirectory, signal);
  const dir = found.queueDirectory;
  // A relative queue directory is relative to the working directory, even if it holds a colon.
  const path = `${dir.startsWith("/") ? "" : "./"}${dir.replace(/\/+$/, "")}/${cls}/${service}`;
  return await trigger(path, request, { timeout, signal });
}

/** Throws unless `name` is one path name, so no caller can reach outside the queue directory. */
function checkName(what: string, name: unknown): void {
  if (typeof name !== "string") throw new TypeError(`${what} must be a string, got ${typeof name}`);
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new SyntaxError(
      `Invalid ${what} ${JSON.stringify(name)}: it must be one path name (not empty, ".", "..", no "/")`,
    );
  }
}
