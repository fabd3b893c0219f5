/**
 * Listening: TCP on Postfix server-side addresses, UNIX-domain sockets that
 * replace only a stale socket, and FIFOs created safely and read without
 * ever seeing end-of-file.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { fifoListen, unixListen } from "@postnet/net/listen";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   using socket = await unixListen(`${dir}/qmgr`, { mode: 0o622 });
 *   await using fifo = await fifoListen(`${dir}/pickup`);
 *   assert.equal(socket.addr.path, `${dir}/qmgr`);
 *   assert.equal((await Deno.stat(`${dir}/qmgr`)).mode! & 0o777, 0o622);
 *   assert.equal(fifo.created, true);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 *
 * ## Required permissions
 *
 * | Function | Narrowest flags |
 * | --- | --- |
 * | {@linkcode inetListen} | `--allow-net=HOST:PORT` (`0.0.0.0:PORT` or `[::]:PORT` for the wildcard) |
 * | {@linkcode unixListen} | `--allow-read=PATH --allow-write=PATH --allow-net=unix:/ABS/PATH` |
 * | {@linkcode fifoListen} | `--allow-read=PATH --allow-write=PATH`, and `--allow-run=mkfifo` to create it |
 *
 * @module
 */
export * from "./inet_listen.ts";
export * from "./unix_listen.ts";
export * from "./fifo_listen.ts";
