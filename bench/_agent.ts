/**
 * Internal: the Deno side of bench/compare.ts, run as a subprocess
 * (`deno run -A --v8-flags=--expose-gc bench/_agent.ts`) so that clients and
 * servers under test each have a process of their own, as the Node agent
 * (bench/node_agent.mjs) has. Driven over stdin/stdout, one JSON object per
 * line: requests `{id, op, ...}`, answers `{id, ok: true, ...}` or
 * `{id, ok: false, error}`. Requests run concurrently.
 *
 * - `serve {impl: "raw"|"bounded"|"postnet", transport, path?, options?, ack?}` -> `{key, port?, path?}`;
 *   with `ack` (a FIFO path), the server writes one byte there per byte received; with
 *   `backlog` (postnet, inet), the listener is made with that listen(2) backlog; "bounded"
 *   (inet, unix) is the raw server with a timer per connection (`options.readTimeout`)
 * - `echo {transport, path?}` -> `{key, port?, path?}`: a raw echo peer (closed with `closeServer`)
 * - `pingPong {impl: "raw"|"bounded"|"postnet", transport, target, n}` -> `{elapsed}`: one
 *   connection, `n` request-reply exchanges with the echo peer (bench/_exchange.ts), timed
 * - `stats {key, reset?}` -> `{triggers, bytes}`
 * - `waitBytes {key, bytes, timeout}` -> `{span}` (ms from first to last arrival)
 * - `closeServer {key}`
 * - `run {impl: "raw"|"bounded"|"postnet", transport, target, n, concurrency, ack?}` ->
 *   `{elapsed, failures, firstError?}`; "bounded" is the raw client plus the bounds postnet keeps;
 *   with `ack` (FIFO only), each batch of `concurrency` writes waits until the server acknowledged it
 * - `ackOpen {path}` -> `{}`: creates the ack FIFO and starts counting what servers acknowledge
 * - `burst {transport, target, n}` -> `{elapsed, latencies, failures, firstError?}` (postnet triggers, all at once)
 * - `paced {transport, target, n, gap}` -> `{latencies, failures, firstError?}` (postnet triggers, one every `gap` ms)
 * - `silentOpen {transport, target, n, timeout}` -> `{opened, failed, elapsed}`
 * - `silentWait {timeout}` -> `{closedAfter, open}` (ms from connect to the server's close)
 * - `silentClose` -> `{}`
 * - `rss` -> `{rss}` after a full GC
 * - `exit` -> stops everything and exits
 *
 * @module
 */
import { readLines, writeJsonLine } from "./_lines.ts";
import { fifoTrigger, inetTrigger, serveTriggers, type TriggerServer, unixTrigger } from "../trigger/mod.ts";
import { inetListen } from "../listen/inet_listen.ts";
import { boundedExchange, postnetExchange, rawExchange } from "./_exchange.ts";
import {
  boundedFifoTrigger,
  boundedStreamTrigger,
  mkfifo,
  rawEchoServer,
  rawFifoServer,
  rawFifoTrigger,
  type RawServer,
  rawStreamServer,
  rawStreamTrigger,
} from "./_raw.ts";

type Transport = "inet" | "unix" | "fifo";
interface Target {
  port?: number;
  path?: string;
}
type Request = Record<string, unknown> & { id: number; op: string };

/** What a server has received; wakes whoever waits for a byte count. */
class Counter {
  triggers = 0;
  bytes = 0;
  firstAt: number | undefined;
  lastAt: number | undefined;
  waiters: ((counter: Counter) => boolean)[] = [];

  arrive(triggers: number, bytes: number): void {
    const now = performance.now();
    this.firstAt ??= now;
    this.lastAt = now;
    this.triggers += triggers;
    this.bytes += bytes;
    this.waiters = this.waiters.filter((wake) => !wake(this));
  }

  reset(): void {
    this.triggers = this.bytes = 0;
    this.firstAt = this.lastAt = undefined;
  }
}

const servers = new Map<string, { count: Counter; stop: () => Promise<void> }>();
let nextKey = 0;

