/**
 * Internal: the endpoint syntax shared by trigger(), serveTriggers() and the
 * command line: `inet:host:port`, `unix:path`, `fifo:path`, or a bare path
 * whose type is chosen by stat.
 *
 * @module
 */
import { type AddressSide, parseHostPort } from "../connect/_host_port.ts";
import { checkPath, checkSocketPath } from "../_path.ts";

/** A parsed endpoint. A bare path has transport `undefined` until stat decides. */
export type Endpoint =
  | { transport: "inet"; address: string }
  | { transport: "unix" | "fifo" | undefined; path: string };

const PREFIX = /^([A-Za-z][A-Za-z0-9]*):/;

/**
 * Parses an endpoint.
 *
 * @throws {TypeError} when it is not a string.
 * @throws {SyntaxError} when the transport is unknown or the address cannot be parsed.
 * @throws {RangeError} when a path is empty, holds a NUL, or a socket path is too long.
 */
export function parseEndpoint(endpoint: unknown, side: AddressSide): Endpoint {
  if (typeof endpoint !== "string") throw new TypeError(`endpoint must be a string, got ${typeof endpoint}`);
  const prefix = PREFIX.exec(endpoint)?.[1];
  if (prefix === undefined) return { transport: undefined, path: checkPath(endpoint, "endpoint") };
  const rest = endpoint.slice(prefix.length + 1);
  switch (prefix) {
    case "inet":
      parseHostPort(rest, side);
      return { transport: "inet", address: rest };
    case "unix":
      return { transport: "unix", path: checkSocketPath(rest) };
    case "fifo":
      return { transport: "fifo", path: checkPath(rest) };
    default:
      throw new SyntaxError(
        `Invalid endpoint "${endpoint}": unknown transport "${prefix}" (use inet:, unix: or fifo:, or write ./ before a relative path)`,
      );
  }
}

/** Formats a parsed endpoint back with its transport prefix. */
export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.transport === "inet") return `inet:${endpoint.address}`;
  return endpoint.transport === undefined ? endpoint.path : `${endpoint.transport}:${endpoint.path}`;
}
