/**
 * Connecting: TCP with Postfix's address syntax, resolution, address-family
 * filter, Happy Eyeballs or Postfix's serial attempts; UNIX-domain sockets.
 * Every connect is bounded by a timeout and abortable with a signal.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { inetConnect } from "@postnet/net/connect";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using conn = await inetConnect(`[127.0.0.1]:${listener.addr.port}`, {
 *   timeout: 5_000,
 *   protocols: "ipv4",
 * });
 * using peer = await listener.accept();
 * assert.equal(conn.remoteAddr.hostname, "127.0.0.1");
 * assert.equal(peer.remoteAddr.port, conn.localAddr.port);
 * ```
 *
 * ## Required permissions
 *
 * | Function | Narrowest flags |
 * | --- | --- |
 * | {@linkcode inetConnect} | `--allow-net=HOST:PORT` (for a host name, its addresses too, or Deno resolves the name itself) |
 * | {@linkcode unixConnect} | `--allow-read=PATH --allow-write=PATH --allow-net=unix:/ABS/PATH` |
 *
 * @module
 */
export * from "./inet_connect.ts";
export * from "./unix_connect.ts";
