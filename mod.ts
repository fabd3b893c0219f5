/**
 * postnet: Postfix's network layer for Deno. Connect and listen over TCP,
 * UNIX-domain sockets and FIFOs, send and serve Postfix triggers, and read
 * and write any connection with a deadline (io/), with every wait bounded
 * and every error naming its endpoint.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveTriggers, trigger } from "@postnet/net";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const arrived = Promise.withResolvers<string>();
 *   await using server = await serveTriggers(`fifo:${dir}/pickup`, ({ request }) => {
 *     arrived.resolve(new TextDecoder().decode(request));
 *   });
 *   await trigger(`fifo:${dir}/pickup`, "W");
 *   assert.equal(await arrived.promise, "W");
 *   await server.close();
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 *
 * @module
 */
export * from "./connect/mod.ts";
export * from "./listen/mod.ts";
export * from "./trigger/mod.ts";
export * from "./io/mod.ts";
