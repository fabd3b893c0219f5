/**
 * Sends a trigger to any endpoint: one call for every transport.
 *
 * @module
 */
import { parseEndpoint } from "./_endpoint.ts";
import { cannot, withEndpoint } from "../_errors.ts";
import { inetTrigger, type InetTriggerOptions } from "./inet_trigger.ts";
import { unixTrigger } from "./unix_trigger.ts";
import { fifoTrigger } from "./fifo_trigger.ts";
import { requirePermission } from "../_permissions.ts";
import { INET_TRIGGER_OPTIONS, requestBytes, type TriggerResult } from "./_request.ts";
import { checkOptions } from "../_options.ts";
import { checkSignal, checkTimeout } from "../_deadline.ts";

export type { TriggerOutcome, TriggerResult, TriggerTransport } from "./_request.ts";

/**
 * Options for {@linkcode trigger}: a timeout and signal for every transport,
 * plus the connect options that apply to `inet:` endpoints.
 */
export type TriggerOptions = InetTriggerOptions;

/**
 * Sends a trigger to an endpoint, the way Postfix's mail_trigger does.
 * Requires the permissions of the transport used: `--allow-net` for
 * `inet:`; `--allow-read`, `--allow-write` and `--allow-net=unix:PATH` for
 * `unix:`; `--allow-read` and `--allow-write` for `fifo:`.
 *
 * `endpoint` is `inet:host:port`, `unix:path`, `fifo:path`, or a bare path:
 * then `stat` picks the transport (a socket: unix, a FIFO: fifo), as Postfix
 * picks it for `$queue_directory/public/qmgr`. A relative path that holds a
 * colon must start with `./`.
 *
 * @param endpoint Where to send the trigger.
 * @param request The request bytes, e.g. `"W"`.
 * @param options Timeout, signal, and connect options for `inet:`.
 * @returns What was sent and how it ended.
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {SyntaxError} when the endpoint cannot be parsed or its transport is unknown.
 * @throws {RangeError} when a path or timeout is out of range.
 * @throws {Deno.errors.NotCapable} when a permission is missing; the message names the flag.
 * @throws {Deno.errors.NotFound} when nothing is at the path or the host does not resolve.
 * @throws {Deno.errors.ConnectionRefused} when no process is listening.
 * @throws {Deno.errors.InvalidData} when a bare path is neither a socket nor a FIFO.
 * @throws {Deno.errors.BrokenPipe} when the server (or FIFO reader) went away before the request was written.
 * @throws {DOMException} `TimeoutError` when the trigger does not finish in time.
 * @throws {unknown} `signal.reason` when `signal` aborts.
 * @see Port of Postfix mail_trigger(3) and postkick(1).
 * @tags allow-net, allow-read, allow-write
 *
 * @example Trigger a socket by its bare path
 * ```ts
 * import assert from "node:assert/strict";
 * import { trigger } from "@postnet/net/trigger";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/qmgr`;
 * try {
 *   using listener = Deno.listen({ transport: "unix", path });
 *   const accepted = listener.accept().then(async (conn) => {
 *     const buffer = new Uint8Array(1024);
 *     const n = await conn.read(buffer); // a server reads, then closes
 *     conn.close();
 *     return buffer.subarray(0, n ?? 0);
 *   });
 *   const result = await trigger(path, "D", { timeout: 5_000 });
 *   assert.deepEqual(await accepted, Uint8Array.of(68, 0)); // "D" and its NUL
 *   assert.equal(result.transport, "unix");
 *   assert.equal(result.endpoint, `unix:${path}`);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function trigger(
  endpoint: string,
  request: string | Uint8Array,
  options: TriggerOptions = {},
): Promise<TriggerResult> {
  // Sanity check: the endpoint's syntax and the options, before any I/O.
  const parsed = parseEndpoint(endpoint, "client");
  options = checkOptions(options, INET_TRIGGER_OPTIONS);
  if (parsed.transport === "inet") return await inetTrigger(parsed.address, request, options);
  const { path } = parsed;
  // The options of a socket or FIFO trigger; the connect options are for inet: only.
  const own = { timeout: options.timeout, signal: options.signal };
  let transport = parsed.transport;
  if (transport === undefined) {
    // Sanity check: the rest of the caller's input, before the stat.
    requestBytes(request);
    checkTimeout("timeout", options.timeout, 10_000);
    checkSignal(options.signal)?.throwIfAborted();
    const what = cannot("trigger", path);
    requirePermission({ name: "read", path }, `--allow-read=${path}`, what);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      throw withEndpoint(error, what);
    }
    if (info.isSocket) transport = "unix";
    else if (info.isFifo) transport = "fifo";
    else throw new Deno.errors.InvalidData(`${what}: it is neither a socket nor a FIFO`);
  }
  return transport === "unix" ? await unixTrigger(path, request, own) : await fifoTrigger(path, request, own);
}
