/**
 * Internal: the request-reply exchange the io/ benchmarks time
 * (bench/io_bench.ts, and the io rows of bench/compare.ts), done three ways
 * over one connection to an echo peer: raw Deno, raw Deno with a timer per
 * call, and postnet's `writeBuf` + `timedRead`.
 *
 * @module
 */
import { timedRead } from "../io/timed_read.ts";
import { writeBuf } from "../io/write_buf.ts";

/** What one ping-pong exchange sends, and expects back from the echo peer: 16 bytes. */
export const PING: Uint8Array = new TextEncoder().encode("PING ping-pong\r\n");

/** One raw request-reply exchange: write {@linkcode PING} (all of it), read until it all came back. */
export async function rawExchange(conn: Deno.Conn, buffer: Uint8Array): Promise<void> {
  for (let written = 0; written < PING.length;) {
    written += await conn.write(written === 0 ? PING : PING.subarray(written));
  }
  for (let got = 0; got < PING.length;) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the echo peer closed");
    got += n;
  }
}

/**
 * {@linkcode rawExchange} with one `setTimeout` per write and per read that
 * closes the connection when it fires: what bounding each call costs with a
 * timer of its own.
 */
export async function boundedExchange(conn: Deno.Conn, buffer: Uint8Array, timeout = 10_000): Promise<void> {
  for (let written = 0; written < PING.length;) {
    const timer = setTimeout(() => conn.close(), timeout);
    try {
      written += await conn.write(written === 0 ? PING : PING.subarray(written));
    } finally {
      clearTimeout(timer);
    }
  }
  for (let got = 0; got < PING.length;) {
    const timer = setTimeout(() => conn.close(), timeout);
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } finally {
      clearTimeout(timer);
    }
    if (n === null) throw new Error("the echo peer closed");
    got += n;
  }
}

/** The timeout of every postnet call in the exchange (never reached). */
const BOUND = { timeout: 10_000 };

/** {@linkcode rawExchange} through postnet: `writeBuf` and `timedRead`, each with a 10 s timeout. */
export async function postnetExchange(conn: Deno.Conn, buffer: Uint8Array): Promise<void> {
  await writeBuf(conn, PING, BOUND);
  for (let got = 0; got < PING.length;) {
    const n = await timedRead(conn, buffer, BOUND);
    if (n === null) throw new Error("the echo peer closed");
    got += n;
  }
}
