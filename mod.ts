/**
 * postnet: Postfix's network layer for Deno. Connect and listen over TCP,
 * UNIX-domain sockets and FIFOs, and send and serve Postfix triggers, with
 * every wait bounded and every error naming its endpoint.
 *
 * ```ts
 * import { serveTriggers, trigger } from "@postnet/net";
 *
 * const path = `${await Deno.makeTempDir()}/pickup`;
 * await using server = await serveTriggers(`fifo:${path}`, ({ request }) => {
 *   console.log(new TextDecoder().decode(request)); // "W"
 * });
 * await trigger(`fifo:${path}`, "W");
 * await server.close();
 * ```
 *
 * @module
 */
export * from "./connect/mod.ts";
export * from "./listen/mod.ts";
export * from "./trigger/mod.ts";
