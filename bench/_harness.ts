/**
 * Internal: the processes one bench/compare.ts run drives, and what it needs
 * to reach them. Every client and server under test runs in a process of its
 * own: two Deno agents (bench/_agent.ts: one for clients, one for servers)
 * and one Node agent (bench/node_agent.mjs, absent when `node` is not on
 * PATH), each answering JSON-line requests on stdin/stdout.
 *
 * @module
 */
import { readLines } from "./_lines.ts";
import type { RoundResult } from "./_rows.ts";

/** A request's parameters or an agent's answer: a JSON object. */
export type Answer = Record<string, unknown>;
/** The transports every part of the comparison covers. */
export type Transport = "inet" | "unix" | "fifo";

/** A subprocess that answers JSON-line requests. */
export class Agent {
  readonly name: string;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #waiting = new Map<number, PromiseWithResolvers<Answer>>();
  readonly #reading: Promise<void>;
  #nextId = 0;

  constructor(name: string, command: string, args: string[]) {
    this.name = name;
    this.#child = new Deno.Command(command, { args, stdin: "piped", stdout: "piped", stderr: "inherit" }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reading = this.#readAnswers();
  }

  async #readAnswers(): Promise<void> {
    for await (const line of readLines(this.#child.stdout)) {
      const answer = JSON.parse(line) as Answer & { id: number; ok: boolean; error?: string };
      const waiter = this.#waiting.get(answer.id);
      this.#waiting.delete(answer.id);
      if (answer.ok) waiter?.resolve(answer);
      else waiter?.reject(new Error(`${this.name}: ${answer.error}`));
    }
    for (const waiter of this.#waiting.values()) waiter.reject(new Error(`${this.name} exited`));
  }

  /** Sends a request; rejects after `timeout` ms. */
  async ask(op: string, params: Answer = {}, timeout = 60_000): Promise<Answer> {
    const id = this.#nextId++;
    const waiter = Promise.withResolvers<Answer>();
    this.#waiting.set(id, waiter);
    const line = new TextEncoder().encode(JSON.stringify({ id, op, ...params }) + "\n");
    await this.#writer.write(line);
    const timer = setTimeout(() => waiter.reject(new Error(`${this.name}: ${op} timed out`)), timeout);
    try {
      return await waiter.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks the agent to stop; kills it (our own child) if it has not exited within 5 s. */
  async close(): Promise<void> {
    await this.ask("exit", {}, 5_000).catch(() => {});
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5_000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reading.catch(() => {});
  }
}

/** What every part of a comparison run works with. */
export interface Harness {
  /** Runs the clients under test (and the raw client that drives servers). */
  clients: Agent;
  /** Runs the Deno servers under test (and the raw server clients talk to). */
  servers: Agent;
  /** The Node.js agent: its clients and servers; undefined without Node. */
  node: Agent | undefined;
  /** The Node.js binary, when found. */
  nodePath: string | undefined;
  /** A fresh temp dir for sockets and FIFOs, removed by {@linkcode closeHarness}. */
  dir: string;
  /** Triggers per sequential round (twice as many from 64 concurrent loops). */
  n: number;
  /** Measured rounds, after one warm-up round. */
  rounds: number;
  /** This process's open-file limits (the agents inherit them). */
  limits: { soft: number; hard: number };
  /** Whether an agent can hold 1,000 silent connections. */
  canHoldSilent: boolean;
  /** Starts one more agent (for a fresh process), raising its open-file limit when needed. */
  spawn(impl: "deno" | "node", name: string): Agent;
}

/** Files one agent may hold: 1,000 silent connections plus a margin. */
export const NEEDED_FILES = 2_200;

/** Starts the Deno client and server agents and the Node agent (when `node` is on PATH) in a fresh temp dir. */
export async function openHarness(n: number, rounds: number): Promise<Harness> {
  const dir = await Deno.makeTempDir({ prefix: "postnet-compare-" });
  const limits = openFileLimits();
  const canHoldSilent = limits.hard >= NEEDED_FILES;
  const nodePath = findNode();
  const denoArgs = ["run", "-A", "--v8-flags=--expose-gc", new URL("./_agent.ts", import.meta.url).pathname];
  const nodeArgs = ["--expose-gc", new URL("./node_agent.mjs", import.meta.url).pathname];
  // Deno cannot setrlimit: when the soft open-file limit is too low, spawn through `sh -c 'ulimit -n'`.
  const spawn = (impl: "deno" | "node", name: string) => {
    const [command, args] = impl === "deno" ? [Deno.execPath(), denoArgs] : [nodePath!, nodeArgs];
    if (limits.soft >= NEEDED_FILES || !canHoldSilent) return new Agent(name, command, args);
    const raised = `ulimit -n ${Math.min(limits.hard, 8192)} && exec "$0" "$@"`;
    return new Agent(name, "sh", ["-c", raised, command, ...args]);
  };
  const node = nodePath ? spawn("node", "node agent") : undefined;
  if (!node) console.log("node: not found on PATH; the Node.js column is skipped");
  return {
    clients: spawn("deno", "deno client agent"),
    servers: spawn("deno", "deno server agent"),
    node,
    nodePath,
    dir,
    n,
    rounds,
    limits,
    canHoldSilent,
    spawn,
  };
}

/** Stops the agents and removes the temp dir. */
export async function closeHarness(h: Harness): Promise<void> {
  await Promise.all([h.clients.close(), h.servers.close(), h.node?.close()]);
  await Deno.remove(h.dir, { recursive: true });
}

/** What one {@linkcode triggerRound} runs: `n` triggers of kind `impl` from `concurrency` loops. */
export interface TriggerRun {
  impl: string;
  transport: Transport;
  n: number;
  concurrency: number;
  /** FIFO only: each batch of `concurrency` writes waits for the server's acknowledgement. */
  ack?: boolean;
}

/**
 * One round of triggers: `sender` runs them against `server` (which `owner`
 * runs); every trigger sent must arrive. Microseconds per trigger.
 */
export async function triggerRound(sender: Agent, owner: Agent, server: Answer, run: TriggerRun): Promise<RoundResult> {
  await owner.ask("stats", { key: server.key, reset: true });
  const result = await sender.ask("run", { ...run, target: server });
  const failed = result.failures as number;
  if (failed > 0) console.log(`  ${sender.name} to ${server.key}: ${failed} failed: ${result.firstError}`);
  // A FIFO's bytes may still be in flight.
  const sent = run.n - failed;
  if (run.transport === "fifo") await owner.ask("waitBytes", { key: server.key, bytes: sent, timeout: 10_000 });
  const { triggers } = await owner.ask("stats", { key: server.key });
  if (triggers !== sent) throw new Error(`${server.key}: ${triggers} triggers arrived, ${sent} were sent`);
  return { us: (result.elapsed as number) * 1000 / run.n, failed };
}

/** The machine a run measured on, for the report. */
export async function machine(h: Harness): Promise<Answer> {
  return {
    cpus: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    node: h.nodePath ? await nodeVersion(h.nodePath) : null,
    openFiles: h.limits,
  };
}

/** The soft and hard open-file limits of this process (children inherit them). */
function openFileLimits(): { soft: number; hard: number } {
  const line = Deno.readTextFileSync("/proc/self/limits").split("\n").find((l) => l.startsWith("Max open files"));
  const [soft, hard] = (line ?? "").split(/\s+/).slice(3, 5).map((v) => (v === "unlimited" ? Infinity : Number(v)));
  return { soft: soft || 1024, hard: hard || 1024 };
}

/**
 * The real Node.js on PATH. Deno puts a `node` shim (Deno itself) first on
 * its own PATH, so a candidate that resolves to Deno, or answers as Deno, is skipped.
 */
function findNode(): string | undefined {
  const deno = Deno.realPathSync(Deno.execPath());
  for (const entry of (Deno.env.get("PATH") ?? "").split(":")) {
    const path = `${entry}/node`;
    try {
      if (!Deno.statSync(path).isFile || Deno.realPathSync(path) === deno) continue;
      const { stdout } = new Deno.Command(path, { args: ["-p", "typeof Deno"], stderr: "null" }).outputSync();
      if (new TextDecoder().decode(stdout).trim() === "undefined") return path;
    } catch {
      // Not in this PATH entry, or not runnable.
    }
  }
  return undefined;
}

async function nodeVersion(path: string): Promise<string> {
  const { stdout } = await new Deno.Command(path, { args: ["--version"] }).output();
  return new TextDecoder().decode(stdout).trim();
}
