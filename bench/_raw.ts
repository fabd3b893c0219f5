/**
 * Internal: the raw Deno equivalents postnet is measured against, shared by
 * the `*_bench.ts` files, the comparison agent and `compare.ts`. Each one does
 * the same work as the postnet call beside it, with nothing else: no argument
 * checks, no permission queries, no deadline.
 *
 * @module
 */
import { closeSync as closeFd, constants, fstatSync, openSync, writeSync } from "node:fs";

/** The request every workload sends: `W` and its NUL, as one write. */
export const WIRE: Uint8Array = new Uint8Array([0x57, 0]);
/** The request a FIFO trigger sends: `W`, no NUL, as Postfix. */
export const FIFO_WIRE: Uint8Array = new Uint8Array([0x57]);

/** Where a raw stream trigger connects. */
export type StreamTarget = Deno.ConnectOptions | Deno.UnixConnectOptions;

/**
 * A raw Deno stream trigger: connect, write request + NUL in one write, read
 * until the server closes, close. EPIPE/ECONNRESET after the write is
 * delivery, as in postnet.
 */
export async function rawStreamTrigger(target: StreamTarget): Promise<void> {
  const conn = await Deno.connect(target as Deno.ConnectOptions);
  try {
    await conn.write(WIRE);
    const buffer = new Uint8Array(16);
    while ((await conn.read(buffer)) !== null);
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset)) throw error;
  } finally {
    conn.close();
  }
}

/** A raw FIFO trigger: `node:fs` open O_WRONLY|O_NONBLOCK, one write, close. */
export function rawFifoTrigger(path: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, FIFO_WIRE);
  } finally {
    closeFd(fd);
  }
}

/** Arms a bound that runs `fire` after `ms`; returns what disarms it. */
export type Arm = (fire: () => void, ms: number) => () => void;

/** The plain way to bound an operation: a `setTimeout` of its own, cleared when it is done. */
export const timerPerOperation: Arm = (fire, ms) => {
  const timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
};

/**
 * The raw Deno stream trigger with the bounds postnet keeps, and nothing
 * else: one timer per trigger that closes the socket when it fires, and a
 * signal on the TCP connect (Deno cannot cancel a TCP connect without one).
 * What raw Deno costs to never hang with plain timers; `arm` swaps the timer
 * for another kind of bound.
 */
export async function boundedStreamTrigger(
  target: StreamTarget,
  timeout = 10_000,
  arm: Arm = timerPerOperation,
): Promise<void> {
  const controller = new AbortController();
  let conn: Deno.Conn | undefined;
  let closed = false;
  const disarm = arm(() => {
    controller.abort();
    closed = true;
    conn?.close();
  }, timeout);
  try {
    conn = "path" in target ? await Deno.connect(target) : await Deno.connect({ ...target, signal: controller.signal });
    await conn.write(WIRE);
    const buffer = new Uint8Array(16);
    while ((await conn.read(buffer)) !== null);
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset)) throw error;
  } finally {
    disarm();
    if (!closed) conn?.close();
  }
}

/**
 * The raw FIFO trigger with Postfix's safe_open checks, and nothing else:
 * lstat before the open (a FIFO, not a link), fstat after it (the same kind
 * of file, one link). The floor for postnet's FIFO client.
 */
export function boundedFifoTrigger(path: string): void {
  if (!Deno.lstatSync(path).isFifo) throw new Deno.errors.InvalidData(`${path} is not a FIFO`);
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFIFO() || stat.nlink > 1) throw new Deno.errors.InvalidData(`${path} changed`);
    writeSync(fd, FIFO_WIRE);
  } finally {
    closeFd(fd);
  }
}

/** Something a workload or benchmark started and must stop. */
export interface RawServer {
  /** Stops the server and waits for it. */
  close(): Promise<void>;
  /** Starts stopping at once, without waiting (for `unload`). */
  closeSync(): void;
}

/**
 * A raw Deno trigger server on a stream listener: accept, read until the NUL
 * (or end-of-file, or 1024 bytes), close, report the byte count. No read
 * timeout, no connection limit; with `readTimeout`, the "bounded" raw
 * server: one `setTimeout` per connection that closes it.
 */
export function rawStreamServer(
  listener: Deno.Listener,
  onTrigger: (bytes: number) => void = () => {},
  readTimeout?: number,
): RawServer {
  return serveEach(listener, async (conn, close) => {
    const timer = readTimeout === undefined ? undefined : setTimeout(close, readTimeout);
    const buffer = new Uint8Array(1024);
    let length = 0;
    try {
      while (length < buffer.length) {
        const n = await conn.read(buffer.subarray(length));
        if (n === null) break;
        length += n;
        if (buffer[length - 1] === 0) break;
      }
    } catch {
      // A reset or a close: the byte count says what arrived.
    } finally {
      clearTimeout(timer);
      close();
    }
    onTrigger(length);
  });
}

