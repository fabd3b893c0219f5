/**
 * Faults: servers killed with SIGKILL at the worst moment, and what the
 * next client or the next server finds. Servers are real subprocesses:
 * `_hold_server.ts` (takes a trigger and never closes) and the command line
 * itself (`cli.ts watch`).
 */
import assert from "node:assert/strict";
import { fifoTrigger } from "../../trigger/fifo_trigger.ts";
import { inetTrigger } from "../../trigger/inet_trigger.ts";
import { serveTriggers } from "../../trigger/trigger_server.ts";
import type { TriggerResult } from "../../trigger/trigger.ts";
import { unixTrigger } from "../../trigger/unix_trigger.ts";
import { Child, delay, existsNow, HERE, portOf, ROOT, tempDir, within } from "./_util.ts";

const HOLD = `${HERE}_hold_server.ts`;
const CLI = `${ROOT}cli.ts`;
const TIMEOUT = 10_000;

/** Sends a trigger to `endpoint` (unix:PATH or inet:HOST:PORT) with the library. */
function send(endpoint: string, request: string, timeout = TIMEOUT): Promise<TriggerResult> {
  return endpoint.startsWith("unix:")
    ? unixTrigger(endpoint.slice("unix:".length), request, { timeout })
    : inetTrigger(`127.0.0.1:${portOf(endpoint)}`, request, { timeout });
}

/** The JSON lines `cli.ts watch` printed. */
function watched(child: Child): { request: string; bytes: number }[] {
  return child.lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
}

/** Starts `cli.ts watch ENDPOINT` (the real command line, run as a user runs it). */
function watch(endpoint: string): Child {
  return Child.deno(CLI, ["watch", endpoint], { lifetime: 60_000 });
}

/**
 * Waits (at most 20 s) for the ready line a `cli.ts watch` subprocess prints
 * on stderr once it listens (a FIFO: once its stale bytes are drained), then
 * sends ONE `request` and waits (at most 10 s) for its JSON line: a trigger
 * lost by a ready watch fails the test. Returns the ms until the ready line.
 */
async function untilWatching(child: Child, endpoint: string, request: string): Promise<number> {
  const start = performance.now();
  const line = `postnet watch: listening on ${endpoint}`;
  await child.waitFor((lines) => lines.includes(line), 20_000, "the ready line", "stderr");
  const ready = performance.now() - start;
  const seen = watched(child).length;
  const sent = endpoint.startsWith("fifo:")
    ? fifoTrigger(endpoint.slice("fifo:".length), request)
    : send(endpoint, request);
  await within(sent, TIMEOUT + 2_000, "the trigger");
  await child.waitFor(() => watched(child).length > seen, 10_000, "the watch line");
  assert.equal(watched(child).at(-1)?.request, request);
  return ready;
}

/** Kills `child` with SIGKILL (by its PID) and checks it died of it. */
async function killHard(child: Child): Promise<void> {
  child.kill("SIGKILL");
  const status = await within(child.exited, 10_000, "exit after SIGKILL");
  assert.equal(status.signal, "SIGKILL");
}

// ---------------------------------------------------------------------------
// A server killed while a client waits for it to close.

for (const transport of ["unix", "inet"] as const) {
  for (const reads of [true, false]) {
    Deno.test(`${transport}Trigger() settles at once when a server that ${reads ? "read the request" : "never read"} and never closes is killed with SIGKILL`, async () => {
      await using dir = await tempDir();
      const endpoint = transport === "unix" ? `unix:${dir.path}/qmgr` : "inet:127.0.0.1:0";
      await using server = Child.deno(HOLD, reads ? [endpoint] : [endpoint, "--no-read"]);
      const real = await server.line("ready ", 20_000);
      let settled = false;
      const pending = send(real, "I").finally(() => settled = true);
      await server.line(reads ? "read " : "accepted", 10_000);
      if (reads) assert.equal(await server.line("read ", 0), "2", "the server read the request and its NUL");
      // The client is waiting for the close that never comes.
      await delay(200);
      assert.equal(settled, false, "the client waits for the server to close");
      const killedAt = performance.now();
      await killHard(server);
      const result = await within(pending, TIMEOUT + 2_000, "the trigger");
      const afterKill = performance.now() - killedAt;
      console.log(
        `${transport}, server ${reads ? "read" : "did not read"}: the trigger settled ${
          afterKill.toFixed(1)
        } ms after SIGKILL (${result.elapsed.toFixed(0)} ms in all, timeout ${TIMEOUT} ms): ` +
          `delivered, peerClosed ${result.peerClosed}`,
      );
      // The kernel closed the dead server's socket: end-of-file (or a reset, when the request was never read).
      assert.equal(result.peerClosed, true);
      assert.equal(result.bytes, 2);
      assert.ok(afterKill < TIMEOUT / 2, `settled ${afterKill} ms after the kill, not at the timeout`);
    });
  }
}

