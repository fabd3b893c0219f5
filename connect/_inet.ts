/**
 * Internal: the TCP connect behind `inetConnect` and `inetTrigger`, for a
 * host and port already parsed and options already checked, under the
 * caller's {@linkcode Deadline}.
 *
 * @module
 */
import { isIP } from "node:net";
import { formatHostPort } from "./_host_port.ts";
import { checkProtocols, interleave, resolve } from "./_resolve.ts";
import type { InetProtocols, LookupFunction } from "./_resolve.ts";
import { type AttemptFailure, connectFirst } from "./_attempts.ts";
import { checkTimeout, type Deadline } from "../_deadline.ts";
import { explainDenial, hasPermission, requirePermission } from "../_permissions.ts";
import { plainReason } from "../_errors.ts";

/** The connect options `inetConnect` and `inetTrigger` share, as given. */
export interface InetPlanOptions {
  attemptTimeout?: number;
  protocols?: InetProtocols;
  strategy?: "happy-eyeballs" | "serial";
  attemptDelay?: number;
  lookup?: LookupFunction;
}

/** The same options, checked, with their defaults. */
export interface InetPlan {
  /** The whole operation's timeout, which `attemptTimeout` defaults to. */
  timeout: number;
  attemptTimeout: number;
  protocols: InetProtocols;
  strategy: "happy-eyeballs" | "serial";
  attemptDelay: number;
  lookup: LookupFunction | undefined;
}

/**
 * Checks the connect options, before any I/O.
 *
 * @throws {TypeError} when an option has the wrong type or value.
 * @throws {RangeError} when a timeout or `attemptDelay` is out of range.
 */
export function checkInetPlan(options: InetPlanOptions, timeout: number): InetPlan {
  const attemptTimeout = checkTimeout("attemptTimeout", options.attemptTimeout, timeout);
  const attemptDelay = checkTimeout("attemptDelay", options.attemptDelay, 250);
  if (attemptDelay < 10) throw new RangeError(`attemptDelay must be at least 10 ms, got ${attemptDelay}`);
  const protocols = checkProtocols(options.protocols);
  const strategy = options.strategy ?? "happy-eyeballs";
  if (strategy !== "happy-eyeballs" && strategy !== "serial") {
    throw new TypeError(`strategy must be "happy-eyeballs" or "serial", got ${JSON.stringify(strategy)}`);
  }
  if (options.lookup !== undefined && typeof options.lookup !== "function") {
    throw new TypeError(`lookup must be a function, got ${typeof options.lookup}`);
  }
  return { timeout, attemptTimeout, protocols, strategy, attemptDelay, lookup: options.lookup };
}

/**
 * Connects to `host` (a name or an IP address, no brackets) at `port`, as
 * `plan` says, until `deadline`. Rejects with the deadline's reason once it
 * has passed, otherwise with an error naming every address tried.
 */
export async function connectInet(
  host: string,
  port: number,
  plan: InetPlan,
  deadline: Deadline,
  what: string,
): Promise<Deno.TcpConn> {
  const target = formatHostPort(host, port);
  // A name is resolved first, which needs the grant; for an address Deno checks it as it connects.
  const family = isIP(host);
  if (family === 0) requirePermission({ name: "net", host: target }, `--allow-net=${target}`, what);
  deadline.throwIfAborted();
  // An IP literal: one attempt under the deadline, as Deno.connect makes it (target checked above).
  const literal = family !== 0 && plan.attemptTimeout >= plan.timeout && allows(plan.protocols, family);
  try {
    if (literal) return await Deno.connect({ hostname: host, port, signal: deadline.signal, autoSelectFamily: false });
    // The system resolver (node:dns) needs --allow-net=HOST, every port; a
    // grant of HOST:PORT alone only lets Deno.connect resolve the name itself.
    const byName = plan.lookup === undefined && family === 0 && !hasPermission({ name: "net", host });
    if (!byName) {
      const addresses = await resolve(host, plan.protocols, plan.lookup, deadline.signal, what);
      if (addresses.every((a) => hasPermission({ name: "net", host: formatHostPort(a.address, port) }))) {
        const serial = plan.strategy === "serial";
        const order = serial ? addresses : interleave(addresses);
        const attemptDelay = serial ? Infinity : plan.attemptDelay;
        return await connectFirst(order, port, { attemptDelay, attemptTimeout: plan.attemptTimeout }, deadline.signal);
      }
    }
    const conn = await connectByName(host, port, plan.strategy, plan.attemptDelay, deadline.signal, what);
    checkFamily(conn, plan.protocols, what);
    return conn;
  } catch (error) {
    if (deadline.aborted) throw deadline.reason;
    if (error instanceof Deno.errors.NotCapable) throw explainDenial(error, what);
    // The one attempt at a literal fails as a list of one, as connectFirst's do.
    throw describe(literal ? [{ address: target, error }] : error, what);
  }
}

/** Whether `protocols` allows an address of IP version `family`. */
function allows(protocols: InetProtocols, family: number): boolean {
  return protocols === "all" || (protocols === "ipv4" ? family === 4 : family === 6);
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
  return error instanceof DOMException ? error.message : plainReason(error);
}