/** A raw Deno echo peer: accept, write back whatever arrives until end-of-file, close. */
export function rawEchoServer(listener: Deno.Listener): RawServer {
  return serveEach(listener, async (conn) => {
    const buffer = new Uint8Array(4096);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      for (let written = 0; written < n;) written += await conn.write(buffer.subarray(written, n));
    }
  });
}

/**
 * Accepts connections on `listener` and hands each to `handle` with a
 * `close` that closes it once, however often it is called; closes it after
 * `handle` too. Closing the server closes the listener and every open
 * connection.
 */
function serveEach(listener: Deno.Listener, handle: (conn: Deno.Conn, close: () => void) => Promise<void>): RawServer {
  const open = new Set<() => void>();
  let closing = false;
  async function serve(conn: Deno.Conn): Promise<void> {
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      open.delete(close);
      conn.close();
    };
    open.add(close);
    try {
      await handle(conn, close);
    } catch {
      // A reset, or our own close.
    } finally {
      close();
    }
  }
  const loop = (async () => {
    while (!closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing) break;
        throw error;
      }
      void serve(conn);
    }
  })();
  function closeSync(): void {
    if (closing) return;
    closing = true;
    listener.close();
    for (const close of open) close();
  }
  return {
    closeSync,
    async close() {
      closeSync();
      await loop;
    },
  };
}

/**
 * A raw Deno FIFO reader: the FIFO opened read-write (so it never sees EOF),
 * one long-lived read loop, each chunk reported. Closing wakes the pending
 * read with a byte written through a non-blocking descriptor, as Deno cannot
 * cancel a FIFO read.
 */
export async function rawFifoServer(
  path: string,
  onChunk: (bytes: number) => void = () => {},
): Promise<RawServer> {
  const file = await Deno.open(path, { read: true, write: true });
  let closing = false;
  const loop = (async () => {
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await file.read(buffer);
      if (closing || n === null) break;
      onChunk(n);
    }
    file.close();
  })();
  function closeSync(): void {
    if (closing) return;
    closing = true;
    const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      writeSync(fd, new Uint8Array(1));
    } finally {
      closeFd(fd);
    }
  }
  return {
    closeSync,
    async close() {
      closeSync();
      await loop;
    },
  };
}

/** Creates a FIFO with `mkfifo` (Deno has no mkfifo API). */
export async function mkfifo(path: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("mkfifo", { args: ["-m", "622", "--", path], stderr: "piped" })
    .output();
  if (code !== 0) throw new Error(`mkfifo ${path}: ${new TextDecoder().decode(stderr).trim()}`);
}

/**
 * Runs `stop` synchronously when the process unloads. `deno bench` has no
 * after-all hook: it unloads the module once the last bench has run.
 */
export function stopAtUnload(stop: () => void): void {
  globalThis.addEventListener("unload", stop, { once: true });
}

/** The peers {@linkcode startPeers} runs: where to reach them. */
export interface Peers {
  /** Port of the raw TCP trigger server on 127.0.0.1. */
  port: number;
  /** Path of the raw UNIX-domain trigger server. */
  unixPath: string;
  /** Path of the FIFO a `fifoListen` reader drains. */
  fifoPath: string;
  /** Port of the raw TCP echo peer on 127.0.0.1. */
  echoPort: number;
  /** Path of the raw UNIX-domain echo peer. */
  echoUnixPath: string;
}

/**
 * Starts the raw stream servers, a draining `fifoListen` reader and the raw
 * echo peers in a Worker (bench/_server_worker.ts), in a fresh temp dir; all
 * stopped and removed when the process unloads.
 */
export async function startPeers(): Promise<Peers> {
  const dir = await Deno.makeTempDir({ prefix: "postnet-bench-" });
  const worker = new Worker(new URL("./_server_worker.ts", import.meta.url), { type: "module" });
  const ready = Promise.withResolvers<Peers>();
  worker.onmessage = (event: MessageEvent<Peers>) => ready.resolve(event.data);
  worker.onerror = (event) => ready.reject(event.error ?? new Error(event.message));
  worker.postMessage({ dir });
  const peers = await ready.promise;
  stopAtUnload(() => {
    // Wake the worker's pending FIFO read (Deno cannot cancel it), then stop the worker.
    const fd = openSync(peers.fifoPath, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      writeSync(fd, new Uint8Array(1));
    } finally {
      closeFd(fd);
    }
    worker.terminate();
    Deno.removeSync(dir, { recursive: true });
  });
  return peers;
}
