/**
 * Serves triggers on a UNIX-domain socket, a FIFO or a TCP port, as
 * Postfix's trigger_server does for pickup and qmgr.
 *
 * @module
 */
import { checkSignal, checkTimeout } from "../_deadline.ts";
import { inetListen } from "../listen/inet_listen.ts";
import { unixListen } from "../listen/unix_listen.ts";
import { fifoListen, type FifoListener } from "../listen/fifo_listen.ts";
import { parseEndpoint } from "./_endpoint.ts";
import { lstatOrUndefined } from "../listen/_path_kind.ts";
import { cannot } from "../_errors.ts";
import { FifoServer, type Settings, StreamServer } from "./_servers.ts";
import { defaultMaxConnections } from "./_limits.ts";
import type { TriggerTransport } from "./_request.ts";
import { checkOptions } from "../_options.ts";

export type { FifoListener } from "../listen/fifo_listen.ts";

/** One trigger, as the handler receives it. */
export interface TriggerRequest {
  /** The request: the bytes received, less the NUL that ends a stream request. */
  readonly request: Uint8Array;
  /** The bytes exactly as received (a FIFO chunk may hold several writers' requests). */
  readonly data: Uint8Array;
  /** How it arrived. */
  readonly transport: TriggerTransport;
  /** The server's endpoint, with its transport prefix. */
  readonly endpoint: string;
  /** Aborts when `handlerTimeout` passes; the server stops waiting then. */
  readonly signal: AbortSignal;
}

/** Called once per trigger. A thrown error or rejection goes to `onError`. */
export type TriggerHandler = (trigger: TriggerRequest) => void | Promise<void>;

/** Options for {@linkcode serveTriggers}. */
export interface ServeTriggersOptions {
  /** Stops the server, as `close()` does. */
  signal?: AbortSignal;
  /**
   * Milliseconds a connection may stay silent before it is closed (Postfix: 10 s).
   * @default {10000}
   */
  readTimeout?: number;
  /**
   * Milliseconds to wait for more bytes after some arrived without the NUL
   * that ends a stream request.
   * @default {100}
   */
  pause?: number;
  /**
   * Largest request taken, in bytes (Postfix: 1024). A longer request is cut
   * there and the connection closed; a FIFO is read in chunks of this size.
   * @default {1024}
   */
  maxRequestBytes?: number;
  /**
   * Most triggers in progress at once (a connection being read, then its
   * handler). Beyond it, new connections wait in the listen queue (and the
   * backlog refuses the rest). Each connection holds a file descriptor and
   * about 10 KiB until `readTimeout` closes it. The default keeps the
   * server's descriptors below the process's soft limit (RLIMIT_NOFILE, read
   * from `/proc/self/limits` when `--allow-read=/proc/self/limits` is
   * granted): 2048, or the limit less an eighth of it (at least 64) for the
   * rest of the process, e.g. 192 under a limit of 256. Where the limit
   * cannot be read, 2048. A larger value is the caller's choice: past the
   * limit, accept fails with EMFILE, which the server reports once per
   * episode and retries with a growing pause until descriptors free.
   * @default {2048, or fewer under a low descriptor limit}
   */
  maxConnections?: number;
  /**
   * Milliseconds a handler may run before the server reports a
   * `TimeoutError` to `onError`, aborts `trigger.signal` and stops waiting.
   * @default {10000}
   */
  handlerTimeout?: number;
  /**
   * Receives handler errors, handler timeouts and accept errors (clients
   * that reset or vanish are not errors and are not reported). The server
   * keeps serving. Without it, errors go to `globalThis.reportError`, as an
   * error thrown by an event listener does: the process ends unless a
   * global `"error"` listener calls `preventDefault()`.
   * @default {globalThis.reportError}
   */
  onError?: (error: unknown) => void;
  /** Mode of the socket or FIFO the server creates. @default {0o666 for a socket, 0o622 for a FIFO} */
  mode?: number;
}

/** A running trigger server. */
export interface TriggerServer extends AsyncDisposable {
  /** Where it listens, with its transport prefix (the real port for `inet:HOST:0`). */
  readonly endpoint: string;
  /** Its transport. */
  readonly transport: TriggerTransport;
  /** Resolves once the server has stopped and every handler has settled. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, cuts silent connections short, waits for running
   * handlers (at most `handlerTimeout`) and removes the socket or FIFO.
   */
  close(): Promise<void>;
}

/** A listener to serve on, instead of an endpoint string. */
export type TriggerListener = Deno.TcpListener | Deno.UnixListener | FifoListener;

/* The options serveTriggers takes: any other is a mistake, reported before any I/O. */
const KNOWN: ReadonlySet<string> = new Set([
  "signal",
  "readTimeout",
  "pause",
  "maxRequestBytes",
  "maxConnections",
  "handlerTimeout",
  "onError",
  "mode",
]);

