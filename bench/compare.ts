/**
 * Side by side: raw Deno, postnet and Node.js doing the same trigger work,
 * plus the scenario figures of DESIGN.md section 7, in one invocation.
 *
 * ```sh
 * deno run -A bench/compare.ts [--n 300] [--rounds 25] [--out bench/results]
 * ```
 *
 * Every client and server under test runs in a process of its own: two Deno
 * agents (bench/_agent.ts: one for clients, one for servers) and one Node
 * agent (bench/node_agent.mjs, skipped with a printed reason when `node` is
 * absent), driven over stdin/stdout.
 *
 * - Client side: the raw Deno client, postnet and Node send `n` triggers to
 *   the same raw Deno server (one at a time, then from 64 concurrent loops).
 * - Server side: the raw Deno server, `serveTriggers` and a Node `net`
 *   server are driven by the same raw Deno client. On a FIFO, where a writer
 *   never waits, each server acknowledges every byte it reads on a second
 *   FIFO, and the client waits for the acknowledgement (one trigger, or a
 *   batch of 64, in flight at a time): write until read.
 *
 * Figures are medians over `rounds` rounds (after one warm-up round), the
 * implementations taking turns within a round; each ratio is the median of
 * the rounds' own ratios, so that load from the rest of a shared machine,
 * which comes and goes between rounds, weighs on both sides of it. Short
 * rounds, many of them, for the same reason. Writes `latest.json` and
 * `latest.svg` to the output directory.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { inetConnect } from "../connect/inet_connect.ts";
import { inetTrigger, unixTrigger } from "../trigger/mod.ts";
import type { LookupAddress } from "../connect/mod.ts";
import { readLines } from "./_lines.ts";
import { rawStreamServer } from "./_raw.ts";

const started = performance.now();
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "300" },
    rounds: { type: "string", default: "25" },
    out: { type: "string", default: new URL("./results", import.meta.url).pathname },
  },
});
const N = Number(flags.n);
const ROUNDS = Number(flags.rounds);
if (!(N >= 64) || !(ROUNDS >= 1)) throw new RangeError("--n must be at least 64 and --rounds at least 1");

type Transport = "inet" | "unix" | "fifo";
type Impl = "raw" | "bounded" | "postnet" | "node";
type Answer = Record<string, unknown>;
const TRANSPORTS: Transport[] = ["inet", "unix", "fifo"];
const MODES = [
  { mode: "sequential", concurrency: 1, n: N },
  { mode: "64 concurrent", concurrency: 64, n: 2 * N },
] as const;

/** A subprocess that answers JSON-line requests. */
class Agent {
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

// ---------------------------------------------------------------- setup

const dir = await Deno.makeTempDir({ prefix: "postnet-compare-" });
const limits = openFileLimits();
/** Files one agent may hold: 1,000 silent connections plus a margin. */
const NEEDED_FILES = 2_200;
const canHoldSilent = limits.hard >= NEEDED_FILES;

/** Spawns through `sh -c 'ulimit -n'` when the soft open-file limit is too low (Deno cannot setrlimit). */
function spawn(name: string, command: string, args: string[]): Agent {
  if (limits.soft >= NEEDED_FILES || !canHoldSilent) return new Agent(name, command, args);
  return new Agent(name, "sh", ["-c", `ulimit -n ${Math.min(limits.hard, 8192)} && exec "$0" "$@"`, command, ...args]);
}

const agentPath = new URL("./_agent.ts", import.meta.url).pathname;
const denoArgs = ["run", "-A", "--v8-flags=--expose-gc", agentPath];
const clients = spawn("deno client agent", Deno.execPath(), denoArgs);
const servers = spawn("deno server agent", Deno.execPath(), denoArgs);
const nodePath = findNode();
const node = nodePath
  ? spawn("node agent", nodePath, ["--expose-gc", new URL("./node_agent.mjs", import.meta.url).pathname])
  : undefined;
if (!node) console.log("node: not found on PATH; the Node.js column is skipped");

const report: Answer = {
  date: new Date().toISOString(),
  machine: {
    cpus: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    node: nodePath ? await nodeVersion(nodePath) : null,
    openFiles: limits,
  },
  settings: { n: N, rounds: ROUNDS, concurrency: 64 },
};

try {
  const rows = await workloads();
  report.rows = rows;
  printTable(rows);
  const scenarios = await runScenarios();
  report.scenarios = scenarios;
  printScenarios(scenarios);
} finally {
  await Promise.all([clients.close(), servers.close(), node?.close()]);
  await Deno.remove(dir, { recursive: true });
}
report.seconds = (performance.now() - started) / 1000;
await Deno.mkdir(flags.out, { recursive: true });
await Deno.writeTextFile(`${flags.out}/latest.json`, JSON.stringify(report, null, 2) + "\n");
await Deno.writeTextFile(`${flags.out}/latest.svg`, chart(report.rows as Row[]));
console.log(`\nwrote ${flags.out}/latest.json and latest.svg in ${(report.seconds as number).toFixed(1)} s`);

// ---------------------------------------------------------------- workloads

interface Figure {
  /** Median per-trigger time, microseconds. */
  us: number;
  /** Triggers per second at that median. */
  perSecond: number;
  /** Per-trigger microseconds of every measured round. */
  rounds: number[];
  failures: number;
}

interface Row {
  side: "client" | "server";
  transport: Transport;
  mode: string;
  n: number;
  raw: Figure;
  /** Client side only: raw Deno plus the bounds postnet keeps (a timer per trigger, a TCP connect signal, safe_open's stats). */
  bounded: Figure | null;
  postnet: Figure;
  node: Figure | null;
  /** postnet time / raw time (client side); raw time / postnet time = postnet/raw triggers per second (server side). */
  postnetVsRaw: number;
  /** postnet time / bounded raw time (client side): what postnet adds over what never hanging costs in raw Deno. */
  postnetVsBounded: number | null;
  /** node time / postnet time: above 1, postnet is faster. */
  nodeVsPostnet: number | null;
  target: string;
  /** postnetVsRaw meets the target. */
  meetsTarget: boolean;
  /** postnet is faster than Node (null without Node). */
  beatsNode: boolean | null;
  /** Both, and no trigger failed. */
  pass: boolean;
}

async function workloads(): Promise<Row[]> {
  // One server of each kind per transport, in the agents, for the whole run.
  // The FIFO servers under test acknowledge each byte on a FIFO the client reads.
  const ack = `${dir}/ack.fifo`;
  await clients.ask("ackOpen", { path: ack });
  const clientSide: Partial<Record<Transport, Answer>> = {};
  const serverOf: Record<Impl, Partial<Record<Transport, Answer>>> = { raw: {}, bounded: {}, postnet: {}, node: {} };
  for (const transport of TRANSPORTS) {
    const fifo = transport === "fifo";
    clientSide[transport] = await servers.ask("serve", { impl: "raw", transport, path: `${dir}/raw.${transport}` });
    serverOf.raw[transport] = fifo
      ? await servers.ask("serve", { impl: "raw", transport, path: `${dir}/raw-ack.${transport}`, ack })
      : clientSide[transport];
    serverOf.postnet[transport] = await servers.ask("serve", {
      impl: "postnet",
      transport,
      path: `${dir}/postnet.${transport}`,
      ack: fifo ? ack : undefined,
    });
    if (node) {
      serverOf.node[transport] = await node.ask("serve", {
        transport,
        path: `${dir}/node.${transport}`,
        ack: fifo ? ack : undefined,
      });
    }
  }
  const rows: Row[] = [];
  for (const side of ["client", "server"] as const) {
    // The bounded raw client is the client side's floor; servers are all driven by the raw client.
    const impls: Impl[] = [...(side === "client" ? ["raw", "bounded"] as const : ["raw"] as const), "postnet"];
    if (node) impls.push("node");
    for (const transport of TRANSPORTS) {
      for (const { mode, concurrency, n } of MODES) {
        const times: Record<Impl, number[]> = { raw: [], bounded: [], postnet: [], node: [] };
        const failures: Record<Impl, number> = { raw: 0, bounded: 0, postnet: 0, node: 0 };
        for (let round = 0; round <= ROUNDS; round++) {
          // Take turns: each implementation goes first in some round.
          const order = impls.map((_, i) => impls[(i + round) % impls.length]);
          for (const impl of order) {
            const { us, failed } = side === "client"
              ? await clientRound(impl, transport, clientSide[transport]!, n, concurrency)
              : await serverRound(impl, transport, serverOf[impl][transport]!, n, concurrency);
            // Round 0 warms up the JIT, the sockets and the servers.
            if (round > 0) times[impl].push(us);
            failures[impl] += failed;
          }
        }
        const figure = (impl: Impl): Figure => {
          const us = median(times[impl]);
          return { us, perSecond: 1e6 / us, rounds: times[impl], failures: failures[impl] };
        };
        const raw = figure("raw");
        const bounded = side === "client" ? figure("bounded") : null;
        const postnet = figure("postnet");
        const nodeFigure = node ? figure("node") : null;
        // Ratios pair the implementations within each round (they ran back to back, under the
        // same load from the rest of the machine), then take the median over the rounds.
        const ratio = (a: Impl, b: Impl) => median(times[a].map((t, i) => t / times[b][i]));
        const postnetVsRaw = side === "client" ? ratio("postnet", "raw") : ratio("raw", "postnet");
        const nodeVsPostnet = nodeFigure ? ratio("node", "postnet") : null;
        const postnetVsBounded = bounded ? ratio("postnet", "bounded") : null;
        const [target, ok] = side === "client"
          ? transport === "fifo" ? ["<= 1.2x raw", postnetVsRaw <= 1.2] : ["<= 1.10x raw", postnetVsRaw <= 1.1]
          : [">= 0.9x raw triggers/s", postnetVsRaw >= 0.9];
        const beatsNode = nodeVsPostnet === null ? null : nodeVsPostnet > 1;
        const failed = raw.failures + (bounded?.failures ?? 0) + postnet.failures + (nodeFigure?.failures ?? 0);
        const pass = ok && beatsNode !== false && failed === 0;
        rows.push({
          side,
          transport,
          mode,
          n,
          raw,
          bounded,
          postnet,
          node: nodeFigure,
          postnetVsRaw,
          postnetVsBounded,
          nodeVsPostnet,
          target,
          meetsTarget: ok,
          beatsNode,
          pass,
        });
        const line = `${side.padEnd(6)} ${transport.padEnd(4)} ${mode.padEnd(13)}` +
          ` raw ${fmt(raw.us)} us` + (bounded ? `  bounded ${fmt(bounded.us)} us` : "") +
          `  postnet ${fmt(postnet.us)} us` +
          (nodeFigure ? `  node ${fmt(nodeFigure.us)} us` : "");
        console.log(line);
      }
    }
  }
  return rows;
}

/** `n` triggers from the client of kind `impl` to the raw Deno server; checks all arrived. */
async function clientRound(
  impl: Impl,
  transport: Transport,
  server: Answer,
  n: number,
  concurrency: number,
): Promise<{ us: number; failed: number }> {
  await servers.ask("stats", { key: server.key, reset: true });
  const agent = impl === "node" ? node! : clients;
  const result = await agent.ask("run", { impl, transport, target: server, n, concurrency });
  const failed = result.failures as number;
  if (failed > 0) console.log(`  ${impl} ${transport} client: ${failed} failed: ${result.firstError}`);
  await checkDelivered(servers, server, transport, n - failed);
  return { us: (result.elapsed as number) * 1000 / n, failed };
}

/**
 * `n` raw Deno triggers to the server of kind `impl`. On a FIFO, where a
 * writer never waits, each batch of `concurrency` writes waits until the
 * server has acknowledged it (write until read).
 */
async function serverRound(
  impl: Impl,
  transport: Transport,
  server: Answer,
  n: number,
  concurrency: number,
): Promise<{ us: number; failed: number }> {
  const owner = impl === "node" ? node! : servers;
  await owner.ask("stats", { key: server.key, reset: true });
  const ack = transport === "fifo" ? true : undefined;
  const result = await clients.ask("run", { impl: "raw", transport, target: server, n, concurrency, ack });
  const failed = result.failures as number;
  if (failed > 0) console.log(`  ${impl} ${transport} server: ${failed} failed: ${result.firstError}`);
  await checkDelivered(owner, server, transport, n - failed);
  return { us: (result.elapsed as number) * 1000 / n, failed };
}

/** Every trigger sent must have reached the server (a FIFO's bytes may still be in flight). */
async function checkDelivered(owner: Agent, server: Answer, transport: Transport, sent: number): Promise<void> {
  if (transport === "fifo") await owner.ask("waitBytes", { key: server.key, bytes: sent, timeout: 10_000 });
  const { triggers } = await owner.ask("stats", { key: server.key });
  if (triggers !== sent) throw new Error(`${server.key}: ${triggers} triggers arrived, ${sent} were sent`);
}

// ---------------------------------------------------------------- scenarios

async function runScenarios(): Promise<Answer> {
  const scenarios: Answer = {};
  const hole = await openBlackHole();
  if (typeof hole === "string") {
    console.log(`black hole: unavailable (${hole}); Happy Eyeballs and black-hole deadlines skipped`);
    scenarios.blackHole = { skipped: hole };
  } else {
    try {
      scenarios.happyEyeballs = await happyEyeballs(hole.port);
      scenarios.connectDeadline = await settleTimes(5, 200, async () => {
        await inetConnect(`127.0.0.2:${hole.port}`, { timeout: 200 }).then((conn) => {
          conn.close();
          throw new Error("connected to the black hole");
        }, (error) => {
          if (!(error instanceof DOMException && error.name === "TimeoutError")) throw error;
        });
      });
    } finally {
      hole.close();
    }
  }
  scenarios.triggerDeadline = await silentPeerDeadlines();
  scenarios.burst = {
    inet: await burst("inet"),
    unix: await burst("unix"),
    "inet, listen backlog 4096": await burst("inet", 4_096),
  };
  if (!canHoldSilent) {
    const reason = `open-file hard limit ${limits.hard} < ${NEEDED_FILES}`;
    console.log(`silent connections: skipped (${reason})`);
    scenarios.silent = { skipped: reason };
  } else {
    scenarios.silent = {
      defaultMaxConnections: await silentLoad({}),
      maxConnections2048: await silentLoad({ maxConnections: 2048 }),
    };
    scenarios.memory = await idleMemory();
  }
  return scenarios;
}

interface BlackHole {
  port: number;
  close(): void;
}

/**
 * A black hole on loopback: a listener on 127.0.0.2 with backlog 0 whose
 * accept queue is filled by a never-accepted connection, so the kernel drops
 * further SYNs; and a real server on 127.0.0.1 at the same port.
 */
async function openBlackHole(): Promise<BlackHole | string> {
  let last = "";
  for (let attempt = 0; attempt < 10; attempt++) {
    let hole: Deno.TcpListener;
    try {
      hole = Deno.listen({ hostname: "127.0.0.2", port: 0, tcpBacklog: 0 });
    } catch (error) {
      return `cannot listen on 127.0.0.2: ${(error as Error).message}`;
    }
    const { port } = hole.addr;
    const held: Deno.Conn[] = [];
    const closeHole = () => {
      for (const conn of held) conn.close();
      hole.close();
    };
    try {
      held.push(await Deno.connect({ hostname: "127.0.0.2", port, signal: AbortSignal.timeout(1_000) }));
      const probe = await Deno.connect({ hostname: "127.0.0.2", port, signal: AbortSignal.timeout(100) })
        .then((conn) => (conn.close(), "answered"), () => "dropped");
      if (probe !== "dropped") {
        closeHole();
        return "a full accept queue does not drop SYNs here";
      }
      const real = rawStreamServer(Deno.listen({ hostname: "127.0.0.1", port }));
      return {
        port,
        close() {
          real.closeSync();
          closeHole();
        },
      };
    } catch (error) {
      closeHole();
      last = (error as Error).message;
    }
  }
  return last;
}

/** Connect times with 127.0.0.2 (black-holed) listed before 127.0.0.1. */
async function happyEyeballs(port: number): Promise<Answer> {
  const lookup = (): Promise<LookupAddress[]> =>
    Promise.resolve([{ address: "127.0.0.2", family: 4 }, { address: "127.0.0.1", family: 4 }]);
  const address = `black-hole.test:${port}`;
  const timeConnect = async (options: Parameters<typeof inetConnect>[1]) => {
    const start = performance.now();
    const conn = await inetConnect(address, { lookup, timeout: 5_000, ...options });
    const elapsed = performance.now() - start;
    conn.close();
    return elapsed;
  };
  const eyeballs: number[] = [];
  for (let i = 0; i < 5; i++) eyeballs.push(await timeConnect({}));
  const serial: number[] = [];
  for (let i = 0; i < 3; i++) serial.push(await timeConnect({ strategy: "serial", attemptTimeout: 500 }));
  return {
    attemptDelay: 250,
    happyEyeballsMs: stats(eyeballs),
    targetMs: 280,
    pass: Math.max(...eyeballs) <= 280,
    serialAttemptTimeout: 500,
    serialMs: stats(serial),
  };
}

/** Runs `operation` `count` times; how far past `timeout` ms each one settled. */
async function settleTimes(count: number, timeout: number, operation: () => Promise<unknown>): Promise<Answer> {
  const overshoot: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await operation();
    overshoot.push(performance.now() - start - timeout);
  }
  return { timeoutMs: timeout, overshootMs: stats(overshoot), targetMs: 30, pass: Math.max(...overshoot) <= 30 };
}