async function serve(request: Request): Promise<Record<string, unknown>> {
  const transport = request.transport as Transport;
  const path = request.path as string | undefined;
  const count = new Counter();
  const key = `${request.impl}-${transport}-${nextKey++}`;
  // FIFO servers under test acknowledge every byte on a second FIFO, so the client can time write-until-read.
  const ackPath = request.ack as string | undefined;
  let ackFile: Deno.FsFile | undefined;
  const arrive = (triggers: number, bytes: number) => {
    count.arrive(triggers, bytes);
    if (ackPath === undefined) return;
    // The client holds the ack FIFO open for reading, so this open does not block.
    ackFile ??= Deno.openSync(ackPath, { write: true });
    ackFile.writeSync(new Uint8Array(bytes));
  };
  let address: Target;
  let stop: () => Promise<void>;
  if (request.impl === "raw" || request.impl === "bounded") {
    let server: RawServer;
    if (transport === "fifo") {
      await mkfifo(path!);
      server = await rawFifoServer(path!, (bytes) => arrive(bytes, bytes));
      address = { path };
    } else {
      const listening = listenOn(transport, path);
      const readTimeout = request.impl === "bounded"
        ? (request.options as { readTimeout: number }).readTimeout
        : undefined;
      server = rawStreamServer(listening.listener, (bytes) => arrive(1, bytes), readTimeout);
      address = listening.address;
    }
    stop = async () => {
      await server.close();
      ackFile?.close();
    };
  } else {
    // With `backlog`, serve a listener made with that listen(2) backlog instead of an endpoint.
    const endpoint = transport !== "inet"
      ? `${transport}:${path}`
      : request.backlog === undefined
      ? "inet:127.0.0.1:0"
      : inetListen("127.0.0.1:0", { backlog: request.backlog as number });
    const server: TriggerServer = await serveTriggers(
      endpoint,
      // A FIFO chunk may hold several one-byte triggers; a stream connection is one.
      ({ data }) => arrive(transport === "fifo" ? data.length : 1, data.length),
      { ...(request.options as Record<string, number> | undefined), onError: () => {} },
    );
    address = transport === "inet"
      ? { port: Number(server.endpoint.slice(server.endpoint.lastIndexOf(":") + 1)) }
      : { path };
    stop = async () => {
      await server.close();
      ackFile?.close();
    };
  }
  servers.set(key, { count, stop });
  return { key, ...address };
}

/** A stream listener on loopback port 0, or at `path`. */
function listenOn(transport: Transport, path: string | undefined): { listener: Deno.Listener; address: Target } {
  if (transport === "inet") {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return { listener, address: { port: listener.addr.port } };
  }
  return { listener: Deno.listen({ transport: "unix", path: path! }), address: { path } };
}

/** A raw echo peer for the ping-pong exchanges. */
function echo(request: Request): Record<string, unknown> {
  const { listener, address } = listenOn(request.transport as Transport, request.path as string | undefined);
  const server = rawEchoServer(listener);
  const key = `echo-${request.transport}-${nextKey++}`;
  servers.set(key, { count: new Counter(), stop: () => server.close() });
  return { key, ...address };
}

/** One connection to the echo peer, `n` exchanges of the kind `impl` on it; only the exchanges are timed. */
async function pingPong(request: Request): Promise<Record<string, unknown>> {
  const { port, path } = request.target as Target;
  const exchange = { raw: rawExchange, bounded: boundedExchange, postnet: postnetExchange }[
    request.impl as "raw" | "bounded" | "postnet"
  ];
  const conn = request.transport === "inet"
    ? await Deno.connect({ hostname: "127.0.0.1", port: port! })
    : await Deno.connect({ transport: "unix", path: path! });
  try {
    const buffer = new Uint8Array(64);
    const n = request.n as number;
    const start = performance.now();
    for (let i = 0; i < n; i++) await exchange(conn, buffer);
    return { elapsed: performance.now() - start };
  } finally {
    conn.close();
  }
}

