/**
 * Test helper: runs the command line (`cli.ts`) as a user would, in a
 * subprocess: `deno run -P=cli cli.ts ...` from the project root, so the
 * `cli` permission set of deno.json applies (read/write /tmp and
 * /var/spool/postfix, net, run mkfifo). Paths the CLI touches must be under
 * /tmp.
 *
 * Every subprocess is bounded in time (killed by its pid, through its
 * {@linkcode Deno.ChildProcess} handle, when the time is up) and awaited.
 *
 * @module
 */
import { within } from "../_util.ts";

/** The project root, where deno.json (and its `cli` permission set) lives. */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

/**
 * Deno's own warning, printed on stderr before the program runs whenever a
 * permission set comes from deno.json (unless `-q`). It is not the CLI's.
 */
export const DENO_CONFIG_PERMISSIONS_WARNING = /Permissions in the config file is an experimental feature/;

const decoder = new TextDecoder();
const KICK_TIMEOUT_MS = 20_000;

/** Result of {@linkcode kick}. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error, exactly as written. */
  stderr: string;
  /**
   * The CLI's stderr lines: `stderr` split into lines, without Deno's
   * {@linkcode DENO_CONFIG_PERMISSIONS_WARNING}.
   */
  lines: string[];
  /** Wall-clock milliseconds from spawn to exit (includes Deno's start-up). */
  ms: number;
}

/** Options for {@linkcode kick} and {@linkcode CliWatch}. */
export interface CliOptions {
  /** Pass `-q` to `deno run` (silences Deno's own warnings). @default {false} */
  quiet?: boolean;
  /** Environment variables to set in the subprocess, besides those it inherits. @default {{}} */
  env?: Record<string, string>;
}

function denoArgs(args: string[], options: CliOptions): string[] {
  return ["run", ...(options.quiet ? ["-q"] : []), "-P=cli", "cli.ts", ...args];
}

/**
 * Runs `deno run -P=cli cli.ts kick ARGS...` to completion (killed after
 * 20 s).
 *
 * @param args The arguments after `kick`.
 * @param options `quiet` adds `-q`.
 */
export async function kick(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), KICK_TIMEOUT_MS);
  const start = performance.now();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: denoArgs(["kick", ...args], options),
      cwd: ROOT,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const ms = performance.now() - start;
    const stderr = decoder.decode(out.stderr);
    return { code: out.code, stdout: decoder.decode(out.stdout), stderr, lines: cliLines(stderr), ms };
  } finally {
    clearTimeout(timer);
  }
}

/** Splits stderr into lines, leaving out Deno's own warning. */
function cliLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line !== "" && !DENO_CONFIG_PERMISSIONS_WARNING.test(line));
}

/**
 * `deno run -P=cli cli.ts watch ARGS...` running in the background. Read
 * its JSON lines with {@linkcode CliWatch.nextLine}; wait for its exit with
 * {@linkcode CliWatch.finished}. Disposing kills it (SIGTERM) if it still
 * runs and awaits everything it started.
 */
export class CliWatch implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #errors: string[] = [];
  readonly #pump: Promise<void>;
  readonly #stderr: Promise<string>;
  readonly #status: Promise<Deno.CommandStatus>;
  #exited = false;
  #changed = Promise.withResolvers<void>();
  #ended = false;
  #taken = 0;

  /**
   * Starts the watcher.
   *
   * @param args The arguments after `watch`.
   * @param options `quiet` adds `-q`.
   */
  constructor(args: string[], options: CliOptions = {}) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: denoArgs(["watch", ...args], options),
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#status = this.#child.status.then((status) => {
      this.#exited = true;
      return status;
    });
    this.#pump = this.#readLines(this.#child.stdout, this.#lines).then(() => void (this.#ended = true));
    this.#stderr = this.#readLines(this.#child.stderr, this.#errors).then(() => this.#errors.join("\n"));
  }

  async #readLines(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
    let partial = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop()!;
        into.push(...parts);
        this.#changed.resolve();
        this.#changed = Promise.withResolvers<void>();
      }
    } finally {
      if (partial !== "") into.push(partial);
      this.#changed.resolve();
    }
  }

  /**
   * Waits for the line `watch` prints on stderr once it listens (a FIFO:
   * once the stale bytes in it are drained, so a trigger sent from then on
   * is seen), and returns the endpoint it names.
   *
   * @throws {Error} When it exits first or `timeoutMs` passes.
   */
  async ready(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const prefix = "postnet watch: listening on ";
    const found = () => this.#errors.find((line) => line.startsWith(prefix))?.slice(prefix.length);
    // Bounded: by the deadline, and by a count of wake-ups no run reaches.
    for (let i = 0; i < 10_000; i++) {
      if (found() !== undefined) return found()!;
      if (this.#exited) {
        // Its last lines may still be in the pipe.
        const stderr = await this.#stderrIfDone();
        if (found() !== undefined) return found()!;
        throw new Error(`watch exited before it was ready; stderr: ${stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`watch was not ready in ${timeoutMs} ms; stderr: ${this.#errors.join(" | ")}`);
      await within(Promise.race([this.#changed.promise, this.#status]), left, "watch ready").catch(() => {});
    }
    throw new Error("watch ready: no end to its output");
  }

  /**
   * Resolves with the next line printed on stdout.
   *
   * @throws {Error} When stdout ends first or `timeoutMs` passes.
   */
  async nextLine(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length <= this.#taken) {
      if (this.#ended) throw new Error(`watch ended its output; stderr: ${await this.#stderrIfDone()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`watch printed no line in ${timeoutMs} ms`);
      await within(this.#changed.promise, left, "watch output").catch(() => {});
    }
    return this.#lines[this.#taken++];
  }

  async #stderrIfDone(): Promise<string> {
    return await within(this.#stderr, 1_000, "watch stderr").catch(() => "(still open)");
  }

  /**
   * Waits for the watcher to exit by itself, killing it after `timeoutMs`.
   *
   * @returns Its exit code, every stdout line and its stderr.
   */
  async finished(timeoutMs = 10_000): Promise<{ code: number; lines: string[]; stderr: string; timedOut: boolean }> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#kill();
    }, timeoutMs);
    try {
      const status = await this.#status;
      await this.#pump;
      return { code: status.code, lines: [...this.#lines], stderr: await this.#stderr, timedOut };
    } finally {
      clearTimeout(timer);
    }
  }

  #kill(): void {
    if (this.#exited) return;
    try {
      this.#child.kill("SIGTERM");
    } catch (error) {
      // It exited before #status noticed: nothing to kill.
      if (!(error instanceof TypeError)) throw error;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#kill();
    await this.#status;
    await this.#pump;
    await this.#stderr;
  }
}
