/**
 * serveTriggers() against hostile and broken peers, on unix and inet.
 *
 * The server runs in a subprocess (`_serve.ts`, the way an application runs
 * it), so that its open descriptors and resident memory can be read from
 * /proc/PID and a crash shows as an exit; the peers run here (and in
 * `_dripper.ts`). Every trigger the server takes is one `T BYTES REQUEST`
 * line on its stdout, so triggers are counted on both sides.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { inetTrigger } from "../../trigger/inet_trigger.ts";
import { unixTrigger } from "../../trigger/unix_trigger.ts";
import type { TriggerResult } from "../../trigger/trigger.ts";
import {
  Child,
  delay,
  type End,
  fdCount,
  HERE,
  mib,
  percentile,
  portOf,
  readToEnd,
  rssOf,
  tempDir,
  within,
} from "./_util.ts";

const SERVE = `${HERE}_serve.ts`;
const DRIPPER = `${HERE}_dripper.ts`;

/** One transport: how to reach the server in the subprocess. */
interface Peer {
  name: "unix" | "inet";
  endpoint: string;
  connect(): Promise<Deno.Conn>;
  trigger(request: string, timeout?: number): Promise<TriggerResult>;
}

/** Starts `_serve.ts` on `transport` and waits until it serves. */
async function startServer(
  dir: string,
  transport: "unix" | "inet",
  args: string[] = [],
): Promise<{ child: Child; peer: Peer }> {
  const endpoint = transport === "unix" ? `unix:${dir}/qmgr` : "inet:127.0.0.1:0";
  const child = Child.deno(SERVE, [endpoint, ...args], { stdin: true, lifetime: 120_000 });
  let real: string;
  try {
    real = await child.line("ready ", 20_000);
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw error;
  }
  const path = real.slice("unix:".length);
  const peer: Peer = transport === "unix"
    ? {
      name: "unix",
      endpoint: real,
      connect: () => Deno.connect({ transport: "unix", path }),
      trigger: (request, timeout = 10_000) => unixTrigger(path, request, { timeout }),
    }
    : {
      name: "inet",
      endpoint: real,
      connect: () => Deno.connect({ hostname: "127.0.0.1", port: portOf(real) }),
      trigger: (request, timeout = 10_000) => inetTrigger(`127.0.0.1:${portOf(real)}`, request, { timeout }),
    };
  return { child, peer };
}

/** The server's `T` lines: one per trigger it took. */
function triggers(child: Child): { bytes: number; request: string }[] {
  return child.lines.filter((line) => line.startsWith("T ")).map((line) => {
    const space = line.indexOf(" ", 2);
    return { bytes: Number(line.slice(2, space)), request: JSON.parse(line.slice(space + 1)) };
  });
}

/** The server's `E` lines: one per error it reported to onError. */
function reported(child: Child): string[] {
  return child.lines.filter((line) => line.startsWith("E "));
}

/** Waits until the server has taken `count` triggers. */
function untilTriggers(child: Child, count: number, ms: number): Promise<void> {
  return child.waitFor(() => triggers(child).length >= count, ms, `${count} triggers`);
}

/** Waits until the server process has no more open descriptors than `before` (its baseline). */
async function untilFdsBack(child: Child, before: number, what: string): Promise<number> {
  let now = fdCount(child.pid);
  for (let i = 0; i < 100 && now > before; i++) {
    await delay(20);
    now = fdCount(child.pid);
  }
  assert.ok(now <= before, `${what}: the server holds ${now} descriptors, ${before} before`);
  return now;
}

/** Stops the server subprocess gracefully (stdin closes) and checks it exited 0 after saying `closed`. */
async function stopServer(child: Child): Promise<void> {
  child.kill("SIGTERM");
  const status = await within(child.exited, 10_000, "server exit");
  assert.equal(status.code, 0, `server exit ${JSON.stringify(status)}: ${child.errors.join("\n")}`);
  assert.equal(child.lines.at(-1), "closed");
}