/** Triggers with a 200 ms timeout to peers that accept, read and never close. */
async function silentPeerDeadlines(): Promise<Answer> {
  const held: Deno.Conn[] = [];
  const hold = (listener: Deno.Listener) =>
    (async () => {
      for await (const conn of listener) held.push(conn);
    })().catch(() => {});
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const unixPath = `${dir}/never-closes.sock`;
  const unix = Deno.listen({ transport: "unix", path: unixPath });
  const loops = [hold(tcp), hold(unix)];
  const expectOpen = (result: { peerClosed: boolean }) => {
    if (result.peerClosed) throw new Error("the peer that never closes closed");
  };
  try {
    return {
      inet: await settleTimes(5, 200, async () => {
        expectOpen(await inetTrigger(`127.0.0.1:${tcp.addr.port}`, "W", { timeout: 200 }));
      }),
      unix: await settleTimes(5, 200, async () => expectOpen(await unixTrigger(unixPath, "W", { timeout: 200 }))),
    };
  } finally {
    tcp.close();
    unix.close();
    await Promise.all(loops);
    for (const conn of held) conn.close();
  }
}

/** 1,000 postnet triggers at once to one serveTriggers server (default options; optionally a larger backlog). */
async function burst(transport: "inet" | "unix", backlog?: number): Promise<Answer> {
  const server = await servers.ask("serve", { impl: "postnet", transport, path: `${dir}/burst.${transport}`, backlog });
  try {
    const result = await clients.ask("burst", { transport, target: server, n: 1_000 });
    const { triggers } = await servers.ask("stats", { key: server.key });
    return {
      sent: 1_000,
      delivered: triggers,
      failures: result.failures,
      firstError: result.firstError,
      elapsedMs: result.elapsed,
      latencyMs: stats(result.latencies as number[]),
      pass: triggers === 1_000 && result.failures === 0,
    };
  } finally {
    await servers.ask("closeServer", { key: server.key });
  }
}