// ---------------------------------------------------------------------------
// A UNIX-domain socket left by a killed server.

Deno.test("a stale socket left by a SIGKILLed cli.ts watch is refused at once, then reclaimed by the next watch and by serveTriggers()", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  const endpoint = `unix:${path}`;
  {
    await using first = watch(endpoint);
    const ready = await untilWatching(first, endpoint, "P");
    console.log(`unix: cli.ts watch was ready ${ready.toFixed(0)} ms after spawn`);
    await killHard(first);
  }
  assert.ok(Deno.lstatSync(path).isSocket, "the killed process left its socket");

  // Nothing behind it: refused at once, saying why.
  const start = performance.now();
  const error = await send(endpoint, "I").then(
    () => assert.fail("delivered to a dead server"),
    (error: Error) => error,
  );
  const refusedMs = performance.now() - start;
  assert.ok(error instanceof Deno.errors.ConnectionRefused, `${error}`);
  assert.ok(
    error.message.includes(`"${endpoint}"`) && error.message.includes("no process is listening"),
    error.message,
  );
  console.log(`unix: a trigger to the stale socket failed in ${refusedMs.toFixed(1)} ms: ${error.message}`);
  assert.ok(refusedMs < 5_000);

  // The next watch reclaims it.
  {
    await using second = watch(endpoint);
    await untilWatching(second, endpoint, "Q");
    assert.equal(watched(second).at(-1)?.request, "Q");
    await killHard(second);
  }
  assert.ok(Deno.lstatSync(path).isSocket, "stale again");

  // And so does serveTriggers(), in this process.
  const arrived = Promise.withResolvers<string>();
  await using server = await serveTriggers(
    endpoint,
    ({ request }) => arrived.resolve(new TextDecoder().decode(request)),
  );
  const result = await send(endpoint, "I");
  assert.equal(result.peerClosed, true);
  assert.equal(await within(arrived.promise, 5_000, "the trigger"), "I");
  await server.close();
  assert.equal(existsNow(path), false, "its socket is removed on close");
});

// ---------------------------------------------------------------------------
// A FIFO whose listener was killed.

Deno.test("a FIFO whose cli.ts watch was SIGKILLed refuses triggers at once; a restarted watch receives new ones", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const endpoint = `fifo:${path}`;
  {
    await using first = watch(endpoint);
    await untilWatching(first, endpoint, "P");
    await killHard(first);
  }
  assert.ok(Deno.lstatSync(path).isFifo, "the killed process left its FIFO");

  // While it is down: no reader, refused at once.
  const start = performance.now();
  const error = await fifoTrigger(path, "W").then(() => assert.fail("written to a FIFO nobody reads"), (e: Error) => e);
  const refusedMs = performance.now() - start;
  assert.ok(error instanceof Deno.errors.ConnectionRefused, `${error}`);
  assert.equal(error.message, `Cannot trigger "${endpoint}": no process is listening`);
  console.log(`fifo: a trigger while the listener was down failed in ${refusedMs.toFixed(2)} ms: ${error.message}`);
  assert.ok(refusedMs < 1_000);

  // Restarted on the same FIFO: it takes new triggers.
  await using second = watch(endpoint);
  const ready = await untilWatching(second, endpoint, "P");
  const before = watched(second).length;
  for (let i = 0; i < 10; i++) await fifoTrigger(path, "X");
  await second.waitFor(
    () => watched(second).slice(before).reduce((n, line) => n + line.request.length, 0) >= 10,
    5_000,
    "10 X",
  );
  const after = watched(second).slice(before);
  assert.equal(after.map((line) => line.request).join(""), "X".repeat(10), "every byte, once, in order");
  console.log(
    `fifo: the restarted watch was ready ${ready.toFixed(0)} ms after spawn; ` +
      `10 one-byte triggers arrived in ${after.length} line(s)`,
  );
  second.kill("SIGTERM");
  const status = await within(second.exited, 10_000, "watch exit on SIGTERM");
  assert.equal(status.code, 0);
  assert.ok(Deno.lstatSync(path).isFifo, "a FIFO the watch did not create is left in place");
  await delay(0);
});
