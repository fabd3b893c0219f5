/**
 * Test helper for io/: a connected pair of real connections, over loopback
 * TCP or a UNIX-domain socket in a fresh temp dir, closed (and the dir
 * removed) on dispose.
 *
 * @module
 */
import { tempDir } from "../_util.ts";

/** The transports the io/ tests run on. */
export const TRANSPORTS = ["tcp", "unix"] as const;

/** A transport of {@linkcode TRANSPORTS}. */
export type Transport = (typeof TRANSPORTS)[number];

/** Two ends of one connection; `await using` closes both (either may be closed already). */
export interface Pair extends AsyncDisposable {
  /** The end the code under test uses. */
  readonly conn: Deno.Conn;
  /** The other end, the test's peer. */
  readonly peer: Deno.Conn;
}

/** Closes `conn` unless it is closed already. */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** Connects a pair over `transport`: loopback port 0, or a socket in a fresh temp dir. */
export async function pair(transport: Transport): Promise<Pair> {
  const dir = transport === "unix" ? await tempDir("postnet-io-") : undefined;
  let listener: Deno.Listener | undefined;
  try {
    listener = transport === "tcp"
      ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
      : Deno.listen({ transport: "unix", path: `${dir!.path}/sock` });
    const [conn, peer] = await Promise.all([
      transport === "tcp"
        ? Deno.connect({ hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port })
        : Deno.connect({ transport: "unix", path: `${dir!.path}/sock` }),
      listener.accept(),
    ]);
    return {
      conn,
      peer,
      async [Symbol.asyncDispose]() {
        closeQuietly(conn);
        closeQuietly(peer);
        await dir?.[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await dir?.[Symbol.asyncDispose]();
    throw error;
  } finally {
    listener?.close();
  }
}

/** The bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** The text of `buffer`'s first `n` bytes. */
export function text(buffer: Uint8Array, n: number | null): string {
  return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
}
