/**
 * Small helpers shared by the test files: timers, temporary directories,
 * paths, FIFOs, loopback ports, raw reads on connections, rejections and
 * subprocesses. Real sockets, FIFOs and processes only; every helper that
 * starts a timer or opens something also clears or closes it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { closeSync, constants, openSync, readSync } from "node:fs";

const decoder = new TextDecoder();

// ---------------------------------------------------------------------------
// Time

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Settles as `promise` does, or rejects after `ms` with an error naming
 * `what`: proves "does not hang", and clears its timer either way.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A signal that aborts with `reason` after `ms`, with its timer released on dispose. */
export function abortAfter(ms: number, reason?: unknown): AbortSignal & Disposable {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(reason), ms);
  return Object.assign(controller.signal, { [Symbol.dispose]: () => clearTimeout(timer) });
}

// ---------------------------------------------------------------------------
// Files, directories and FIFOs

/**
 * A fresh temporary directory, removed with everything in it on dispose
 * (`await using`). `dir` is where to make it (default: Deno's temporary
 * directory); pass "/tmp" when a deno.json permission set must cover it.
 */
export async function tempDir(
  prefix = "postnet-test-",
  dir?: string,
): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ dir, prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Whether anything (even a dangling link) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Whether anything is at `path`, checked at once (no await between a settled promise and the check). */
export function existsNow(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The permission bits (with setuid, setgid and sticky) of what is at `path`, not following a link. */
export async function modeOf(path: string): Promise<number> {
  return (await Deno.lstat(path)).mode! & 0o7777;
}

/** Makes a FIFO with the real mkfifo(1), as an administrator would; mode 0o622 is Postfix's. */
export async function mkfifo(path: string, mode = 0o622): Promise<void> {
  const { code, stderr } = await within(
    new Deno.Command("mkfifo", {
      args: ["-m", mode.toString(8), path],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output(),
    10_000,
    `mkfifo ${path}`,
  );
  assert.equal(code, 0, `mkfifo ${path}: ${decoder.decode(stderr)}`);
}

/**
 * A reader on a FIFO, opened non-blocking: it makes writers' opens succeed,
 * and `take()` returns all that is waiting in the FIFO without ever blocking.
 */
export function fifoReader(path: string): { take(): Uint8Array } & Disposable {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return {
    take() {
      const bytes: number[] = [];
      const buffer = new Uint8Array(65536);
      for (let i = 0; i < 64; i++) {
        let n: number;
        try {
          n = readSync(fd, buffer);
        } catch (error) {
          // EAGAIN: the FIFO is empty.
          if ((error as { code?: string }).code === "EAGAIN") break;
          throw error;
        }
        if (n === 0) break;
        bytes.push(...buffer.subarray(0, n));
      }
      return Uint8Array.from(bytes);
    },
    [Symbol.dispose]: () => closeSync(fd),
  };
}

// ---------------------------------------------------------------------------
// Loopback and connections

/**
 * A loopback port that nothing listens on, for a test whose point is a
 * refused connect (a held listener would accept it, and Deno cannot bind a
 * TCP socket without listening). It is taken from below the kernel's
 * ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), checked free by
 * binding it and released: every listener in the tests binds port 0, which
 * the kernel serves from the ephemeral range only, so none can take it
 * between the check and the connect.
 */
export function freePort(hostname = "127.0.0.1"): number {
  const [low] = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/).map(Number);
  // Bounded: 100 random ports from [low - 10000, low); a busy one is skipped.
  for (let i = 0; i < 100; i++) {
    const port = low - 1 - Math.floor(Math.random() * Math.min(10_000, low - 1024));
    try {
      Deno.listen({ hostname, port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error(`no free port below ${low} on ${hostname} in 100 tries`);
}

/**
 * How many connections wait in the accept queue of the TCP listener on
 * `hostname:port` (IPv4), read from /proc/net/tcp, where a listening
 * socket's rx_queue column is its accept queue length. Linux drops a SYN
 * once this length exceeds the listen backlog: a proof of a full queue that
 * does not rest on a connect being slow.
 */
export function acceptQueueLength(hostname: string, port: number): number {
  const local = `${hostname.split(".").map((byte) => Number(byte).toString(16).padStart(2, "0")).reverse().join("")}:${
    port.toString(16).padStart(4, "0")
  }`.toUpperCase();
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // State 0A: LISTEN.
    if (fields[1] === local && fields[3] === "0A") return parseInt(fields[4].split(":")[1], 16);
  }
  throw new Error(`no TCP listener on ${hostname}:${port} in /proc/net/tcp`);
}

/** Whether this machine can bind the IPv6 loopback address [::1], and why not. */
export function probeIpv6(): { ok: boolean; reason: string } {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return { ok: true, reason: "" };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

/**
 * Reads until end-of-file or a chunk that ends in NUL (at most 64 reads, at
 * most `ms` in all), then closes `conn` (which ends a read still pending).
 */
export async function readRequest(conn: Deno.Conn, ms = 10_000): Promise<Uint8Array> {
  using _conn = conn;
  const chunks: number[] = [];
  const buffer = new Uint8Array(4096);
  const end = performance.now() + ms;
  for (let i = 0; i < 64; i++) {
    const n = await within(conn.read(buffer), end - performance.now(), "read of the request");
    if (n === null) break;
    chunks.push(...buffer.subarray(0, n));
    if (buffer[n - 1] === 0) break;
  }
  return Uint8Array.from(chunks);
}

/** Accepts one connection (within `ms`) and returns what it sent, up to its NUL or end-of-file; closes it. */
export async function acceptRequest(listener: Deno.Listener, ms = 10_000): Promise<Uint8Array> {
  return await readRequest(await within(listener.accept(), ms, "accept"), ms);
}

/**
 * Reads until end-of-file (at most 64 reads, at most `ms` in all): proves
 * the peer closed. Then closes `conn` (which ends a read still pending).
 */
export async function readAll(conn: Deno.Conn, ms = 10_000): Promise<Uint8Array> {
  using _conn = conn;
  const chunks: number[] = [];
  const buffer = new Uint8Array(4096);
  const end = performance.now() + ms;
  for (let i = 0; i < 64; i++) {
    const n = await within(conn.read(buffer), end - performance.now(), "read to end-of-file");
    if (n === null) return Uint8Array.from(chunks);
    chunks.push(...buffer.subarray(0, n));
  }
  throw new Error("no end-of-file after 64 reads");
}

/**
 * Reads until end-of-file or a reset (at most 64 reads), leaving `conn`
 * open; returns the number of bytes read and how the stream ended.
 */
export async function readToEnd(conn: Deno.Conn): Promise<{ bytes: number; end: "eof" | "reset" }> {
  const buffer = new Uint8Array(4096);
  let bytes = 0;
  for (let i = 0; i < 64; i++) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return { bytes, end: "reset" };
      throw error;
    }
    if (n === null) return { bytes, end: "eof" };
    bytes += n;
  }
  throw new Error("no end-of-file after 64 reads");
}

// ---------------------------------------------------------------------------
// Errors and rejections

/** The rejection of `promise`; fails (closing the connection) if it resolves. */
export async function rejection(promise: Promise<{ close(): void }>): Promise<unknown> {
  try {
    const conn = await promise;
    conn.close();
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection, got a connection");
}

/** The message of `error`, which must be an Error or a DOMException. */
export function message(error: unknown): string {
  assert.ok(error instanceof Error || error instanceof DOMException, `not an error: ${String(error)}`);
  return error.message;
}

/** Asserts that `call` returns a promise (no synchronous throw) that rejects as `check` expects. */
export async function assertRejectsAsync(
  call: () => Promise<unknown>,
  check: (error: unknown) => boolean,
  message?: string,
): Promise<void> {
  let promise: Promise<unknown> | undefined;
  assert.doesNotThrow(() => void (promise = call()), message);
  await assert.rejects(promise!, (error) => check(error), message);
}

/**
 * Asserts a rejection of class `Class` whose message names the endpoint
 * (quoted, as `"unix:/path"`) and contains `text` (or matches it).
 */
export async function assertRefused(
  promise: Promise<unknown>,
  Class: new (...args: never[]) => Error,
  endpoint: string,
  text: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof Class, `expected ${Class.name}, got ${error}`);
    assert.ok(error.message.includes(`"${endpoint}"`), error.message);
    if (typeof text === "string") assert.ok(error.message.includes(text), error.message);
    else assert.match(error.message, text);
    return true;
  });
}

/** Collects what a server reports to its onError. */
export function errorSink(): { errors: unknown[]; onError: (error: unknown) => void } {
  const errors: unknown[] = [];
  return { errors, onError: (error) => void errors.push(error) };
}

// ---------------------------------------------------------------------------
// Subprocesses

/** Lines of a child's stdout, one at a time; a wait for a line can time out without losing data. */
export class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #pending: Promise<ReadableStreamReadResult<string>> | undefined;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  /**
   * The next line; null at end of stream. With `ms`, undefined when none
   * came within `ms` (what arrives later is kept for the next call).
   */
  next(): Promise<string | null>;
  next(ms: number): Promise<string | null | undefined>;
  async next(ms = Infinity): Promise<string | null | undefined> {
    const end = performance.now() + ms;
    for (let i = 0; i < 10_000 && !this.#buffer.includes("\n"); i++) {
      const left = end - performance.now();
      if (left <= 0) return undefined;
      // One read in flight at a time, kept across timeouts, so no chunk is dropped.
      this.#pending ??= this.#reader.read();
      const result = left === Infinity
        ? await this.#pending
        : await within(this.#pending, left, "line").catch(() => undefined);
      if (result === undefined) return undefined;
      this.#pending = undefined;
      if (result.done) return null;
      this.#buffer += result.value;
    }
    const newline = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, newline);
    this.#buffer = this.#buffer.slice(newline + 1);
    return line;
  }
  /** The rest of the stream. */
  async rest(): Promise<string> {
    let text = this.#buffer;
    this.#buffer = "";
    for (let i = 0; i < 10_000; i++) {
      const { value, done } = await (this.#pending ?? this.#reader.read());
      this.#pending = undefined;
      if (done) return text;
      text += value;
    }
    throw new Error("the stream did not end");
  }
  /** Reads to the end, discarding what is left, so the stream is released. */
  async drain(): Promise<void> {
    if (this.#pending && (await this.#pending).done) return;
    this.#pending = undefined;
    while (!(await this.#reader.read()).done);
  }
}

/** What {@linkcode runScript} returns. */
export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the script outlived its timeout and was killed. */
  timedOut: boolean;
}

/**
 * Writes `script` to `dir`/script.ts and runs it with `deno run --no-config
 * --no-prompt FLAGS script.ts ARGS` from `dir`, through `sh` after `umask`;
 * kills it by PID (our own child, by its handle) if it outlives `timeout`.
 */
export async function runScript(
  dir: string,
  script: string,
  flags: string[],
  args: string[] = [],
  umask = "022",
  timeout = 20_000,
): Promise<ScriptResult> {
  const file = `${dir}/script.ts`;
  await Deno.writeTextFile(file, script);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `umask ${umask} && exec "$0" run --no-config --no-prompt "$@"`,
      Deno.execPath(),
      ...flags,
      file,
      ...args,
    ],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeout);
  try {
    const { code, stdout, stderr } = await child.output();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr), timedOut };
  } finally {
    clearTimeout(timer);
  }
}