/**
 * 1,000 silent TCP connections to one serveTriggers server (readTimeout 2 s)
 * while real triggers flow (100, one every 10 ms): the real ones' latency,
 * and when the silent ones were closed.
 */
async function silentLoad(options: Answer): Promise<Answer> {
  const readTimeout = 2_000;
  const server = await servers.ask("serve", {
    impl: "postnet",
    transport: "inet",
    options: { readTimeout, ...options },
  });
  try {
    const opened = await clients.ask("silentOpen", { transport: "inet", target: server, n: 1_000, timeout: 10_000 });
    const real = await clients.ask("paced", { transport: "inet", target: server, n: 100, gap: 10 });
    const closed = await clients.ask("silentWait", { timeout: 15_000 });
    const latencies = real.latencies as number[];
    const p99 = percentile(latencies, 99);
    return {
      options: { readTimeout, maxConnections: options.maxConnections ?? "default (2048)" },
      silentOpened: opened.opened,
      silentFailed: opened.failed,
      silentOpenMs: opened.elapsed,
      realTriggers: latencies.length,
      realFailures: real.failures,
      realLatencyMs: stats(latencies),
      targetP99Ms: 50,
      pass: p99 < 50 && real.failures === 0,
      silentClosedAfterMs: stats(closed.closedAfter as number[]),
      silentStillOpen: closed.open,
    };
  } finally {
    await clients.ask("silentClose");
    await servers.ask("closeServer", { key: server.key });
  }
}

