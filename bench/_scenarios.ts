/**
 * Internal: the scenario figures of DESIGN.md section 7 for bench/compare.ts,
 * each checked against its target:
 *
 * - Happy Eyeballs with the first address black-holed (a listener on
 *   127.0.0.2 whose accept queue is full), and the serial strategy;
 * - deadlines: triggers to peers that accept and never close, a connect to
 *   the black hole: how far past the timeout they settle;
 * - 1,000 concurrent triggers to one `serveTriggers` server;
 * - 1,000 silent connections while real triggers flow, and when the server
 *   closes the silent ones;
 * - RSS per idle connection, for raw Deno, postnet and Node, each in a fresh process.
 *
 * @module
 */
import { inetConnect } from "../connect/inet_connect.ts";
import type { LookupAddress } from "../connect/mod.ts";
import { inetTrigger, unixTrigger } from "../trigger/mod.ts";
import { type Answer, type Harness, NEEDED_FILES } from "./_harness.ts";
import { rawStreamServer } from "./_raw.ts";
import { percentile, stats } from "./_stats.ts";

/** Runs every scenario; the ones that need what this machine lacks are skipped with a printed reason. */
export async function runScenarios(h: Harness): Promise<Answer> {
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
  scenarios.triggerDeadline = await silentPeerDeadlines(h.dir);
  scenarios.burst = {
    inet: await burst(h, "inet"),
    unix: await burst(h, "unix"),
    "inet, listen backlog 4096": await burst(h, "inet", 4_096),
  };
  if (!h.canHoldSilent) {
    const reason = `open-file hard limit ${h.limits.hard} < ${NEEDED_FILES}`;
    console.log(`silent connections: skipped (${reason})`);
    scenarios.silent = { skipped: reason };
  } else {
    scenarios.silent = {
      defaultMaxConnections: await silentLoad(h, {}),
      maxConnections2048: await silentLoad(h, { maxConnections: 2048 }),
    };
    scenarios.memory = await idleMemory(h);
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
async function silentPeerDeadlines(dir: string): Promise<Answer> {
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
async function burst(h: Harness, transport: "inet" | "unix", backlog?: number): Promise<Answer> {
  const { clients, servers } = h;
  const server = await servers.ask("serve", {
    impl: "postnet",
    transport,
    path: `${h.dir}/burst.${transport}`,
    backlog,
  });
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
async function silentLoad(h: Harness, options: Answer): Promise<Answer> {
  const { clients, servers } = h;
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
async function idleMemory(h: Harness): Promise<Answer> {
  const { clients } = h;
  const memory: Answer = {};
  const impls = h.nodePath ? ["raw", "postnet", "node"] : ["raw", "postnet"];
  for (const impl of impls) {
    const owner = h.spawn(impl === "node" ? "node" : "deno", `${impl} memory agent`);
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