/** One trigger of the kind `impl` sends over `transport`. */
function triggerOnce(impl: string, transport: Transport, target: Target): () => unknown {
  const { port, path } = target;
  if (impl === "raw" || impl === "bounded") {
    const bounded = impl === "bounded";
    if (transport === "fifo") return bounded ? () => boundedFifoTrigger(path!) : () => rawFifoTrigger(path!);
    const options: Deno.ConnectOptions | Deno.UnixConnectOptions = transport === "inet"
      ? { hostname: "127.0.0.1", port: port! }
      : { transport: "unix", path: path! };
    return bounded ? () => boundedStreamTrigger(options) : () => rawStreamTrigger(options);
  }
  if (transport === "fifo") return () => fifoTrigger(path!, "W");
  if (transport === "unix") return () => unixTrigger(path!, "W");
  const address = `127.0.0.1:${port}`;
  return () => inetTrigger(address, "W");
}

/** `n` triggers from `concurrency` loops; how long they all took. */
async function run(request: Request): Promise<Record<string, unknown>> {
  const one = triggerOnce(request.impl as string, request.transport as Transport, request.target as Target);
  const n = request.n as number;
  let started = 0;
  let failures = 0;
  let firstError: string | undefined;
  async function loop(): Promise<void> {
    while (started < n) {
      started++;
      try {
        await one();
      } catch (error) {
        failures++;
        firstError ??= String(error);
      }
    }
  }
  const start = performance.now();
  if (request.ack) {
    // FIFO write-until-read: `concurrency` writes, then wait until the server has acknowledged them all.
    const concurrency = request.concurrency as number;
    const base = acks!.count;
    while (started < n) {
      const batch = Math.min(concurrency, n - started);
      for (let i = 0; i < batch; i++) {
        try {
          one();
        } catch (error) {
          failures++;
          firstError ??= String(error);
        }
      }
      started += batch;
      await acks!.until(base + started - failures, 10_000);
    }
  } else {
    await Promise.all(Array.from({ length: request.concurrency as number }, loop));
  }
  return { elapsed: performance.now() - start, failures, firstError };
}

/** The client's end of the ack FIFO: counts the bytes FIFO servers acknowledge. */
class Acks {
  count = 0;
  readonly #file: Deno.FsFile;
  readonly #loop: Promise<void>;
  #closing = false;
  #waiter: { target: number; wake: () => void } | undefined;

  constructor(file: Deno.FsFile) {
    this.#file = file;
    this.#loop = this.#read();
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await this.#file.read(buffer);
      if (this.#closing || n === null) break;
      this.count += n;
      if (this.#waiter && this.count >= this.#waiter.target) this.#waiter.wake();
    }
  }

  until(target: number, timeout: number): Promise<void> {
    if (this.count >= target) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => reject(new Error(`acks: ${this.count}/${target}`)), timeout);
    this.#waiter = {
      target,
      wake: () => {
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve();
      },
    };
    return promise;
  }

  async close(): Promise<void> {
    this.#closing = true;
    // Wake the pending read (Deno cannot cancel it) with a byte of our own.
    await this.#file.write(new Uint8Array(1));
    await this.#loop;
    this.#file.close();
  }
}

let acks: Acks | undefined;

/** Postnet triggers, timed one by one: all at once (`gap` 0) or one every `gap` ms. */
async function timed(request: Request, gap: number): Promise<Record<string, unknown>> {
  const one = triggerOnce("postnet", request.transport as Transport, request.target as Target);
  const latencies: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  async function once(): Promise<void> {
    const start = performance.now();
    try {
      await one();
      latencies.push(performance.now() - start);
    } catch (error) {
      failures++;
      firstError ??= String(error);
    }
  }
  const start = performance.now();
  if (gap === 0) {
    await Promise.all(Array.from({ length: request.n as number }, once));
  } else {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < (request.n as number); i++) {
      pending.push(once());
      await new Promise((resolve) => setTimeout(resolve, gap));
    }
    await Promise.all(pending);
  }
  return { elapsed: performance.now() - start, latencies, failures, firstError };
}

/** Silent connections: opened, never written to, each waiting for the server's close. */
const silent: { conn?: Deno.Conn; closed?: Promise<number> }[] = [];