/** Closes a client connection that the peer may already have made unusable. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** A node:net client that writes part of a request then resets the connection (RST, as SO_LINGER 0 does). */
async function resetMidRequest(port: number, partial: string): Promise<void> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    await new Promise<void>((resolve, reject) => socket.write(partial, (error) => error ? reject(error) : resolve()));
  } finally {
    socket.resetAndDestroy();
    await closed;
  }
}

// ---------------------------------------------------------------------------
// 1,000 silent connections.

const SILENT = 1_000;
const READ_TIMEOUT = 1_500;

for (const transport of ["unix", "inet"] as const) {
  Deno.test(`serveTriggers() on ${transport}: 1,000 silent connections are closed at readTimeout while real triggers keep being served`, async () => {
    await using dir = await tempDir();
    // maxConnections is left at its default, which is meant to let 1,000 silent connections sit.
    const { child, peer } = await startServer(dir.path, transport, ["--read-timeout", String(READ_TIMEOUT)]);
    await using _child = child;
    await peer.trigger("warm");
    await untilTriggers(child, 1, 5_000);
    const fdsBefore = fdCount(child.pid);

    const silent: { conn: Deno.Conn; opened: number; after?: number; end?: End; bytes?: number }[] = [];
    try {
      // Connected in turn: each connect is queued in the listen backlog at once and accepted soon after.
      const connectStart = performance.now();
      for (let i = 0; i < SILENT; i++) {
        const opened = performance.now();
        silent.push({ conn: await peer.connect(), opened });
      }
      const connectMs = performance.now() - connectStart;
      const ends = Promise.all(silent.map(async (s) => {
        const { end, bytes } = await readToEnd(s.conn);
        s.after = performance.now() - s.opened;
        s.end = end;
        s.bytes = bytes;
      }));
      // Awaited below; if the test fails before, the reads end with the connections, unreported.
      ends.catch(() => {});

      // Real triggers, one after the other, while the silent connections are held.
      const latencies: number[] = [];
      const sent: string[] = [];
      const stopAt = silent[0].opened + READ_TIMEOUT - 200;
      let heldAtLast = 0;
      for (let i = 0; i < 400 && (i < 20 || performance.now() < stopAt); i++) {
        const request = `R${i}`;
        const start = performance.now();
        const result = await peer.trigger(request);
        latencies.push(performance.now() - start);
        assert.equal(result.peerClosed, true, `${request}: the server closed after reading it`);
        sent.push(request);
        heldAtLast = silent.filter((s) => s.end === undefined).length;
        await delay(2);
      }

      await within(ends, READ_TIMEOUT + 15_000, "every silent client sees its connection end");
      const closedAfter = silent.map((s) => s.after!);
      const eofs = silent.filter((s) => s.end === "eof").length;
      const resets = silent.filter((s) => s.end === "reset").length;
      console.log(
        `${transport}: ${SILENT} silent connections opened in ${connectMs.toFixed(0)} ms; ` +
          `${sent.length} real triggers served meanwhile (${heldAtLast} silent still held at the last one), ` +
          `latency p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, ` +
          `max ${Math.max(...latencies).toFixed(2)} ms`,
      );
      console.log(
        `${transport}: readTimeout ${READ_TIMEOUT} ms closed the silent clients after ` +
          `min ${Math.min(...closedAfter).toFixed(0)} / p50 ${percentile(closedAfter, 50).toFixed(0)} / ` +
          `max ${Math.max(...closedAfter).toFixed(0)} ms: ${eofs} saw end-of-file, ${resets} a reset`,
      );
      assert.equal(eofs + resets, SILENT);
      assert.ok(silent.every((s) => s.bytes === 0), "the server sends nothing");
      // The server's timer starts at its accept, after our connect: never before readTimeout.
      assert.ok(
        Math.min(...closedAfter) >= READ_TIMEOUT - 5,
        `a silent client closed after ${Math.min(...closedAfter)} ms`,
      );
      assert.ok(Math.max(...closedAfter) < READ_TIMEOUT + 10_000, "closed at readTimeout, within a generous margin");

      // Both sides agree: each real trigger taken once, each silent connection one empty trigger.
      await untilTriggers(child, 1 + sent.length + SILENT, 10_000);
      const taken = triggers(child);
      assert.equal(taken.length, 1 + sent.length + SILENT);
      assert.equal(taken.filter((t) => t.bytes === 0).length, SILENT);
      const real = taken.filter((t) => t.request.startsWith("R")).map((t) => t.request);
      assert.deepEqual(real.sort(), [...sent].sort(), "each real trigger taken exactly once");
      assert.deepEqual(reported(child), []);
    } finally {
      for (const s of silent) closeQuietly(s.conn);
    }
    const fdsAfter = await untilFdsBack(child, fdsBefore, "after the silent connections");
    console.log(`${transport}: server descriptors ${fdsBefore} before, ${fdsAfter} after`);
    await stopServer(child);
  });
}

