/**
 * Timed I/O: Postfix's `timed_read`, `read_wait` and `write_buf` for Deno
 * connections. Deno's `read()` and `write()` wait forever and cannot be
 * cancelled; these wait at most a timeout, or until a signal aborts, and a
 * read that times out loses nothing: the connection stays usable and the
 * next read gets what arrives. A write that times out closes the
 * connection.
 *
 * Bound a whole exchange by passing the same signal to every call:
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { timedRead, writeBuf } from "@postnet/net/io";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using server = await listener.accept();
 * const encoder = new TextEncoder();
 * const signal = AbortSignal.timeout(10_000); // the whole exchange
 * const buffer = new Uint8Array(512);
 * await writeBuf(server, encoder.encode("220 ready\r\n"), { signal });
 * assert.equal(await timedRead(client, buffer, { signal }), 11);
 * await writeBuf(client, encoder.encode("QUIT\r\n"), { signal });
 * assert.equal(await timedRead(server, buffer, { signal }), 6);
 * ```
 *
 * ## Required permissions
 *
 * | Function | Narrowest flags |
 * | --- | --- |
 * | {@linkcode timedRead} | none beyond the connection's |
 * | {@linkcode readWait} | none beyond the connection's |
 * | {@linkcode writeBuf} | none beyond the connection's |
 *
 * @module
 */
export * from "./timed_read.ts";
export * from "./read_wait.ts";
export * from "./write_buf.ts";
