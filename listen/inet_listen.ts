/**
 * Listens for TCP connections on a Postfix server-side address.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "../connect/_host_port.ts";
import { checkProtocols, type InetProtocols } from "../connect/_resolve.ts";
import { requirePermission } from "../_permissions.ts";
import { cannot, withEndpoint } from "../_errors.ts";
import { isIP } from "node:net";
import { checkOptions } from "../_options.ts";

export type { InetProtocols };

/** Options for {@linkcode inetListen}. */
export interface InetListenOptions {
  /**
   * Address families to use, as Postfix's `inet_protocols`. It picks the
   * wildcard address (`"ipv4"`: `0.0.0.0`, `"ipv6"` and `"all"`: `::`,
   * dual-stack on Linux) and rejects a host of another family.
   * @default {"all"}
   */
  protocols?: InetProtocols;
  /**
   * Length of the queue of connections not yet accepted (`listen(2)` backlog).
   * @default {511}
   */
  backlog?: number;
  /**
   * Sets SO_REUSEPORT so several processes can listen on the port. Deno
   * supports it only with `--unstable-net`; without it this throws instead
   * of letting Deno end the process.
   * @default {false}
   */
  reusePort?: boolean;
}

/* The options inetListen takes: any other is a mistake, reported before any I/O. */
const KNOWN: ReadonlySet<string> = new Set(["protocols", "backlog", "reusePort"]);

/**
 * Listens for TCP connections. Requires `--allow-net` permission.
 *
 * `address` uses Postfix's server-side syntax: `host:port`, `[host]:port`,
 * `[ipv6:addr]:port`; `:port` and `port` mean the wildcard address. Port 0
 * picks a free port (read it from `listener.addr.port`). A host name is
 * resolved by Deno and the first address is bound, as Postfix binds the
 * first allowed address. Deno sets SO_REUSEADDR; IPV6_V6ONLY and the socket
 * buffer sizes cannot be set (Deno has no setsockopt).
 *
 * @param address Where to listen, e.g. `"127.0.0.1:0"`, `"[::1]:2525"`, `":smtp"`.
 * @param options Families, backlog, reusePort.
 * @returns The listener; the caller closes it.
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {SyntaxError} when `address` cannot be parsed.
 * @throws {RangeError} when the port or backlog is out of range.
 * @throws {Deno.errors.NotCapable} when `--allow-net` does not cover the address.
 * @throws {Deno.errors.NotSupported} when `reusePort` is asked for without `--unstable-net`.
 * @throws {Deno.errors.AddrInUse} when the address is taken.
 * @throws {Deno.errors.AddrNotAvailable} when the host is not a local address or of a family `protocols` forbids.
 * @see Port of Postfix inet_listen(3).
 * @tags allow-net
 *
 * @example Listen on a free loopback port
 * ```ts
 * import assert from "node:assert/strict";
 * import { inetListen } from "@postnet/net/listen";
 *
 * using listener = inetListen("127.0.0.1:0");
 * assert.ok(listener.addr.port > 0);
 * assert.equal(listener.addr.hostname, "127.0.0.1");
 * ```
 */
export function inetListen(address: string, options: InetListenOptions = {}): Deno.TcpListener {
  options = checkOptions(options, KNOWN);
  // Sanity check: everything the caller gave, before any I/O.
  const { host, port } = parseHostPort(address, "server");
  const protocols = checkProtocols(options.protocols);
  const backlog = options.backlog;
  if (backlog !== undefined && (!Number.isInteger(backlog) || backlog < 0 || backlog > 65535)) {
    throw new RangeError(`backlog must be an integer from 0 to 65535, got ${backlog}`);
  }
  const reusePort = options.reusePort ?? false;
  if (typeof reusePort !== "boolean") throw new TypeError(`reusePort must be a boolean, got ${typeof reusePort}`);
  const hostname = host === "" ? (protocols === "ipv4" ? "0.0.0.0" : "::") : host;
  const what = cannot("listen on", `inet:${address}`);
  // Deno ends the process (exit 70) when reusePort is used without the flag.
  if (reusePort && typeof (Deno as Record<string, unknown>).listenDatagram !== "function") {
    throw new Deno.errors.NotSupported(`${what}: reusePort requires --unstable-net`);
  }
  const literal = isIP(hostname);
  if ((protocols === "ipv4" && literal === 6) || (protocols === "ipv6" && literal === 4)) {
    throw new Deno.errors.AddrNotAvailable(
      `${what}: an IPv${literal} address is not allowed by protocols "${protocols}"`,
    );
  }
  const target = formatHostPort(hostname, port);
  requirePermission({ name: "net", host: target }, `--allow-net=${target}`, what);

  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname, port, reusePort, tcpBacklog: backlog });
  } catch (error) {
    throw withEndpoint(error, what);
  }
  // Safety net: a host name may resolve to a family protocols forbids.
  const v6 = listener.addr.hostname.includes(":");
  if ((protocols === "ipv4" && v6) || (protocols === "ipv6" && !v6)) {
    const bound = formatHostPort(listener.addr.hostname, listener.addr.port);
    listener.close();
    throw new Deno.errors.AddrNotAvailable(`${what}: ${bound} is not allowed by protocols "${protocols}"`);
  }
  return listener;
}
