/**
 * Internal: host name resolution with getaddrinfo semantics and Postfix's
 * `inet_protocols` address-family filter.
 *
 * @module
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";

/** Which address families may be used (Postfix `inet_protocols`). */
export type InetProtocols = "all" | "ipv4" | "ipv6";

/** One address a host name resolved to. */
export interface LookupAddress {
  /** The IP address, without brackets. */
  address: string;
  /** 4 for IPv4, 6 for IPv6. */
  family: 4 | 6;
}

/**
 * Resolves a host name to addresses. `family` is 0 (any), 4 or 6, derived
 * from `protocols`. The function should reject when the name does not exist.
 */
export type LookupFunction = (
  hostname: string,
  options: { family: 0 | 4 | 6; signal: AbortSignal },
) => Promise<LookupAddress[]>;

/** The family hint `protocols` gives to the resolver. */
function familyOf(protocols: InetProtocols): 0 | 4 | 6 {
  return protocols === "ipv4" ? 4 : protocols === "ipv6" ? 6 : 0;
}

/** Checks a `protocols` option. */
export function checkProtocols(value: unknown): InetProtocols {
  if (value === undefined) return "all";
  if (value === "all" || value === "ipv4" || value === "ipv6") return value;
  throw new TypeError(`protocols must be "all", "ipv4" or "ipv6", got ${JSON.stringify(value)}`);
}

/** The resolver's answer in resolver order (getaddrinfo, /etc/hosts honoured). */
async function systemLookup(
  hostname: string,
  options: { family: 0 | 4 | 6 },
): Promise<LookupAddress[]> {
  const found = await dnsLookup(hostname, { all: true, family: options.family, order: "verbatim" });
  return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
}

/**
 * Resolves `host` (an IP literal is returned as is) and drops the addresses
 * whose family `protocols` does not allow.
 *
 * @throws {Deno.errors.NotFound} when the name does not resolve or no address
 * of an allowed family is left.
 */
export async function resolve(
  host: string,
  protocols: InetProtocols,
  lookup: LookupFunction | undefined,
  signal: AbortSignal,
  what: string,
): Promise<LookupAddress[]> {
  const family = familyOf(protocols);
  let found: LookupAddress[];
  const literal = isIP(host);
  if (literal !== 0) {
    found = [{ address: host, family: literal === 6 ? 6 : 4 }];
  } else {
    // The resolver takes no signal: race it, a late answer holds no resource.
    const { promise, reject } = Promise.withResolvers<never>();
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      found = await Promise.race([(lookup ?? systemLookup)(host, { family, signal }), promise]);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const code = (error as { code?: string }).code;
      throw new Deno.errors.NotFound(
        `${what}: cannot resolve host "${host}": ${code ?? (error as Error).message}`,
        { cause: error },
      );
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
  if (lookup !== undefined) checkLookupAnswer(found, host);
  // Safety net: a resolver (or a custom lookup) may ignore the family hint.
  const allowed = found.filter((a) => family === 0 || a.family === family);
  if (allowed.length === 0) {
    throw new Deno.errors.NotFound(
      `${what}: host "${host}" has no ${
        family === 4 ? "IPv4" : family === 6 ? "IPv6" : "IP"
      } address (protocols "${protocols}")`,
    );
  }
  return allowed;
}

/**
 * Checks what a caller's `lookup` answered: an array of `{ address, family }`
 * with IP addresses of the family they claim, never a name to resolve again.
 *
 * @throws {TypeError} naming the option and what was wrong.
 */
function checkLookupAnswer(found: unknown, host: string): void {
  if (!Array.isArray(found)) {
    throw new TypeError(
      `lookup must resolve to an array of { address, family }; for "${host}" it gave ${
        found === null ? "null" : typeof found
      }`,
    );
  }
  for (const entry of found as unknown[]) {
    const { address, family } = (entry ?? {}) as { address?: unknown; family?: unknown };
    const version = typeof address === "string" ? isIP(address) : 0;
    if (version === 0 || version !== family) {
      throw new TypeError(
        `lookup must resolve to IP addresses with their family (4 or 6); for "${host}" it gave ${
          JSON.stringify(entry) ?? String(entry)
        }`,
      );
    }
  }
}

/**
 * Orders addresses for Happy Eyeballs (RFC 8305 section 4): alternate the
 * families, starting with the family of the resolver's first answer.
 */
export function interleave(addresses: LookupAddress[]): LookupAddress[] {
  const first = addresses.filter((a) => a.family === addresses[0].family);
  const other = addresses.filter((a) => a.family !== addresses[0].family);
  const out: LookupAddress[] = [];
  for (let i = 0; i < Math.max(first.length, other.length); i++) {
    if (i < first.length) out.push(first[i]);
    if (i < other.length) out.push(other[i]);
  }
  return out;
}