// ---------------------------------------------------------------------------
// Clients that go away in the middle of a request.

for (const transport of ["unix", "inet"] as const) {
  Deno.test(`serveTriggers() on ${transport}: clients that close, reset or are killed mid-request leave the server serving, with nothing leaked`, async () => {
    await using dir = await tempDir();
    const { child, peer } = await startServer(dir.path, transport);
    await using _child = child;
    await peer.trigger("warm");
    await untilTriggers(child, 1, 5_000);
    const fdsBefore = fdCount(child.pid);
    let connections = 0;

    // Part of a request (no NUL), then close without reading.
    const CLOSERS = 100;
    for (let batch = 0; batch < CLOSERS / 20; batch++) {
      await Promise.all(Array.from({ length: 20 }, async () => {
        const conn = await peer.connect();
        await conn.write(new TextEncoder().encode("pa"));
        conn.close();
      }));
    }
    connections += CLOSERS;

    // Part of a request, then a reset (TCP RST: node:net resetAndDestroy() sets SO_LINGER 0).
    let resetters = 0;
    if (transport === "inet") {
      resetters = 100;
      try {
        for (let batch = 0; batch < resetters / 20; batch++) {
          await Promise.all(Array.from({ length: 20 }, () => resetMidRequest(portOf(peer.endpoint), "pa")));
        }
      } catch (error) {
        // A resetting client fails only when the server is gone.
        assert.fail(
          `a client failed (${error}); server ${child.hasExited ? "exited" : "up"}: ${child.lines.slice(-3)}`,
        );
      }
      connections += resetters;
    }

    // A client process killed with SIGKILL while it is writing its requests, a byte at a time.
    const DRIPS = 20;
    {
      await using dripper = Child.deno(DRIPPER, [peer.endpoint, String(DRIPS), "20"]);
      await dripper.line("dripping", 20_000);
      await delay(150);
      dripper.kill("SIGKILL");
      const status = await within(dripper.exited, 10_000, "dripper exit");
      assert.equal(status.signal, "SIGKILL");
    }
    connections += DRIPS;

    // The server is still up and serves real triggers.
    const result = await peer.trigger("after");
    assert.equal(result.peerClosed, true);
    await child.waitFor(() => triggers(child).some((t) => t.request === "after"), 10_000, "the trigger after");
    assert.equal(child.hasExited, false, "the server process is still running");
    const taken = triggers(child);
    // One trigger per accepted connection: every closer and dripper; a reset connection only if it
    // was accepted before its reset arrived (the kernel may drop it from the queue, or accept() fails).
    const halves = taken.filter((t) => t.request === "pa").length;
    const empties = taken.filter((t) => t.request === "").length;
    const drips = taken.filter((t) => /^d+$/.test(t.request));
    assert.ok(halves >= CLOSERS, `${halves} half requests taken`);
    assert.ok(halves + empties <= CLOSERS + resetters, `${halves + empties} half or empty requests taken`);
    assert.equal(drips.length, DRIPS, "each killed client's bytes were taken as one trigger");
    assert.equal(taken.length, 1 + halves + empties + DRIPS + 1, "nothing else taken");
    // Nothing is reported: README says serveTriggers "does not report clients that reset or vanish".
    const errors = reported(child);
    assert.deepEqual(errors, []);
    const fdsAfter = await untilFdsBack(child, fdsBefore, "after the broken clients");
    console.log(
      `${transport}: ${CLOSERS} half-request closes, ${resetters} resets, ${DRIPS} clients killed mid-write: ` +
        `${taken.length - 2} triggers taken (${halves} "pa", ${empties} empty), ${errors.length} resets reported, ` +
        `drip sizes ${Math.min(...drips.map((d) => d.bytes))}-${Math.max(...drips.map((d) => d.bytes))} bytes; ` +
        `server descriptors ${fdsBefore} -> ${fdsAfter}`,
    );
    await stopServer(child);
  });
}

