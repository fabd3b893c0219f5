/**
 * Connects to a TCP listener given a Postfix address (`host:port`).
 *
 * @module
 */
import { isIP } from "node:net";
import { formatHostPort, parseHostPort } from "./_host_port.ts";
import { checkProtocols, interleave, resolve } from "./_resolve.ts";
import type { InetProtocols, LookupAddress, LookupFunction } from "./_resolve.ts";
import { type AttemptFailure, connectFirst } from "./_attempts.ts";
import { checkSignal, checkTimeout, Deadline } from "../_deadline.ts";
import { explainDenial, hasPermission, requirePermission } from "../_permissions.ts";

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
 * import { inetConnect } from "@postnet/net/connect";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await inetConnect(`127.0.0.1:${listener.addr.port}`, { timeout: 5_000 });
 * using peer = await listener.accept();
 * console.log(conn.remoteAddr.port === listener.addr.port); // true
 * ```
 */
export async function inetConnect(
  address: string,
  options: InetConnectOptions = {},
): Promise<Deno.TcpConn> {
  // Sanity check: everything the caller gave, before any I/O.
  const { host, port } = parseHostPort(address, "client");
  const timeout = checkTimeout("timeout", options.timeout, 30_000);
  const attemptTimeout = checkTimeout("attemptTimeout", options.attemptTimeout, timeout);
  const attemptDelay = checkTimeout("attemptDelay", options.attemptDelay, 250);
  if (attemptDelay < 10) throw new RangeError(`attemptDelay must be at least 10 ms, got ${attemptDelay}`);
  const signal = checkSignal(options.signal);
  const protocols = checkProtocols(options.protocols);
  const strategy = options.strategy ?? "happy-eyeballs";
  if (strategy !== "happy-eyeballs" && strategy !== "serial") {
    throw new TypeError(`strategy must be "happy-eyeballs" or "serial", got ${JSON.stringify(strategy)}`);
  }
  if (options.lookup !== undefined && typeof options.lookup !== "function") {
    throw new TypeError(`lookup must be a function, got ${typeof options.lookup}`);
  }
  const what = `Cannot connect to "${address}"`;
  const target = formatHostPort(host, port);
  // A name is resolved first, which needs the grant; for an address Deno checks it as it connects.
  const literal = isIP(host) !== 0;
  if (!literal) requirePermission({ name: "net", host: target }, `--allow-net=${target}`, what);

  using deadline = new Deadline(what, timeout, signal);
  deadline.throwIfAborted();
  let conn: Deno.TcpConn;
  try {
    // The system resolver (node:dns) needs --allow-net=HOST, every port; a
    // grant of HOST:PORT alone only lets Deno.connect resolve the name itself.
    const byName = options.lookup === undefined && !literal && !hasPermission({ name: "net", host });
    const addresses = byName ? [] : await resolve(host, protocols, options.lookup, deadline.signal, what);
    if (!byName && addresses.length === 1 && addresses[0].address === host && attemptTimeout >= timeout) {
      // An IP literal: one attempt under the deadline, as Deno.connect makes it (target checked above).
      conn = await connectOne(host, port, deadline.signal, what);
    } else if (
      !byName && addresses.every((a) => hasPermission({ name: "net", host: formatHostPort(a.address, port) }))
    ) {
      const order = strategy === "serial" ? addresses : interleave(addresses);
      const delay = strategy === "serial" ? Infinity : attemptDelay;
      conn = await connectFirst(order, port, { attemptDelay: delay, attemptTimeout }, deadline.signal);
    } else {
      conn = await connectByName(host, port, strategy, attemptDelay, deadline.signal, what);
      checkFamily(conn, protocols, what);
    }
  } catch (error) {
    if (deadline.signal.aborted) throw deadline.reason;
    throw describe(error, what);
  }
  if (options.noDelay !== undefined) conn.setNoDelay(options.noDelay);
  if (options.keepAlive !== undefined) conn.setKeepAlive(options.keepAlive);
  return conn;
}

/** One attempt at one address; a failure is reported as the list connectFirst gives. */
async function connectOne(hostname: string, port: number, signal: AbortSignal, what: string): Promise<Deno.TcpConn> {
  try {
    return await Deno.connect({ hostname, port, signal, autoSelectFamily: false });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw explainDenial(error, what);
    throw [{ address: formatHostPort(hostname, port), error }];
  }
}

/** Lets Deno resolve and connect: the grant names the host, not its addresses. */
async function connectByName(
  hostname: string,
  port: number,
  strategy: "happy-eyeballs" | "serial",
  attemptDelay: number,
  signal: AbortSignal,
  what: string,
): Promise<Deno.TcpConn> {
  try {
    return await Deno.connect({
      hostname,
      port,
      signal,
      autoSelectFamily: strategy === "happy-eyeballs",
      autoSelectFamilyAttemptDelay: attemptDelay,
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw explainDenial(error, what);
    throw [{ address: formatHostPort(hostname, port), error }];
  }
}

/** Safety net: closes a connection of a family that `protocols` forbids. */
function checkFamily(conn: Deno.TcpConn, protocols: InetProtocols, what: string): void {
  const v6 = conn.remoteAddr.hostname.includes(":");
  if ((protocols === "ipv4" && v6) || (protocols === "ipv6" && !v6)) {
    const peer = formatHostPort(conn.remoteAddr.hostname, conn.remoteAddr.port);
    conn.close();
    throw new Deno.errors.NotFound(`${what}: connected to ${peer}, which protocols "${protocols}" does not allow`);
  }
}

/**
 * Turns the list of failed attempts into one error: the class of the last
 * failure (Postfix reports the last error), a message naming every address.
 */
function describe(error: unknown, what: string): unknown {
  if (!Array.isArray(error)) return error;
  const failures = error as AttemptFailure[];
  const last = failures[failures.length - 1].error;
  const message = `${what}: ${failures.map((f) => `${f.address}: ${reason(f.error)}`).join("; ")}`;
  if (last instanceof DOMException) return new DOMException(message, last.name);
  const Class = (last instanceof Error ? last.constructor : Error) as ErrorConstructor;
  return new Class(message, { cause: failures.length === 1 ? last : new AggregateError(failures.map((f) => f.error)) });
}

function reason(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? error.message : String(error);
}
