/**
 * Triggers: the brief connect-write-close wake-ups Postfix daemons send each
 * other, over TCP, UNIX-domain sockets and FIFOs, and a server that receives
 * them.
 *
 * Postfix's qmgr reads each request byte as a command: `I` or `W` (scan the
 * incoming queue), `D` (deferred queue), `A` (ignore time stamps), `F`
 * (flush dead destinations).
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveTriggers, trigger } from "@postnet/net/trigger";
 *
 * const dir = await Deno.makeTempDir();
 * const received: string[] = [];
 * try {
 *   await using server = await serveTriggers(`unix:${dir}/qmgr`, ({ request }) => {
 *     received.push(new TextDecoder().decode(request));
 *   });
 *   await trigger(`unix:${dir}/qmgr`, "I");
 *   await server.close();
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * assert.deepEqual(received, ["I"]);
 * ```
 *
 * ## Required permissions
 *
 * | Function | Narrowest flags |
 * | --- | --- |
 * | {@linkcode inetTrigger} | `--allow-net=HOST:PORT` |
 * | {@linkcode unixTrigger} | `--allow-read=PATH --allow-write=PATH --allow-net=unix:/ABS/PATH` |
 * | {@linkcode fifoTrigger} | `--allow-read=PATH --allow-write=PATH` |
 * | {@linkcode trigger} | those of the transport used |
 * | {@linkcode mailTrigger} | `--allow-read=CONFIG_DIR/main.cf` (unless `queueDirectory` is given), `--allow-env=MAIL_CONFIG` to honour it, and those of {@linkcode unixTrigger} or {@linkcode fifoTrigger} on `$queue_directory/CLASS/SERVICE` |
 * | {@linkcode serveTriggers} | those of {@linkcode inetListen}, {@linkcode unixListen} or {@linkcode fifoListen}; `--allow-read=/proc/self/limits` to size its default `maxConnections` |
 *
 * @module
 */
export * from "./inet_trigger.ts";
export * from "./unix_trigger.ts";
export * from "./fifo_trigger.ts";
export * from "./trigger.ts";
export * from "./trigger_server.ts";
export * from "./mail_trigger.ts";