/**
 * RSS per idle connection held by each kind of server, each in a fresh
 * process (a process that served before keeps the freed memory in its RSS):
 * 200 warm-up triggers, a full GC, RSS; 1,000 silent connections, RSS.
 */
async function idleMemory(): Promise<Answer> {
  const memory: Answer = {};
  const kinds: [Impl, string, string[]][] = [
    ["raw", Deno.execPath(), denoArgs],
    ["postnet", Deno.execPath(), denoArgs],
  ];
  if (nodePath) kinds.push(["node", nodePath, ["--expose-gc", new URL("./node_agent.mjs", import.meta.url).pathname]]);
  for (const [impl, command, args] of kinds) {
    const owner = spawn(`${impl} memory agent`, command, args);
    try {
      const server = await owner.ask("serve", {
        impl,
        transport: "inet",
        // Long enough that the silent connections stay open while RSS is read.
        options: impl === "postnet" ? { readTimeout: 30_000, maxConnections: 2048 } : undefined,
      });
      await clients.ask("run", { impl: "raw", transport: "inet", target: server, n: 200, concurrency: 1 });
      const before = (await owner.ask("rss")).rss as number;
      const opened = await clients.ask("silentOpen", { transport: "inet", target: server, n: 1_000, timeout: 10_000 });
      await sleep(300);
      const after = (await owner.ask("rss")).rss as number;
      await clients.ask("silentClose");
      memory[impl] = { bytesPerConnection: (after - before) / (opened.opened as number), connections: opened.opened };
    } finally {
      await owner.close();
    }
  }
  return memory;
}

