/**
 * Sends a trigger to a TCP service, as Postfix's inet_trigger.
 *
 * @module
 */
import type { InetConnectOptions } from "../connect/inet_connect.ts";
import { parseHostPort } from "../connect/_host_port.ts";
import { checkInetPlan, connectInet } from "../connect/_inet.ts";
import { checkSignal, checkTimeout, Deadline } from "../_deadline.ts";
import { cannot } from "../_errors.ts";
import { INET_TRIGGER_OPTIONS, requestBytes, sendStream, triggerError, type TriggerResult } from "./_request.ts";
import { checkOptions } from "../_options.ts";

export type { TriggerOutcome, TriggerResult, TriggerTransport } from "./_request.ts";

/** Options for {@linkcode inetTrigger}. */
export interface InetTriggerOptions
  extends Pick<InetConnectOptions, "protocols" | "strategy" | "attemptDelay" | "attemptTimeout" | "lookup"> {
  /**
   * Milliseconds the whole trigger may take: resolution, connect, write,
   * and the wait for the server to close (Postfix `trigger_timeout`).
   * `Infinity` waits without limit; 0 gives up at once (unlike Postfix, where 0
   * means no limit).
   * @default {10000}
   */
  timeout?: number;
  /** Aborts the trigger; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Sends a trigger to a TCP service. Requires `--allow-net` permission.
 *
 * Connects as {@linkcode inetConnect} does (Postfix address syntax, Happy
 * Eyeballs or serial), writes the request followed by one NUL byte in ONE
 * write, then waits for the server to close, all within `timeout`. The
 * result's `outcome` says how it ended: `"closed"` (a confirmed receipt),
 * `"reset"` (dropped, typically unread) or `"timeout"` (written, no answer
 * in time). The socket is closed before the promise settles.
 *
 * @param address The service, e.g. `"127.0.0.1:10025"`.
 * @param request The request bytes.
 * @param options Timeout, signal and connect options.
 * @returns What was sent and how it ended.
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {SyntaxError} when `address` cannot be parsed.
 * @throws {RangeError} when the port or a timeout is out of range.
 * @throws {Deno.errors.NotCapable} when `--allow-net` does not cover the address.
 * @throws {Deno.errors.NotFound} when the host does not resolve to an allowed address.
 * @throws {Deno.errors.ConnectionRefused} when nothing listens (or the class of the last failure).
 * @throws {Deno.errors.BrokenPipe} when the server went away before the request was written.
 * @throws {DOMException} `TimeoutError` when the connect or the write does not finish in time.
 * @throws {unknown} `signal.reason` when `signal` aborts.
 * @see Port of Postfix inet_trigger(3).
 * @tags allow-net
 *
 * @example Wake a TCP server on loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { inetTrigger } from "@postnet/net/trigger";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const server = (async () => {
 *   using conn = await listener.accept();
 *   const buffer = new Uint8Array(1024);
 *   return buffer.subarray(0, (await conn.read(buffer)) ?? 0);
 * })();
 * const result = await inetTrigger(`127.0.0.1:${listener.addr.port}`, "W");
 * assert.deepEqual(await server, Uint8Array.of(87, 0)); // "W" and its NUL
 * assert.equal(result.peerClosed, true);
 * ```
 */
export async function inetTrigger(
  address: string,
  request: string | Uint8Array,
  options: InetTriggerOptions = {},
): Promise<TriggerResult> {
  options = checkOptions(options, INET_TRIGGER_OPTIONS);
  const start = performance.now();
  // Sanity check: everything the caller gave, before any I/O.
  const { host, port } = parseHostPort(address, "client");
  const wire = requestBytes(request, 1);
  const timeout = checkTimeout("timeout", options.timeout, 10_000);
  // The connect has no timeout of its own: the trigger's deadline bounds it.
  const plan = checkInetPlan(options, Infinity);
  const signal = checkSignal(options.signal);
  const endpoint = `inet:${address}`;

  const what = cannot("trigger", endpoint);
  // Released in finally rather than with `using`, which costs a disposal stack per call on this hot path.
  const deadline = new Deadline(what, timeout, signal);
  try {
    let conn: Deno.TcpConn;
    try {
      conn = await connectInet(host, port, plan, deadline, cannot("connect to", endpoint));
    } catch (error) {
      throw triggerError(error, what, signal);
    }
    const { bytes, peerClosed, outcome } = await sendStream(conn, wire, deadline, what);
    return { endpoint, transport: "inet", bytes, peerClosed, outcome, elapsed: performance.now() - start };
  } finally {
    deadline[Symbol.dispose]();
  }
}
