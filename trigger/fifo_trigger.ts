/**
 * Sends a trigger to a FIFO service, as Postfix's fifo_trigger.
 *
 * @module
 */
import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import { checkSignal, checkTimeout } from "../_deadline.ts";
import { checkPath } from "../_path.ts";
import { explainDenial, requirePermission } from "../_permissions.ts";
import { cannot, withEndpoint } from "../_errors.ts";
import { requestBytes, type TriggerResult } from "./_request.ts";
import { checkOptions } from "../_options.ts";

export type { TriggerOutcome, TriggerResult, TriggerTransport } from "./_request.ts";

/** Options for {@linkcode fifoTrigger}. */
export interface FifoTriggerOptions {
  /**
   * Milliseconds the trigger may take. A FIFO trigger never waits (the open
   * and the write are non-blocking), so this only bounds the call.
   * `Infinity` waits without limit; 0 gives up at once (unlike Postfix, where 0
   * means no limit).
   * @default {10000}
   */
  timeout?: number;
  /** Aborts the trigger before it starts; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Linux PIPE_BUF: the largest write to a FIFO that arrives whole, never interleaved with another writer's. */
const PIPE_BUF = 4096;

/* The options fifoTrigger takes: any other is a mistake, reported before any I/O. */
const KNOWN: ReadonlySet<string> = new Set(["timeout", "signal"]);

/**
 * Sends a trigger to a FIFO service, such as a Postfix `fifo` pickup or qmgr.
 * Requires `--allow-read` and `--allow-write` permissions on the path.
 *
 * Opens the FIFO write-only and non-blocking, so that when no process reads
 * it fails at once instead of hanging; writes the request (no NUL, as
 * Postfix); closes. As Postfix's safe_open, it refuses a symbolic link and a
 * file with more than one hard link, and checks that what it opened is the
 * FIFO it examined. Requests from several writers concatenate in the FIFO.
 *
 * @param path The FIFO's path.
 * @param request The request bytes, at most 4096 (PIPE_BUF) to stay one atomic write.
 * @param options Timeout and signal.
 * @returns What was sent.
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {RangeError} when the path is empty or holds a NUL, the request is longer than 4096 bytes, or the timeout is negative.
 * @throws {Deno.errors.NotCapable} when a permission is missing; the message names the flag.
 * @throws {Deno.errors.NotFound} when nothing is at `path`.
 * @throws {Deno.errors.ConnectionRefused} when no process is listening (reading) on the FIFO.
 * @throws {Deno.errors.PermissionDenied} when the path is a symbolic link or has several hard links.
 * @throws {Deno.errors.InvalidData} when the path is not a FIFO.
 * @throws {Deno.errors.WouldBlock} when the FIFO is full (its reader has stopped reading).
 * @throws {Deno.errors.BrokenPipe} when the reader went away during the write.
 * @throws {DOMException} `TimeoutError` when `timeout` is 0.
 * @throws {unknown} `signal.reason` when `signal` is already aborted.
 * @see Port of Postfix fifo_trigger(3).
 * @tags allow-read, allow-write
 *
 * @example Wake a FIFO listener
 * ```ts
 * import assert from "node:assert/strict";
 * import { fifoListen } from "@postnet/net/listen";
 * import { fifoTrigger } from "@postnet/net/trigger";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   await using fifo = await fifoListen(`${dir}/pickup`);
 *   const result = await fifoTrigger(`${dir}/pickup`, "W");
 *   assert.equal(new TextDecoder().decode((await fifo.read())!), "W");
 *   assert.equal(result.bytes, 1);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export function fifoTrigger(
  path: string,
  request: string | Uint8Array,
  options: FifoTriggerOptions = {},
): Promise<TriggerResult> {
  const start = performance.now();
  // Every failure is a rejection, never a synchronous throw, as from the async siblings.
  try {
    // Sanity check: everything the caller gave, before any I/O.
    options = checkOptions(options, KNOWN);
    checkPath(path);
    const data = requestBytes(request);
    if (data.length > PIPE_BUF) {
      throw new RangeError(
        `request is ${data.length} bytes; a FIFO request is at most ${PIPE_BUF} (PIPE_BUF), the most one write delivers whole`,
      );
    }
    const timeout = checkTimeout("timeout", options.timeout, 10_000);
    const signal = checkSignal(options.signal);
    const endpoint = `fifo:${path}`;
    const what = cannot("trigger", endpoint);
    signal?.throwIfAborted();
    // Timeout 0 gives up at once, as on the other transports.
    if (timeout === 0) throw new DOMException(`${what}: timed out after 0 ms`, "TimeoutError");
    const bytes = write(path, data, what);
    return Promise.resolve({
      endpoint,
      transport: "fifo",
      bytes,
      peerClosed: false,
      outcome: "written",
      elapsed: performance.now() - start,
    });
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Safe open (no symlink, one link, a FIFO), one non-blocking write, close. */
function write(path: string, data: Uint8Array, what: string): number {
  let fd: number;
  try {
    // Deno's lstat: a third of the cost of node:fs's, which builds a Stats object.
    const before = Deno.lstatSync(path);
    if (before.isSymlink) throw new Deno.errors.PermissionDenied(`${what}: it is a symbolic link; refused`);
    if (!before.isFifo) throw new Deno.errors.InvalidData(`${what}: it is not a FIFO`);
    fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY);
  } catch (error) {
    // Deno checked read access (lstat) and write access (open) itself; when
    // nothing is there, open never ran: a missing write grant still comes first.
    if (error instanceof Deno.errors.NotFound) {
      requirePermission({ name: "write", path }, `--allow-write=${path}`, what);
    }
    throw translate(error, what);
  }
  try {
    // Safety net: what was opened must be a FIFO with one link (Postfix safe_open).
    const stat = fstatSync(fd);
    if (!stat.isFIFO()) throw new Deno.errors.InvalidData(`${what}: it is not a FIFO`);
    if (stat.nlink > 1) {
      throw new Deno.errors.PermissionDenied(`${what}: it has ${stat.nlink} hard links; refused`);
    }
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written);
    return written;
  } catch (error) {
    throw translate(error, what);
  } finally {
    closeSync(fd);
  }
}

/** Maps a `node:fs` error code to the `Deno.errors` class callers branch on. */
function translate(error: unknown, what: string): unknown {
  // Already ours (a refusal from write()): it names the endpoint.
  if (error instanceof Error && error.message.startsWith(what)) return error;
  // Deno checked the access before the system call: name the flag.
  if (error instanceof Deno.errors.NotCapable) return explainDenial(error, what);
  if (error instanceof Deno.errors.NotFound) {
    return new Deno.errors.NotFound(`${what}: no such file or directory`, { cause: error });
  }
  const code = (error as { code?: string }).code;
  switch (code) {
    case "ENXIO":
      return new Deno.errors.ConnectionRefused(`${what}: no process is listening`, { cause: error });
    case "ENOENT":
      return new Deno.errors.NotFound(`${what}: no such file or directory`, { cause: error });
    case "ELOOP":
      return new Deno.errors.PermissionDenied(`${what}: it is a symbolic link; refused`, { cause: error });
    case "EAGAIN":
      return new Deno.errors.WouldBlock(`${what}: the FIFO is full; its reader is not reading`, { cause: error });
    case "EPIPE":
      return new Deno.errors.BrokenPipe(`${what}: the reader went away`, { cause: error });
    case "EACCES":
    case "EPERM":
      return new Deno.errors.PermissionDenied(`${what}: permission denied`, { cause: error });
    default:
      return withEndpoint(error, what);
  }
}
