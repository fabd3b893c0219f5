/**
 * Soak: N sequential and N concurrent triggers per transport (inet, unix,
 * fifo) to serveTriggers() in this process, counted on both sides.
 *
 * deno run -A tests/reliability/soak.ts [--count N] [--concurrency C]
 *   [--max-seconds S] [--transports inet,unix,fifo]
 *
 * It runs itself again in a subprocess, with the V8 flags below and
 * DENO_NO_UPDATE_CHECK=1 (no traffic beyond loopback), and exits with its code.
 *
 * Checks, and exits 1 when one fails:
 * - every trigger delivered exactly once: client successes == server
 *   handler calls, each request id seen once (stream transports); on the
 *   FIFO, where writes coalesce, the bytes received == the bytes sent, in
 *   order (each trigger writes the next letter of A..Z);
 * - no descriptor left open: /proc/self/fd counted after a warm-up round
 *   and at the end;
 * - resident memory grows less than 20 MiB from the 10% point to the end.
 *
 * "Concurrent" is C triggers in flight at once (C async workers). A FIFO
 * trigger never waits, so on the FIFO all workers pause for one turn of the
 * event loop every 64 calls, for the server's reader.
 * A FIFO trigger that finds the FIFO full (WouldBlock: the reader is behind)
 * is retried after 1 ms, and the retries are counted; any other failure counts
 * as one.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fifoTrigger } from "../../trigger/fifo_trigger.ts";
import { inetTrigger } from "../../trigger/inet_trigger.ts";
import { serveTriggers, type TriggerServer } from "../../trigger/trigger_server.ts";
import { unixTrigger } from "../../trigger/unix_trigger.ts";
import { delay, fdCount, mib, percentile, portOf, rssOf } from "./_util.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "100000" },
    concurrency: { type: "string", default: "64" },
    "max-seconds": { type: "string", default: "290" },
    transports: { type: "string", default: "inet,unix,fifo" },
  },
});
/**
 * V8 flags the soak runs under: gc() to measure memory after a collection,
 * and a fixed young generation. By default V8 grows its young generation
 * in steps (8 to 60 MiB committed, heap in use staying at 6 MiB) when the
 * allocation rate is high, which shows as a step in RSS that is not a leak.
 */
