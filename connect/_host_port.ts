/**
 * Splits a Postfix endpoint address into host and port, and formats it back.
 * Internal helper of the inet functions, never exported from a `mod.ts`.
 *
 * @module
 */

import { isIP } from "node:net";
import { Recent } from "../_recent.ts";

/** Which side of the connection an address is for: omitted hosts mean localhost on the client side and the wildcard address on the server side. */
export type AddressSide = "client" | "server";

/** A parsed address. */
export interface HostPort {
  /** Host name or IP address without brackets; `""` is the wildcard address (server side only). */
  host: string;
  /** Port number: 1..65535 on the client side, 0..65535 on the server side. */
  port: number;
}

/* Postfix's known_tcp_ports default; no /etc/services, so a name means the
 * same port everywhere. A Map, so "toString" or "__proto__" are not found. */
const KNOWN_TCP_PORTS: ReadonlyMap<string, number> = new Map([
  ["lmtp", 24],
  ["smtp", 25],
  ["smtps", 465],
  ["submissions", 465],
  ["submission", 587],
]);

/* One DNS label; "_" is allowed because Postfix's valid_hostname() allows it. */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/**
 * Parses `host:port`, `[host]:port`, `[ipv6:addr]:port`, `:port` or `port`.
 *
 * Unbracketed input splits at the right-most colon, so `::1:25` is host `::1`
 * port 25. A bare word is a port. An omitted host is `"localhost"` on the
 * client side and `""` (the wildcard address) on the server side.
 *
 * @param address The address, as written in Postfix configuration.
 * @param side Whether the address is to connect to or to listen on.
 * @returns The host without brackets and the numeric port; frozen, and the
 * same object again for the same address lately parsed.
 * @throws {TypeError} `address` is not a string, or `side` is not valid.
 * @throws {SyntaxError} The address cannot be parsed, the host is not a valid
 * hostname or IP address, or the service name is unknown.
 * @throws {RangeError} The port is outside 1..65535 (client) or 0..65535 (server).
 * @see Port of Postfix host_port(3).
 */
export function parseHostPort(address: string, side: AddressSide): Readonly<HostPort> {
  // Sanity check: callers may be plain JavaScript.
  if (typeof address !== "string") {
    throw new TypeError(`address must be a string, got ${typeof address}`);
  }
  if (side !== "client" && side !== "server") {
    const got = typeof side === "string" ? `"${side}"` : typeof side;
    throw new TypeError(`side must be "client" or "server", got ${got}`);
  }
  const parsed = PARSED[side];
  return parsed.get(address) ?? parsed.remember(address, Object.freeze(parse(address, side)));
}

/* Addresses parsed lately, per side: a client triggers the same few
 * endpoints again and again, and parsing one takes regular expressions. */
const PARSED: Record<AddressSide, Recent<string, Readonly<HostPort>>> = {
  client: new Recent(64),
  server: new Recent(64),
};

/* The parser behind parseHostPort, for a string and a valid side. */
function parse(address: string, side: AddressSide): HostPort {
  if (address === "") throw invalid(address, "empty address");

  // undefined means omitted, which differs from a bracketed empty host "[]".
  let host: string | undefined;
  let service: string;
  if (address.startsWith("[")) {
    // [host]:port, [host]:, [host]; the brackets protect colons in IPv6.
    const close = address.indexOf("]");
    if (close < 0) throw invalid(address, "missing ]");
    const rest = address.slice(close + 1);
    if (/^[^:]/.test(rest)) throw invalid(address, "garbage after ]");
    host = address.slice(1, close);
    // RFC 2821 address literal "[IPv6:...]"; Postfix ignores the tag's case.
    if (/^ipv6:/i.test(host)) {
      host = host.slice("ipv6:".length);
      if (ipVersion(host) !== 6) {
        throw invalid(address, "malformed IPv6 address");
      }
    }
    service = rest.slice(1);
  } else {
    // host:port, host:, :port, port; the right-most colon, so ::1:25 works.
    // Without a colon, slice(0) makes the whole bare word the service.
    const colon = address.lastIndexOf(":");
    if (colon > 0) host = address.slice(0, colon);
    service = address.slice(colon + 1);
  }
  if (service === "") throw invalid(address, "missing service information");

  // Final checks, in Postfix's order: the host first, then the service.
  if (host !== undefined && !isValidHost(host)) {
    throw invalid(address, "valid hostname or network address required");
  }
  return {
    host: host ?? (side === "client" ? "localhost" : ""),
    port: toPort(address, service, side),
  };
}

/**
 * Formats host and port back as Postfix writes them: "[v6]:port" for IPv6, "host:port" otherwise.
 *
 * The result parses back with {@linkcode parseHostPort} to the same host and
 * port. No validation: this is for messages and round trips.
 *
 * @param host Host name or IP address, without brackets.
 * @param port Port number.
 */
export function formatHostPort(host: string, port: number): string {
  // Any colon in the host would be taken for the port separator on the way back.
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/* Turns a decimal or symbolic service into a port number for this side. */
function toPort(address: string, service: string, side: AddressSide): number {
  if (/^[0-9]/.test(service)) {
    // Postfix's rule: starting with a digit means numeric, so "25x" is a typo.
    if (!/^[0-9]+$/.test(service)) {
      throw invalid(address, "garbage after numerical service");
    }
    // Port 0 asks the kernel for a free port, which only a listener can use.
    const min = side === "client" ? 1 : 0;
    const port = Number(service);
    if (port < min || port > 65535) {
      const reason = `port ${service} is out of range ${min}..65535`;
      throw invalid(address, reason, RangeError);
    }
    return port;
  }
  const port = KNOWN_TCP_PORTS.get(service);
  if (port !== undefined) return port;
  throw invalid(address, `unknown service "${service}"`);
}

/* 4 or 6 for an IP address, 0 otherwise. */
function ipVersion(host: string): number {
  // Zone ids ("fe80::1%eth0") name an interface of one machine; Postfix's
  // valid_ipv6_hostaddr() refuses them, although isIP() accepts them.
  if (host.includes("%")) return 0;
  return isIP(host);
}

/* True for an IP address or a syntactically valid host name. */
function isValidHost(host: string): boolean {
  if (ipVersion(host) !== 0) return true;
  if (host.length === 0 || host.length > 255) return false;
  // Digits and dots that are not an IPv4 address ("1.2.3", "010.0.0.1") would
  // be read by the resolver as some other address: refuse, as Postfix does.
  if (/^[0-9.]+$/.test(host)) return false;
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  return name.split(".").every((label) => LABEL.test(label));
}

/* An error that names the input and the reason, Postfix style. */
function invalid(
  address: string,
  reason: string,
  ErrorClass: typeof SyntaxError | typeof RangeError = SyntaxError,
): Error {
  return new ErrorClass(`Invalid address "${address}": ${reason}`);
}
