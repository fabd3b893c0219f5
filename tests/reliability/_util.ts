/**
 * Test helpers shared by the reliability tests and the soak script: bounded
 * waits, temporary directories, subprocesses driven line by line (killed by
 * their PID when time is up, always awaited), and process measurements read
 * from /proc (open descriptors, resident memory).
 *
 * @module
 */
import { tempDir as sharedTempDir, within } from "../_util.ts";

export { delay, existsNow, fifoReader, mkfifo, readToEnd, within } from "../_util.ts";

/** The project root (where deno.json and cli.ts are). */
export const ROOT: string = new URL("../../", import.meta.url).pathname;
/** This folder, where the subprocess fixtures are. */
export const HERE: string = new URL("./", import.meta.url).pathname;

/** A fresh temporary directory under /tmp (short enough for socket paths), removed with its content on dispose. */
export function tempDir(prefix = "postnet-rel-"): Promise<{ path: string } & AsyncDisposable> {
  return sharedTempDir(prefix, "/tmp");
}

/** Open file descriptors of a process (this one by default), counted in /proc. */
export function fdCount(pid: number | "self" = "self"): number {
  let count = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) count++;
  return count;
}

/** Resident set size of a process in bytes, from /proc/PID/status (VmRSS). */
export function rssOf(pid: number | "self" = "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Bytes as MiB with one decimal, for printed figures. */
export function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/** The p-th percentile (0..100) of `values`, nearest rank; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** The port of an `inet:HOST:PORT` endpoint. */
export function portOf(endpoint: string): number {
  const port = Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
  if (!Number.isInteger(port) || port < 1) throw new Error(`no port in ${endpoint}`);
  return port;
}

/** How a connection ended for a client that only reads. */
export type End = "eof" | "reset";

/** Options for {@linkcode Child}. */
export interface ChildOptions {
  /** Working directory. @default {ROOT} */
  cwd?: string;
  /** Give the child a stdin pipe (closed on dispose). @default {false} */
  stdin?: boolean;
  /** Kill the child (SIGKILL, by its PID) if it is still running after this many ms. @default {60000} */
  lifetime?: number;
}

/**
 * A subprocess whose stdout is collected line by line in the background,
 * so a test can wait for a line. Disposing kills it (SIGKILL, by its PID)
 * if it is still running, awaits its exit and drains its pipes.
 */
export class Child implements AsyncDisposable {
  readonly process: Deno.ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[] = [];
  /** Every stderr line so far. */
  readonly errors: string[] = [];
  readonly #pumps: Promise<void>[];
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  readonly #killer: ReturnType<typeof setTimeout>;
  #changed = Promise.withResolvers<void>();
  #exited = false;
  /** Exit status, once it exited. */
  status: Deno.CommandStatus | undefined;
  /** Resolves with the exit status. */
  readonly exited: Promise<Deno.CommandStatus>;

  constructor(command: string, args: string[], options: ChildOptions = {}) {
    this.process = new Deno.Command(command, {
      args,
      cwd: options.cwd ?? ROOT,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      // Deno's update check would resolve and reach dl.deno.land: no traffic beyond loopback.
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).spawn();
    this.#stdin = options.stdin ? this.process.stdin.getWriter() : undefined;
    this.#pumps = [this.#pump(this.process.stdout, this.lines), this.#pump(this.process.stderr, this.errors)];
    this.#killer = setTimeout(() => this.kill("SIGKILL"), options.lifetime ?? 60_000);
    this.exited = this.process.status.then((status) => {
      this.#exited = true;
      this.status = status;
      clearTimeout(this.#killer);
      this.#notify();
      return status;
    });
  }

  /** Runs `deno run -q -A SCRIPT ARGS...` from the project root. */
  static deno(script: string, args: string[] = [], options: ChildOptions = {}): Child {
    return new Child(Deno.execPath(), ["run", "-q", "-A", script, ...args], options);
  }

  get pid(): number {
    return this.process.pid;
  }

  /** Whether the process has exited. */
  get hasExited(): boolean {
    return this.#exited;
  }

  #notify(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  }

  async #pump(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      rest += text;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      if (parts.length > 0) {
        into.push(...parts);
        this.#notify();
      }
    }
    if (rest !== "") into.push(rest);
    this.#notify();
  }

  /**
   * Waits (at most `ms`) until `predicate` holds for the stdout lines (or
   * the stderr lines, with `from`). Rejects, quoting the child's stderr,
   * when it exits first or time runs out.
   */
  async waitFor(
    predicate: (lines: string[]) => boolean,
    ms: number,
    what: string,
    from: "stdout" | "stderr" = "stdout",
  ): Promise<void> {
    const lines = from === "stdout" ? this.lines : this.errors;
    const end = performance.now() + ms;
    for (let i = 0; i < 1_000_000; i++) {
      if (predicate(lines)) return;
      if (this.#exited) {
        // The last lines may still be in the pipe.
        await Promise.all(this.#pumps);
        if (predicate(lines)) return;
        throw new Error(
          `${what}: the child exited (${JSON.stringify(this.status)}); stderr: ${this.errors.join("\n")}`,
        );
      }
      const left = end - performance.now();
      if (left <= 0) break;
      try {
        await within(this.#changed.promise, left, what);
      } catch {
        break;
      }
    }
    throw new Error(
      `${what}: not seen within ${ms} ms; stdout tail: ${this.lines.slice(-5).join(" | ")}; stderr: ${
        this.errors.join("\n")
      }`,
    );
  }

  /** Waits for a stdout line that starts with `prefix`; returns the rest of it. */
  async line(prefix: string, ms: number): Promise<string> {
    let found: string | undefined;
    await this.waitFor(
      (lines) => {
        found = lines.find((line) => line.startsWith(prefix));
        return found !== undefined;
      },
      ms,
      `line "${prefix}"`,
    );
    return found!.slice(prefix.length);
  }

  /** Writes `text` to the child's stdin. */
  async send(text: string): Promise<void> {
    if (!this.#stdin) throw new Error("no stdin pipe");
    await this.#stdin.write(new TextEncoder().encode(text));
  }

  /** Sends a signal to this child (by its PID), unless it has exited. */
  kill(signal: Deno.Signal): void {
    if (this.#exited) return;
    try {
      this.process.kill(signal);
    } catch (error) {
      // It exited between the check and the kill.
      if (!(error instanceof TypeError)) throw error;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#stdin) await this.#stdin.close().catch(() => {});
    this.kill("SIGKILL");
    await this.exited;
    await Promise.all(this.#pumps);
    clearTimeout(this.#killer);
  }
}