// ---------------------------------------------------------------- output

function printTable(rows: Row[]): void {
  const head = [
    "side",
    "transport",
    "mode",
    "raw us",
    "bounded us",
    "postnet us",
    "node us",
    "raw trig/s",
    "postnet trig/s",
    "node trig/s",
    "postnet/raw",
    "postnet/bounded",
    "node/postnet",
    "target",
    "met",
    "beats node",
  ];
  const body = rows.map((r) => [
    r.side,
    r.transport,
    r.mode,
    fmt(r.raw.us),
    r.bounded ? fmt(r.bounded.us) : "-",
    fmt(r.postnet.us),
    r.node ? fmt(r.node.us) : "-",
    Math.round(r.raw.perSecond).toString(),
    Math.round(r.postnet.perSecond).toString(),
    r.node ? Math.round(r.node.perSecond).toString() : "-",
    `${r.postnetVsRaw.toFixed(2)}x`,
    r.postnetVsBounded === null ? "-" : `${r.postnetVsBounded.toFixed(2)}x`,
    r.nodeVsPostnet === null ? "-" : `${r.nodeVsPostnet.toFixed(2)}x`,
    r.target,
    r.meetsTarget ? "yes" : "NO",
    r.beatsNode === null ? "-" : r.beatsNode ? "yes" : "NO",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(`\nmedian of ${ROUNDS} rounds; n = ${N} sequential, ${2 * N} from 64 concurrent loops`);
  console.log("ratios: the median over the rounds of each round's ratio (the implementations run back to back)");
  console.log("client side: time ratio postnet/raw; server side: triggers/s ratio postnet/raw");
  console.log("bounded: the raw Deno client plus the bounds postnet keeps (a timer per trigger, a TCP connect signal,");
  console.log(
    "         the FIFO's lstat and fstat); postnet/bounded is what postnet adds over never hanging in raw Deno",
  );
  console.log(line(head));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const b of body) console.log(line(b));
}

function printScenarios(s: Answer): void {
  console.log("\nscenarios");
  const he = s.happyEyeballs as Answer | undefined;
  if (he) {
    const eyeballs = he.happyEyeballsMs as Stats;
    const serial = he.serialMs as Stats;
    console.log(
      `  Happy Eyeballs, first address black-holed: median ${fmt(eyeballs.p50)} ms, max ${fmt(eyeballs.max)} ms` +
        ` (target <= 280) ${he.pass ? "ok" : "MISSED"}; serial with attemptTimeout 500: median ${fmt(serial.p50)} ms`,
    );
  }
  const deadline = (name: string, d: Answer | undefined) => {
    if (!d) return;
    const o = d.overshootMs as Stats;
    console.log(
      `  ${name}: settled ${fmt(o.p50)} ms (median), ${fmt(o.max)} ms (max) after the 200 ms timeout` +
        ` (target <= 30) ${d.pass ? "ok" : "MISSED"}`,
    );
  };
  deadline("trigger to an inet peer that never closes", (s.triggerDeadline as Answer).inet as Answer);
  deadline("trigger to a unix peer that never closes", (s.triggerDeadline as Answer).unix as Answer);
  deadline("connect to a black hole", s.connectDeadline as Answer | undefined);
  for (const [transport, b] of Object.entries(s.burst as Record<string, Answer>)) {
    const l = b.latencyMs as Stats;
    console.log(
      `  1,000 concurrent ${transport} triggers to one serveTriggers: ${b.delivered}/1000 delivered,` +
        ` ${b.failures} failed, p50 ${fmt(l.p50)} ms, p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms` +
        ` ${b.pass ? "ok" : "MISSED"}${b.firstError ? ` (${b.firstError})` : ""}`,
    );
  }
  const silent = s.silent as Record<string, Answer>;
  if (silent.skipped) return;
  for (const [name, r] of Object.entries(silent)) {
    const l = r.realLatencyMs as Stats;
    const c = r.silentClosedAfterMs as Stats;
    const o = r.options as Answer;
    console.log(
      `  1,000 silent connections (readTimeout ${o.readTimeout}, maxConnections ${o.maxConnections}, ${name}):` +
        ` ${r.silentOpened} opened in ${fmt(r.silentOpenMs as number)} ms; real triggers p50 ${fmt(l.p50)} ms,` +
        ` p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms (target p99 < 50) ${r.pass ? "ok" : "MISSED"};` +
        ` silent closed after ${fmt(c.min)}..${fmt(c.max)} ms (median ${fmt(c.p50)}), ${r.silentStillOpen} still open`,
    );
  }
  const m = s.memory as Record<string, Answer>;
  const per = (impl: string) => m[impl] ? `${kib(m[impl].bytesPerConnection as number)} KiB` : "-";
  console.log(
    `  RSS per idle connection (server side, fresh process each): postnet ${per("postnet")}, raw Deno ${
      per("raw")
    }, Node ${per("node")}`,
  );
}

/** A grouped horizontal bar chart of per-trigger microseconds, hand-written SVG. */
function chart(rows: Row[]): string {
  const colors: Record<Impl, string> = { raw: "#7f8c8d", bounded: "#bdc3c7", postnet: "#2e86de", node: "#27ae60" };
  const names: Record<Impl, string> = {
    raw: "raw Deno",
    bounded: "raw Deno, bounded",
    postnet: "postnet",
    node: "Node.js",
  };
  const impls: Impl[] = rows.some((r) => r.node)
    ? ["raw", "bounded", "postnet", "node"]
    : ["raw", "bounded", "postnet"];
  const bar = 12;
  const rowHeight = impls.length * bar + 14;
  const left = 300;
  const width = 900;
  const plot = width - left - 90;
  const top = 60;
  const max = Math.max(...rows.flatMap((r) => impls.map((i) => r[i]?.us ?? 0)));
  const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const parts: string[] = [];
  let y = top;
  let side = "";
  for (const r of rows) {
    if (r.side !== side) {
      side = r.side;
      y += 18;
      parts.push(
        `<text x="10" y="${y}" font-weight="bold">${side} side (${
          side === "client" ? "clients to one raw Deno server" : "servers driven by one raw Deno client"
        })</text>`,
      );
      y += 10;
    }
    const middle = y + (impls.length * bar) / 2;
    parts.push(
      `<text x="${left - 8}" y="${middle - 2}" text-anchor="end">${escape(`${r.transport}, ${r.mode}`)}</text>`,
      `<text x="${left - 8}" y="${middle + 11}" text-anchor="end" font-size="10" fill="${
        r.pass ? "#555" : "#c0392b"
      }">${
        escape(
          `postnet/raw ${r.postnetVsRaw.toFixed(2)}x (${r.target})` +
            (r.postnetVsBounded === null ? "" : `, /bounded ${r.postnetVsBounded.toFixed(2)}x`),
        )
      }</text>`,
    );
    impls.forEach((impl, i) => {
      const figure = r[impl];
      if (!figure) return;
      const w = Math.max(1, (figure.us / max) * plot);
      const by = y + i * bar;
      parts.push(`<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${bar - 2}" fill="${colors[impl]}"/>`);
      parts.push(
        `<text x="${(left + w + 4).toFixed(1)}" y="${by + bar - 3}" font-size="10">${fmt(figure.us)} us</text>`,
      );
    });
    y += rowHeight;
  }
  const legend = impls.map((impl, i) =>
    `<rect x="${left - 200 + i * 150}" y="32" width="12" height="12" fill="${colors[impl]}"/>` +
    `<text x="${left - 200 + i * 150 + 16}" y="42">${names[impl]}</text>`
  );
  const height = y + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="15" font-weight="bold">postnet vs raw Deno vs Node.js: microseconds per trigger (median of ${ROUNDS} rounds, lower is better)</text>
${legend.join("\n")}
${parts.join("\n")}
</svg>
`;
}

// ---------------------------------------------------------------- helpers

interface Stats {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
}

function stats(values: number[]): Stats {
  if (values.length === 0) return { n: 0, min: NaN, p50: NaN, p99: NaN, max: NaN };
  return {
    n: values.length,
    min: Math.min(...values),
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: Math.max(...values),
  };
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function fmt(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function kib(bytes: number): string {
  return (bytes / 1024).toFixed(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
