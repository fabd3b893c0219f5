/**
 * One reader per FIFO: fifoListen() and serveTriggers() refuse a FIFO that a
 * process already reads, and close() settles whatever other readers do.
 */
import assert from "node:assert/strict";
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { fifoListen } from "../../listen/fifo_listen.ts";
import { serveTriggers } from "../../trigger/trigger_server.ts";
import { assertRefused, delay, exists, mkfifo, tempDir, within } from "../_util.ts";

const decoder = new TextDecoder();

/** Writes `bytes` to the FIFO without blocking (a reader must be there). */
function writeNonBlocking(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

/** A child process that holds `path` open (for reading and writing, by default) until killed; `exit` is its output. */
function holdOpen(
  path: string,
  command = 'exec sleep 60 <>"$0"',
): { exit: Promise<Deno.CommandOutput> } & AsyncDisposable {
  const child = new Deno.Command("sh", { args: ["-c", command, path], stdin: "null", stdout: "piped" }).spawn();
  const exit = child.output();
  return {
    exit,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await within(exit, 5_000, "the holder's exit");
    },
  };
}

/** Waits until another process holds the FIFO open for reading (a non-blocking writer's open succeeds). */
async function untilRead(path: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
      return;
    } catch {
      await delay(25);
    }
  }
  assert.fail(`nothing opened ${path} for reading within 5 s`);
}

Deno.test("fifoListen() refuses with AddrInUse a FIFO this process already reads, and the first listener keeps working", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await using first = await fifoListen(path);
  await assertRefused(fifoListen(path), Deno.errors.AddrInUse, `fifo:${path}`, "a process is reading it already");
  // The refused call left the FIFO and the first listener alone.
  writeNonBlocking(path, new TextEncoder().encode("W"));
  assert.equal(decoder.decode((await within(first.read(), 5_000, "read"))!), "W");
  await first.close();
  assert.equal(await exists(path), false, "the first listener removed the FIFO it made");
});

Deno.test("serveTriggers() refuses with AddrInUse a FIFO another process reads, and removes nothing", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  await using _holder = holdOpen(path);
  await untilRead(path);
  await assertRefused(
    within(serveTriggers(`fifo:${path}`, () => {}), 5_000, "serveTriggers"),
    Deno.errors.AddrInUse,
    `fifo:${path}`,
    "a process is reading it already",
  );
  assert.ok((await Deno.lstat(path)).isFifo, "the FIFO is still there");
});

Deno.test("fifoListen() close() settles when a reader that came later takes the wake-up byte", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  // Made by the test, so that the test can still write to it if the listener's read were stuck.
  await mkfifo(path);
  // Linux wakes blocked readers in turn. The race needs the other reader
  // queued AHEAD of the listener's read at close(): get it queued behind a
  // first read, let that read take a byte, and the listener's next read is
  // behind it. Setting that order up can miss under load (the other reader
  // may block first and take the byte): then the round is set up again, at
  // most five times, and the race must have happened once.
  let raced = false;
  for (let round = 0; round < 5 && !raced; round++) {
    const fifo = await fifoListen(path);
    const first = fifo.read();
    await using reader = holdOpen(path, 'exec head -c 1 "$0"');
    await delay(100);
    writeNonBlocking(path, new TextEncoder().encode("W"));
    const firstTook = await within(
      Promise.race([first.then(() => true), reader.exit.then(() => false)]),
      5_000,
      "the byte W taken by one of the two readers",
    );
    const pending = firstTook ? fifo.read() : first;
    if (firstTook) await delay(100);
    let outcome: unknown = "closed";
    await within(fifo.close(), 3_000, "close()").catch((error) => outcome = error);
    if (outcome !== "closed") {
      assert.ok(outcome instanceof Deno.errors.Busy, String(outcome));
      // The listener's read is still pending: release it, so no operation is left behind.
      writeNonBlocking(path, new Uint8Array([1]));
    }
    assert.equal(await within(pending, 5_000, "the pending read"), null);
    if (!firstTook) continue;
    // The race happened: the other reader took a wake-up byte (and exited).
    const { stdout } = await within(reader.exit, 5_000, "the reader's exit");
    assert.deepEqual([...stdout], [0], "the other reader got a wake-up byte");
    raced = true;
  }
  assert.ok(raced, "the other reader was never queued ahead of the listener's read");
});

Deno.test("fifoListen() read() skips a lone NUL, which only a closing listener writes", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  await using fifo = await fifoListen(path);
  const chunk = fifo.read();
  writeNonBlocking(path, new Uint8Array([0]));
  // Let the read take the NUL alone before the real request comes.
  await delay(200);
  writeNonBlocking(path, new TextEncoder().encode("I"));
  assert.equal(decoder.decode((await within(chunk, 5_000, "read"))!), "I");
});