for (const transport of ["unix", "inet"] as const) {
  Deno.test(`serveTriggers() on ${transport}: keeps accepting after a client went away while its connection waited in the listen queue`, async () => {
    // Deno's accept() throws NotConnected (ENOTCONN) for a connection reset
    // while it waited in the queue: the accept loop must go on, and say
    // nothing (a client that vanished is not an error). Here the queue is
    // made by maxConnections 1 and one held connection.
    await using dir = await tempDir();
    const { child, peer } = await startServer(dir.path, transport, ["--max-connections", "1"]);
    await using _child = child;
    await peer.trigger("warm");
    await untilTriggers(child, 1, 5_000);
    const held = await peer.connect();
    try {
      await delay(50);
      // Queued behind the held one: part of a request, then gone (a reset on inet, a close on unix).
      if (transport === "inet") await resetMidRequest(portOf(peer.endpoint), "pa");
      else {
        const conn = await peer.connect();
        await conn.write(new TextEncoder().encode("pa"));
        conn.close();
      }
      await delay(50);
    } finally {
      held.close();
    }
    await untilTriggers(child, 2, 5_000);
    await delay(100);
    // _serve.ts prints "closed" and exits when server.finished resolves, as an application awaiting it would.
    assert.ok(
      !child.lines.includes("closed") && !child.hasExited,
      `the server stopped by itself: ${child.lines.join(" | ")}`,
    );
    const result = await peer.trigger("after", 3_000);
    assert.equal(result.peerClosed, true, "served (a server that stopped accepting leaves the client to its timeout)");
    await child.waitFor(() => triggers(child).some((t) => t.request === "after"), 5_000, "the trigger after");
    assert.deepEqual(reported(child), [], "a client that went away is not reported");
    await stopServer(child);
  });
}

Deno.test("serveTriggers() with the default onError keeps serving after clients reset mid-request (inet)", async () => {
  // With no onError given, errors go to globalThis.reportError, which ends
  // the process: a client's RST must never reach it, or one RST from the
  // network would stop the server.
  await using dir = await tempDir();
  const { child, peer } = await startServer(dir.path, "inet", ["--on-error", "default"]);
  await using _child = child;
  await peer.trigger("warm");
  await untilTriggers(child, 1, 5_000);
  await Promise.all(Array.from({ length: 20 }, () => resetMidRequest(portOf(peer.endpoint), "pa")));
  await delay(200);
  assert.equal(child.hasExited, false, `the server process ended: ${child.errors.join("\n")}`);
  const result = await peer.trigger("after");
  assert.equal(result.peerClosed, true);
  await child.waitFor(() => triggers(child).some((t) => t.request === "after"), 10_000, "the trigger after");
  await stopServer(child);
});

// ---------------------------------------------------------------------------
// More connections than maxConnections, all at once.

const BURST = 2_000;