async function silentOpen(request: Request): Promise<Record<string, unknown>> {
  const { port, path } = request.target as Target;
  const n = request.n as number;
  let failed = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: n }, async () => {
    try {
      const conn = request.transport === "inet"
        ? await Deno.connect({
          hostname: "127.0.0.1",
          port: port!,
          signal: AbortSignal.timeout(request.timeout as number),
        })
        : await Deno.connect({ transport: "unix", path: path! });
      const opened = performance.now();
      const entry: (typeof silent)[number] = { conn };
      entry.closed = conn.read(new Uint8Array(16)).catch(() => null).then(() => {
        // silentClose() may have closed it first.
        if (entry.conn) conn.close();
        entry.conn = undefined;
        return performance.now() - opened;
      });
      silent.push(entry);
    } catch {
      failed++;
    }
  }));
  return { opened: n - failed, failed, elapsed: performance.now() - start };
}

async function silentWait(request: Request): Promise<Record<string, unknown>> {
  const timeout = new Promise<"timeout">((resolve) => setTimeout(resolve, request.timeout as number, "timeout"));
  const closedAfter: number[] = [];
  await Promise.all(silent.map(async (entry) => {
    const after = await Promise.race([entry.closed!, timeout]);
    if (after !== "timeout") closedAfter.push(after);
  }));
  return { closedAfter, open: silent.length - closedAfter.length };
}

async function silentClose(): Promise<Record<string, unknown>> {
  for (const entry of silent) {
    const conn = entry.conn;
    entry.conn = undefined;
    conn?.close();
  }
  await Promise.all(silent.map((entry) => entry.closed));
  silent.length = 0;
  return {};
}

async function handle(request: Request): Promise<Record<string, unknown>> {
  switch (request.op) {
    case "serve":
      return await serve(request);
    case "stats": {
      const { count } = servers.get(request.key as string)!;
      const stats = { triggers: count.triggers, bytes: count.bytes };
      if (request.reset) count.reset();
      return stats;
    }
    case "waitBytes": {
      const { count } = servers.get(request.key as string)!;
      const bytes = request.bytes as number;
      if (count.bytes < bytes) {
        const reached = Promise.withResolvers<void>();
        const timer = setTimeout(
          () => reached.reject(new Error(`waitBytes: ${count.bytes}/${bytes}`)),
          request.timeout as number,
        );
        count.waiters.push((c) => c.bytes >= bytes && (clearTimeout(timer), reached.resolve(), true));
        await reached.promise;
      }
      return { span: count.lastAt! - count.firstAt! };
    }
    case "closeServer":
      await servers.get(request.key as string)!.stop();
      servers.delete(request.key as string);
      return {};
    case "run":
      return await run(request);
    case "echo":
      return echo(request);
    case "pingPong":
      return await pingPong(request);
    case "burst":
      return await timed(request, 0);
    case "paced":
      return await timed(request, request.gap as number);
    case "ackOpen":
      await mkfifo(request.path as string);
      acks = new Acks(await Deno.open(request.path as string, { read: true, write: true }));
      return {};
    case "silentOpen":
      return await silentOpen(request);
    case "silentWait":
      return await silentWait(request);
    case "silentClose":
      return await silentClose();
    case "rss":
      (globalThis as { gc?: () => void }).gc?.();
      return { rss: Deno.memoryUsage().rss };
    case "exit":
      await stopAll();
      return {};
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

async function stopAll(): Promise<void> {
  await silentClose();
  await acks?.close();
  acks = undefined;
  for (const { stop } of servers.values()) await stop();
  servers.clear();
}

const pending = new Set<Promise<void>>();
for await (const line of readLines(Deno.stdin.readable)) {
  if (line === "") continue;
  const request = JSON.parse(line) as Request;
  const task = handle(request).then(
    (answer) => ({ id: request.id, ok: true, ...answer }),
    (error) => ({ id: request.id, ok: false, error: String((error as Error)?.stack ?? error) }),
  ).then((answer) => {
    writeJsonLine(Deno.stdout, answer);
  });
  pending.add(task);
  task.finally(() => pending.delete(task));
  if (request.op === "exit") break;
}
// The controller went away (or asked to exit): stop everything first.
await Promise.allSettled([...pending]);
await stopAll();
Deno.exit(0);