const V8_FLAGS = "--expose-gc,--min-semi-space-size=16,--max-semi-space-size=16";
if (Deno.env.get("POSTNET_SOAK_CHILD") !== "1") {
  // Run again, as a subprocess of this one, under the flags; the exit code passes through.
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", `--v8-flags=${V8_FLAGS}`, import.meta.filename!, ...Deno.args],
    env: { POSTNET_SOAK_CHILD: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  Deno.exit(code);
}
const N = Number(values.count);
const C = Number(values.concurrency);
const MAX_MS = Number(values["max-seconds"]) * 1000;
type Transport = "inet" | "unix" | "fifo";
const TRANSPORTS = values.transports.split(",") as Transport[];
if (
  !Number.isInteger(N) || N < 1 || !Number.isInteger(C) || C < 1 || !(MAX_MS > 0) ||
  TRANSPORTS.length === 0 || TRANSPORTS.some((t) => !["inet", "unix", "fifo"].includes(t))
) {
  console.error(
    "usage: soak.ts [--count N >= 1] [--concurrency C >= 1] [--max-seconds S > 0] [--transports inet,unix,fifo]",
  );
  Deno.exit(2);
}
const RSS_LIMIT = 20 * (1 << 20);
const gc = (globalThis as { gc?: () => void }).gc;
const decoder = new TextDecoder();
const started = performance.now();
const failures: string[] = [];

/** Fails the run (exit 1 at the end) with a reason. */
function fail(reason: string): void {
  failures.push(reason);
  console.error(`FAIL: ${reason}`);
}

/** Progress over every counted trigger, for the memory samples. */
const total = TRANSPORTS.length * 2 * N;
let done = 0;
const marks = [0.1, 0.25, 0.5, 0.75];
const samples: { at: string; rss: number; heap: number }[] = [];
function progress(): void {
  done++;
  // A full collection now and then, so RSS shows what is live rather than the high-water mark of
  // garbage between two collections (V8 and malloc keep those pages).
  if (done % 5_000 === 0) gc?.();
  while (marks.length > 0 && done >= marks[0] * total) {
    gc?.();
    samples.push({ at: `${marks.shift()! * 100}%`, rss: rssOf(), heap: Deno.memoryUsage().heapUsed });
  }
}

/** What the server saw for one transport. */
class Tally {
  calls = 0;
  bytes = 0;
  bad = 0;
  duplicates = 0;
  /** Stream: times each request id was seen. */
  readonly seen: Uint8Array;
  /** FIFO: position in the expected byte stream. */
  position = 0;
  #waiter: { count: number; resolve: () => void } | undefined;

  constructor(ids: number) {
    this.seen = new Uint8Array(ids);
  }

  readonly stream = ({ request }: { request: Uint8Array }): void => {
    this.calls++;
    this.bytes += request.length;
    const id = request.length > 0 && request.length <= 10 ? Number(decoder.decode(request)) : NaN;
    if (!Number.isInteger(id) || id < 0 || id >= this.seen.length) this.bad++;
    else if (this.seen[id]++ > 0) this.duplicates++;
    this.#check();
  };

  readonly fifo = ({ request }: { request: Uint8Array }): void => {
    this.calls++;
    for (const byte of request) {
      if (byte !== letter(this.position)) this.bad++;
      this.position++;
    }
    this.bytes += request.length;
    this.#check();
  };

  #check(): void {
    const count = this.seen.length > 0 ? this.calls : this.bytes;
    if (this.#waiter && count >= this.#waiter.count) this.#waiter.resolve();
  }

  /** Waits until the server has counted `count` calls (stream) or bytes (FIFO); bounded by `ms`. */
  async until(count: number, ms: number): Promise<boolean> {
    const current = () => this.seen.length > 0 ? this.calls : this.bytes;
    if (current() >= count) return true;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiter = { count, resolve };
    const timer = setTimeout(resolve, ms);
    try {
      await promise;
    } finally {
      clearTimeout(timer);
      this.#waiter = undefined;
    }
    return current() >= count;
  }
}

/** The FIFO byte for stream position `i`: A..Z, round and round. */
function letter(i: number): number {
  return 65 + (i % 26);
}

/** One client phase's figures. */
interface Phase {
  transport: Transport;
  phase: string;
  sent: number;
  ok: number;
  failed: number;
  retries: number;
  ms: number;
  latencies: Float64Array;
}

/** Starts a server for `transport` in `dir`. */
function serve(transport: Transport, dir: string, tally: Tally): Promise<TriggerServer> {
  const onError = (error: unknown) => fail(`${transport} server reported: ${error}`);
  if (transport === "fifo") return serveTriggers(`fifo:${dir}/pickup`, tally.fifo, { onError });
  const endpoint = transport === "unix" ? `unix:${dir}/qmgr` : "inet:127.0.0.1:0";
  return serveTriggers(endpoint, tally.stream, { onError });
}

/** A client for `server`: sends request number `id` (stream) or the byte for position `id` (FIFO). */
function client(transport: Transport, server: TriggerServer): (id: number) => Promise<unknown> {
  const endpoint = server.endpoint;
  if (transport === "inet") {
    const address = `127.0.0.1:${portOf(endpoint)}`;
    return (id) => inetTrigger(address, String(id), { timeout: 10_000 });
  }
  if (transport === "unix") {
    const path = endpoint.slice("unix:".length);
    return (id) => unixTrigger(path, String(id), { timeout: 10_000 });
  }
  const path = endpoint.slice("fifo:".length);
  const bytes = Array.from({ length: 26 }, (_, i) => Uint8Array.of(65 + i));
  return (id) => fifoTrigger(path, bytes[id % 26]);
}

/** FIFO triggers written between two turns of the event loop (the server's reader needs a turn to read again). */
const FIFO_BATCH = 64;

/** Sends ids [from, from + count) through `send`, `concurrency` at a time. */
async function run(
  transport: Transport,
  phase: string,
  send: (id: number) => Promise<unknown>,
  from: number,
  count: number,
  concurrency: number,
  counted: boolean,
): Promise<Phase> {
  const result: Phase = {
    transport,
    phase,
    sent: count,
    ok: 0,
    failed: 0,
    retries: 0,
    ms: 0,
    latencies: new Float64Array(count),
  };
  const start = performance.now();
  let next = 0;
  // A FIFO trigger never yields to the event loop (it is synchronous underneath): every
  // FIFO_BATCH calls, all workers wait for one turn of the loop, so the server's reader can read.
  let sinceTurn = 0;
  let turn: Promise<void> | undefined;
  const worker = async () => {
    while (next < count) {
      if (performance.now() - started > MAX_MS) throw new Error(`over --max-seconds ${MAX_MS / 1000}`);
      if (transport === "fifo") {
        if (++sinceTurn >= FIFO_BATCH) {
          sinceTurn = 0;
          turn = delay(0);
        }
        await turn;
      }
      const i = next++;
      if (i >= count) break;
      const t0 = performance.now();
      // Bounded: a FIFO trigger that meets a full FIFO is retried at most 1,000 times.
      for (let attempt = 0; attempt < 1_000; attempt++) {
        try {
          await send(from + i);
          result.ok++;
          break;
        } catch (error) {
          if (transport === "fifo" && error instanceof Deno.errors.WouldBlock && attempt < 999) {
            result.retries++;
            await delay(1);
            continue;
          }
          result.failed++;
          if (result.failed <= 3) fail(`${transport} ${phase} trigger ${from + i}: ${error}`);
          break;
        }
      }
      result.latencies[i] = performance.now() - t0;
      if (counted) progress();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  result.ms = performance.now() - start;
  return result;
}

/** Runs both phases on one transport; returns their figures and checks both sides agree. */
async function soak(transport: Transport, dir: string, count: number, counted: boolean): Promise<Phase[]> {
  const tally = new Tally(transport === "fifo" ? 0 : 2 * count);
  const phases: Phase[] = [];
  {
    await using server = await serve(transport, dir, tally);
    const send = client(transport, server);
    const seq = await run(transport, "sequential", send, 0, count, 1, counted);
    phases.push(seq);
    const conc = await run(transport, `concurrent x${C}`, send, count, count, C, counted);
    phases.push(conc);
    const ok = seq.ok + conc.ok;
    // The server calls the handler after closing the connection: give it a moment to catch up.
    if (!await tally.until(ok, 10_000)) {
      fail(
        `${transport}: clients delivered ${ok}, the server counted ${transport === "fifo" ? tally.bytes : tally.calls}`,
      );
    }
  }
  if (!counted) return phases;
  const serverCount = transport === "fifo" ? tally.bytes : tally.calls;
  const clientOk = phases.reduce((n, p) => n + p.ok, 0);
  const failed = phases.reduce((n, p) => n + p.failed, 0);
  if (failed > 0) fail(`${transport}: ${failed} triggers failed`);
  if (serverCount !== clientOk) fail(`${transport}: client successes ${clientOk} != server count ${serverCount}`);
  if (tally.duplicates > 0) fail(`${transport}: ${tally.duplicates} requests taken twice`);
  if (tally.bad > 0) fail(`${transport}: ${tally.bad} unexpected ${transport === "fifo" ? "bytes" : "requests"}`);
  if (transport !== "fifo") {
    let missing = 0;
    for (const times of tally.seen) if (times === 0) missing++;
    if (missing !== failed) fail(`${transport}: ${missing} request ids never arrived`);
  }
  console.log(
    `${transport}: client successes ${clientOk}, server ${
      transport === "fifo" ? `bytes ${tally.bytes} in ${tally.calls} handler calls` : `handler calls ${tally.calls}`
    }, duplicates ${tally.duplicates}, unexpected ${tally.bad}; descriptors open now ${fdCount()}`,
  );
  return phases;
}

/** For a `socket:[INODE]` target: its line in /proc/net/{unix,tcp,tcp6}, if any. */
function socketInfo(target: string): string {
  const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
  if (!inode) return "";
  for (const table of ["unix", "tcp", "tcp6"]) {
    const line = Deno.readTextFileSync(`/proc/net/${table}`).split("\n").find((l) => l.split(/\s+/).includes(inode));
    if (line) {
      return ` (${table}: ${line.trim().split(/\s+/).slice(1, 4).join(" ")}${
        table === "unix" ? ` ${line.trim().split(/\s+/).slice(7).join(" ")}` : ""
      })`;
    }
  }
  return "";
}

/** What this process's descriptors point at, for a leak report. */
function openFiles(): string[] {
  return [...Deno.readDirSync("/proc/self/fd")].map((entry) => {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      return `${entry.name}=${target}${socketInfo(target)}`;
    } catch {
      return entry.name;
    }
  });
}

const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "postnet-soak-" });
let exitCode = 0;
try {
  // Warm-up: the runtime opens a few descriptors once, lazily (a socket pair some 0.7 s after start,
  // whatever the load): count after at least 1.5 s of warm-up rounds (bounded: 50 rounds).
  for (let round = 0; round < 50 && (round === 0 || performance.now() - started < 1_500); round++) {
    for (const transport of TRANSPORTS) await soak(transport, dir, 200, false);
  }
  gc?.();
  const fdsBefore = fdCount();
  const fdsList = openFiles();
  console.log(
    `soak: ${N} sequential + ${N} concurrent (x${C}) triggers per transport; ${fdsBefore} descriptors open after warm-up` +
      `${gc ? "" : " (no gc(): memory figures are rougher)"}`,
  );
  const phases: Phase[] = [];
  for (const transport of TRANSPORTS) phases.push(...await soak(transport, dir, N, true));
  gc?.();
  const rssEnd = rssOf();
  samples.push({ at: "end", rss: rssEnd, heap: Deno.memoryUsage().heapUsed });
  const fdsAfter = fdCount();

  const rows = [["transport", "phase", "sent", "ok", "failed", "retries", "s", "per s", "p50 ms", "p99 ms", "max ms"]];
  for (const p of phases) {
    const latencies = [...p.latencies];
    rows.push([
      p.transport,
      p.phase,
      String(p.sent),
      String(p.ok),
      String(p.failed),
      String(p.retries),
      (p.ms / 1000).toFixed(1),
      Math.round(p.sent / (p.ms / 1000)).toString(),
      percentile(latencies, 50).toFixed(3),
      percentile(latencies, 99).toFixed(3),
      latencies.reduce((a, b) => Math.max(a, b), 0).toFixed(1),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padStart(widths[i])).join("  "));

  const at10 = samples.find((s) => s.at === "10%")?.rss ?? rssEnd;
  const growth = rssEnd - at10;
  console.log(
    `RSS (JS heap used): ${samples.map((s) => `${s.at} ${mib(s.rss)} (${mib(s.heap)})`).join(", ")}; ` +
      `growth from 10% to end ${mib(growth)}`,
  );
  console.log(`descriptors: ${fdsBefore} after warm-up, ${fdsAfter} at the end`);
  if (growth >= RSS_LIMIT) fail(`RSS grew by ${mib(growth)} from the 10% point to the end (limit ${mib(RSS_LIMIT)})`);
  if (fdsAfter > fdsBefore) {
    fail(
      `${fdsAfter - fdsBefore} descriptors left open: now ${openFiles().join(", ")}; after warm-up ${
        fdsList.join(", ")
      }`,
    );
  }
} catch (error) {
  fail(`soak aborted: ${error}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.log(`soak: FAILED in ${seconds} s: ${failures.length} problem(s); first: ${failures[0]}`);
  exitCode = 1;
} else {
  console.log(`soak: OK in ${seconds} s: every trigger delivered exactly once, no descriptor left open`);
}
Deno.exit(exitCode);
