/**
 * Connects to a TCP listener given a Postfix address (`host:port`).
 *
 * @module
 */
import { parseHostPort } from "./_host_port.ts";
import type { InetProtocols, LookupAddress, LookupFunction } from "./_resolve.ts";
import { checkInetPlan, connectInet } from "./_inet.ts";
import { checkSignal, checkTimeout, Deadline } from "../_deadline.ts";
import { cannot } from "../_errors.ts";
import { checkOptions } from "../_options.ts";

export type { InetProtocols, LookupAddress, LookupFunction };

/** Options for {@linkcode inetConnect}. */
export interface InetConnectOptions {
  /**
   * Milliseconds the whole operation (resolution and every attempt) may take.
   * `Infinity` waits without limit; 0 gives up at once (unlike Postfix, where 0
   * means no limit).
   * @default {30000}
   */
  timeout?: number;
  /**
   * Milliseconds one address may take before the next is tried. Postfix gives
   * every address the full timeout.
   * @default {the `timeout`}
   */
  attemptTimeout?: number;
  /** Aborts the connect; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Address families to use, as Postfix's `inet_protocols`: addresses of
   * other families are skipped.
   * @default {"all"}
   */
  protocols?: InetProtocols;
  /**
   * `"happy-eyeballs"` (RFC 8305): families interleaved, the next address
   * started every `attemptDelay` ms while earlier ones are pending, first
   * success wins. `"serial"`: one address at a time in resolver order, as
   * Postfix does.
   * @default {"happy-eyeballs"}
   */
  strategy?: "happy-eyeballs" | "serial";
  /**
   * Milliseconds between staggered attempts (Happy Eyeballs only); at least 10.
   * @default {250}
   */
  attemptDelay?: number;
  /**
   * A resolver to use instead of the system's getaddrinfo, as `lookup` in
   * Node's `net.connect`.
   * @default {getaddrinfo through `node:dns`, in resolver order}
   */
  lookup?: LookupFunction;
  /** Sets TCP_NODELAY on the connection when given. @default {Deno's default} */
  noDelay?: boolean;
  /** Sets SO_KEEPALIVE on the connection when given. @default {Deno's default} */
  keepAlive?: boolean;
}

/* The options inetConnect takes: any other is a mistake, reported before any I/O. */
const KNOWN: ReadonlySet<string> = new Set([
  "timeout",
  "attemptTimeout",
  "signal",
  "protocols",
  "strategy",
  "attemptDelay",
  "lookup",
  "noDelay",
  "keepAlive",
]);

/**
 * Connects to a TCP listener. Requires `--allow-net` permission.
 *
 * `address` uses Postfix's syntax: `host:port`, `[host]:port`,
 * `[ipv6:addr]:port`; an unbracketed address splits at the right-most colon;
 * `:port` and `port` mean localhost. The port is a number or one of `smtp`,
 * `lmtp`, `submission`, `submissions`/`smtps`.
 *
 * A host name is resolved with getaddrinfo (so `/etc/hosts` applies); the
 * addresses are then tried per `strategy`. When `--allow-net` names the host
 * but not its addresses (or names only `HOST:PORT`, which the system resolver
 * needs as plain `HOST`), the name is handed to `Deno.connect`, which
 * resolves it itself and uses its own Happy Eyeballs; `protocols` is then
 * checked after connecting and `lookup` is not used. Socket buffer sizes
 * (Postfix `inet_windowsize`) cannot be set: Deno has no setsockopt.
 *
 * @param address Where to connect, e.g. `"mail.example:smtp"` or `"[::1]:25"`.
 * @param options Timeouts, signal, families, strategy.
 * @returns The connection; the caller closes it.
 * @throws {TypeError} when an argument has the wrong type or an option is unknown.
 * @throws {SyntaxError} when `address` cannot be parsed.
 * @throws {RangeError} when the port, a timeout or `attemptDelay` is out of range.
 * @throws {Deno.errors.NotCapable} when `--allow-net` does not cover the address.
 * @throws {Deno.errors.NotFound} when the host does not resolve to an allowed address.
 * @throws {Deno.errors.ConnectionRefused} (or the class of the last failure) when
 * every address fails; the message names each address tried and why.
 * @throws {DOMException} `TimeoutError` when `timeout` passes.
 * @throws {unknown} `signal.reason` when `signal` aborts.
 * @see Port of Postfix inet_connect(3).
 * @tags allow-net
 *
 * @example Connect to a listener on loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { inetConnect } from "@postnet/net/connect";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await inetConnect(`127.0.0.1:${listener.addr.port}`, { timeout: 5_000 });
 * using peer = await listener.accept();
 * assert.equal(conn.remoteAddr.port, listener.addr.port);
 * assert.equal(peer.remoteAddr.port, conn.localAddr.port);
 * ```
 */
export async function inetConnect(
  address: string,
  options: InetConnectOptions = {},
): Promise<Deno.TcpConn> {
  options = checkOptions(options, KNOWN);
  // Sanity check: everything the caller gave, before any I/O.
  const { host, port } = parseHostPort(address, "client");
  const timeout = checkTimeout("timeout", options.timeout, 30_000);
  const plan = checkInetPlan(options, timeout);
  const signal = checkSignal(options.signal);
  const what = cannot("connect to", `inet:${address}`);

  using deadline = new Deadline(what, timeout, signal);
  const conn = await connectInet(host, port, plan, deadline, what);
  if (options.noDelay !== undefined) conn.setNoDelay(options.noDelay);
  if (options.keepAlive !== undefined) conn.setKeepAlive(options.keepAlive);
  return conn;
}