for (const transport of ["unix", "inet"] as const) {
  Deno.test(`serveTriggers() on ${transport}: ${BURST} triggers at once with maxConnections 4 are all queued and served, or refused at once by a full backlog`, async () => {
    // What happens (Linux, Deno 2.9): beyond maxConnections the server stops
    // accepting and new connections wait in the kernel's listen queue. On
    // unix, Deno's backlog is 1024 (not settable) and a connect to a full
    // queue fails at once with EAGAIN (WouldBlock). On inet the backlog is
    // 511 (Deno's default tcpBacklog); a SYN to a full queue is dropped and
    // the client's kernel resends it (after 1 s, then 3 s...), so the
    // trigger is late, not refused.
    await using dir = await tempDir();
    const { child, peer } = await startServer(dir.path, transport, ["--max-connections", "4"]);
    await using _child = child;
    await peer.trigger("warm");
    await untilTriggers(child, 1, 5_000);
    const start = performance.now();
    const outcomes = await within(
      Promise.all(Array.from({ length: BURST }, (_, i) =>
        peer.trigger(`C${i}`, 30_000).then(
          (result) => ({ ok: true as const, result, ms: performance.now() - start }),
          (error: Error) => ({ ok: false as const, error, ms: performance.now() - start }),
        ))),
      60_000,
      "the burst",
    );
    const took = performance.now() - start;
    const delivered = outcomes.filter((o) => o.ok);
    const refused = outcomes.flatMap((o) => o.ok ? [] : [o.error]);
    const late = delivered.filter((o) => o.ms >= 900).length;
    console.log(
      `${transport}: ${BURST} triggers at once, maxConnections 4: ${delivered.length} delivered, ` +
        `${refused.length} refused (${[...new Set(refused.map((e) => e.name))].join(", ") || "none"}), ` +
        `${late} delivered after >= 900 ms (a resent SYN), all settled in ${took.toFixed(0)} ms`,
    );
    for (const error of refused) {
      assert.ok(error instanceof Deno.errors.WouldBlock, `${error}`);
      assert.ok(error.message.includes(peer.endpoint), error.message);
    }
    if (transport === "inet") assert.equal(refused.length, 0, "a full TCP queue delays, it does not refuse");
    assert.ok(delivered.every((o) => o.ok && o.result.peerClosed));
    // Both sides agree, trigger by trigger.
    await untilTriggers(child, 1 + delivered.length, 20_000);
    await delay(100);
    const taken = triggers(child).filter((t) => t.request.startsWith("C")).map((t) => t.request);
    assert.equal(taken.length, delivered.length, "the server took exactly the delivered triggers");
    assert.equal(new Set(taken).size, taken.length, "none twice");
    assert.equal(child.hasExited, false);
    assert.equal((await peer.trigger("after")).peerClosed, true);
    await stopServer(child);
  });
}

// ---------------------------------------------------------------------------
// 1 MiB requests.

Deno.test("serveTriggers() on inet: 64 requests of 1 MiB each keep the server's memory bounded and it keeps serving", async () => {
  await using dir = await tempDir();
  const { child, peer } = await startServer(dir.path, "inet");
  await using _child = child;
  for (let i = 0; i < 20; i++) await peer.trigger(`warm${i}`);
  await untilTriggers(child, 20, 5_000);
  const rssBefore = rssOf(child.pid);
  const big = new Uint8Array(1 << 20).fill(0x41);
  let refusedBytes = 0;
  const COUNT = 64;
  for (let batch = 0; batch < COUNT / 8; batch++) {
    await Promise.all(Array.from({ length: 8 }, async () => {
      using conn = await peer.connect();
      let written = 0;
      try {
        // The server takes maxRequestBytes (1024) and closes: the rest of the write fails.
        for (let i = 0; i < 10_000 && written < big.length; i++) written += await conn.write(big.subarray(written));
      } catch (error) {
        assert.ok(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset, `${error}`);
      }
      refusedBytes += big.length - written;
      await within(readToEnd(conn), 10_000, "server close");
    }));
  }
  await untilTriggers(child, 20 + COUNT, 10_000);
  const rssAfter = rssOf(child.pid);
  const bigOnes = triggers(child).slice(20);
  assert.equal(bigOnes.length, COUNT);
  assert.ok(bigOnes.every((t) => t.bytes === 1024), "each cut at maxRequestBytes");
  console.log(
    `inet: ${COUNT} x 1 MiB requests: the server took 1024 bytes of each; ${mib(refusedBytes)} of ${
      mib(COUNT * big.length)
    } never left the clients; server RSS ${mib(rssBefore)} -> ${mib(rssAfter)} (delta ${mib(rssAfter - rssBefore)})`,
  );
  assert.ok(rssAfter - rssBefore < 32 * (1 << 20), `RSS grew by ${mib(rssAfter - rssBefore)}`);
  assert.equal((await peer.trigger("after")).peerClosed, true);
  await untilTriggers(child, 20 + COUNT + 1, 5_000);
  assert.deepEqual(reported(child), []);
  await stopServer(child);
});