/**
 * Serves triggers. Requires the permissions of the listener it creates:
 * see {@linkcode inetListen}, {@linkcode unixListen} and {@linkcode fifoListen}.
 *
 * Postfix trigger_server semantics: per connection, wait up to `readTimeout`
 * for data, take at most `maxRequestBytes`, close the connection, then call
 * `handler` with the bytes, even when there are none. One improvement: a
 * stream request ends at its NUL, so the server reads until the NUL (or
 * end-of-file, the limit, or `pause` after the first bytes) and never closes
 * between a client's request and its NUL, which kills postkick with SIGPIPE.
 * The close acknowledges receipt, not processing. On a FIFO, each chunk read
 * is one call; writes that arrive together are coalesced.
 *
 * Postfix request codes are one byte each; read them with
 * `for (const code of new TextDecoder().decode(request))`. `inet:` is
 * beyond Postfix, which serves triggers on unix and fifo only.
 *
 * @param endpoint `unix:PATH`, `fifo:PATH`, `inet:HOST:PORT`, a bare path (a
 * FIFO there is reused, otherwise a socket is made), or a listener to take over.
 * @param handler Called once per trigger.
 * @param options Limits, signal, error reporting.
 * @returns The running server; close it (or use `await using`).
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {SyntaxError} when the endpoint cannot be parsed.
 * @throws {RangeError} when an option is out of range.
 * @throws {Deno.errors.NotCapable} when a permission is missing; the message names the flag.
 * @throws {Deno.errors.AddrInUse} when a live server owns the endpoint.
 * @throws {Deno.errors.AlreadyExists} when something else is in the way at the path.
 * @see Port of Postfix trigger_server(3).
 * @tags allow-net, allow-read, allow-write, allow-run
 *
 * @example Count triggers on a loopback port
 * ```ts
 * import assert from "node:assert/strict";
 * import { inetTrigger, serveTriggers } from "@postnet/net/trigger";
 *
 * let count = 0;
 * await using server = await serveTriggers("inet:127.0.0.1:0", () => void count++);
 * await inetTrigger(server.endpoint.slice("inet:".length), "W");
 * await server.close();
 * assert.equal(count, 1);
 * ```
 */
export async function serveTriggers(
  endpoint: string | TriggerListener,
  handler: TriggerHandler,
  options: ServeTriggersOptions = {},
): Promise<TriggerServer> {
  options = checkOptions(options, KNOWN);
  // Sanity check: everything the caller gave, before any I/O.
  if (typeof handler !== "function") throw new TypeError(`handler must be a function, got ${typeof handler}`);
  const settings: Settings = {
    readTimeout: checkTimeout("readTimeout", options.readTimeout, 10_000),
    pause: checkTimeout("pause", options.pause, 100),
    maxRequestBytes: checkCount("maxRequestBytes", options.maxRequestBytes, 1024),
    maxConnections: checkCount("maxConnections", options.maxConnections, defaultMaxConnections()),
    handlerTimeout: checkTimeout("handlerTimeout", options.handlerTimeout, 10_000),
    onError: options.onError ?? ((error: unknown) => globalThis.reportError(error)),
    handler,
  };
  if (typeof settings.onError !== "function") throw new TypeError("onError must be a function");
  const signal = checkSignal(options.signal);
  signal?.throwIfAborted();
  const listener = typeof endpoint === "string"
    ? await listen(endpoint, options.mode, settings.maxRequestBytes)
    : endpoint;
  const server = "accept" in listener ? new StreamServer(listener, settings) : new FifoServer(listener, settings);
  if (signal?.aborted) {
    // The signal aborted while the listener was being made: an abort event will not come again.
    void server.close();
  } else if (signal) {
    const onAbort = () => void server.close();
    signal.addEventListener("abort", onAbort, { once: true });
    server.finished.finally(() => signal.removeEventListener("abort", onAbort));
  }
  return server;
}

/** Checks a positive integer option. */
function checkCount(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Creates the listener an endpoint names. A bare path: a FIFO there is reused, else a socket. */
async function listen(endpoint: string, mode: number | undefined, readSize: number): Promise<TriggerListener> {
  const parsed = parseEndpoint(endpoint, "server");
  // A deep backlog: a burst of 1,000 clients would overflow Deno's 511 and wait out SYN retries.
  if (parsed.transport === "inet") return inetListen(parsed.address, { backlog: 4096 });
  let transport = parsed.transport;
  if (transport === undefined) {
    const info = await lstatOrUndefined(parsed.path, cannot("listen on", parsed.path));
    transport = info?.isFifo ? "fifo" : "unix";
  }
  if (transport === "fifo") return await fifoListen(parsed.path, { mode, readSize });
  return await unixListen(parsed.path, { mode });
}
