/**
 * File-system safety: a socket or FIFO path that is swapped for a symbolic
 * link or for someone else's file between check and use is not followed into
 * writing, removing or re-moding that file.
 *
 * The adversary is `_swapper.ts`, a subprocess that exchanges the path with
 * a decoy name as fast as it can (renameat2 RENAME_EXCHANGE: atomic, and it
 * never removes or replaces anything itself) while the library works on the
 * path. The victim is a regular file in a separate directory ("vault"); the
 * decoy is a symbolic link to it or a hard link of it. A hard link makes
 * every harm visible on the victim itself: a removal by the library drops
 * its link count, a write changes its content, a chmod its mode.
 */
import assert from "node:assert/strict";
import { fifoListen } from "../../listen/fifo_listen.ts";
import { unixListen } from "../../listen/unix_listen.ts";
import { fifoTrigger } from "../../trigger/fifo_trigger.ts";
import { serveTriggers } from "../../trigger/trigger_server.ts";
import { Child, delay, existsNow, fifoReader, HERE, mkfifo, tempDir, within } from "./_util.ts";

const VICTIM_TEXT = "someone else's data\n";
const VICTIM_MODE = 0o640;

/** A victim file in its own directory, with what to check it against. */
interface Victim {
  path: string;
  /** What was done to the victim: link count (`links` expected), mode, size, mtime, content. Empty when intact. */
  harms(links: number): string[];
  /** Asserts the victim is intact. */
  assertIntact(links: number, when: string): void;
  /** Undoes a removal (re-links the `hardLinks` names) and a chmod, so a race loop can go on counting. */
  repair(hardLinks: string[]): void;
}

async function makeVictim(vault: string): Promise<Victim> {
  const path = `${vault}/victim`;
  await Deno.writeTextFile(path, VICTIM_TEXT);
  await Deno.chmod(path, VICTIM_MODE);
  const made = await Deno.lstat(path);
  const victim: Victim = {
    path,
    harms(links) {
      const now = Deno.lstatSync(path);
      const harms: string[] = [];
      if (now.nlink! < links) harms.push("a link removed");
      if ((now.mode! & 0o7777) !== VICTIM_MODE) harms.push(`mode changed to 0o${(now.mode! & 0o7777).toString(8)}`);
      if (now.size !== made.size || now.mtime?.getTime() !== made.mtime?.getTime()) harms.push("written");
      else if (Deno.readTextFileSync(path) !== VICTIM_TEXT) harms.push("content changed");
      return harms;
    },
    assertIntact(links, when) {
      assert.deepEqual(victim.harms(links), [], `${when}: the victim was harmed`);
    },
    repair(hardLinks) {
      Deno.chmodSync(path, VICTIM_MODE);
      const inode = Deno.lstatSync(path).ino;
      for (const link of hardLinks) {
        if (existsNow(link) && Deno.lstatSync(link).ino === inode) continue;
        if (existsNow(link)) Deno.removeSync(link);
        Deno.linkSync(path, link);
      }
    },
  };
  return victim;
}

/** The swapper subprocess, driven one `swap MS` at a time. */
class Swapper implements AsyncDisposable {
  readonly #child: Child;
  #runs = 0;
  rounds = 0;
  misses = 0;

  /** `pairs`: the names to exchange, in order, round after round. */
  constructor(pairs: [string, string][]) {
    this.#child = new Child(
      Deno.execPath(),
      ["run", "-q", "--allow-ffi", `${HERE}_swapper.ts`, JSON.stringify(pairs)],
      {
        stdin: true,
      },
    );
  }

  /**
   * Starts swapping for `ms`; resolves once the swapper has started, with a
   * promise of its end (wrapped: an async function would flatten it).
   */
  async start(ms: number): Promise<{ end: Promise<void> }> {
    const run = ++this.#runs;
    await this.#child.send(`swap ${ms}\n`);
    const count = (word: string) => this.#child.lines.filter((line) => line.startsWith(word)).length;
    await this.#child.waitFor(() => count("go") >= run, 20_000, `swap run ${run} start`);
    const end = this.#child.waitFor(() => count("done") >= run, ms + 20_000, `swap run ${run} end`).then(() => {
      const [, rounds, misses] = this.#child.lines.filter((line) => line.startsWith("done"))[run - 1].split(" ");
      this.rounds += Number(rounds);
      this.misses += Number(misses);
    });
    return { end };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#child.send("quit\n").catch(() => {});
    const status = await within(this.#child.exited, 10_000, "swapper exit");
    await this.#child[Symbol.asyncDispose]();
    assert.equal(status.code, 0, `swapper: ${this.#child.errors.join("\n")}`);
  }
}

/**
 * Labels an error for the tally: its class and reason. An error of a class
 * not in `allowed`, or whose message does not start by naming `endpoint`,
 * is added to `unclear`.
 */
function classify(
  error: unknown,
  endpoint: string,
  allowed: (new (...args: never[]) => Error)[],
  unclear: string[],
): string {
  const message = String((error as Error)?.message ?? error);
  const prefix = `Cannot ${endpoint.startsWith("fifo:") ? "trigger" : "listen on"} "${endpoint}": `;
  if (!allowed.some((Class) => error instanceof Class) || !message.startsWith(prefix)) {
    unclear.push(`${(error as Error)?.name}: ${message}`);
  }
  const reason = message.slice(message.lastIndexOf(`"${endpoint}": `) + endpoint.length + 4).replace(/ \(.*$/, "");
  return `${(error as Error)?.name}: ${reason}`;
}

/** Adds one to `key` in `counts`. */
function tally(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function show(counts: Map<string, number>): string {
  return [...counts].map(([key, n]) => `${n} x ${key}`).join("; ");
}

// ---------------------------------------------------------------------------
// Static cases: what fifoTrigger() finds at the path is not what it will write to.

Deno.test("fifoTrigger() refuses a symbolic link to a regular file or to a FIFO, and a FIFO hard-linked from elsewhere, writing nothing", async () => {
  await using dir = await tempDir();
  await using vault = await tempDir("postnet-vault-");
  const victim = await makeVictim(vault.path);

  // A link to someone's regular file.
  const toFile = `${dir.path}/pickup`;
  await Deno.symlink(victim.path, toFile);
  await assert.rejects(fifoTrigger(toFile, "W"), (error: Error) => {
    assert.ok(error instanceof Deno.errors.PermissionDenied, `${error}`);
    assert.match(error.message, /symbolic link/);
    return true;
  });
  victim.assertIntact(1, "link to a regular file");

  // A link to someone's FIFO, with a reader: nothing reaches it.
  const theirs = `${vault.path}/their-fifo`;
  await mkfifo(theirs);
  using reader = fifoReader(theirs);
  const toFifo = `${dir.path}/qmgr`;
  await Deno.symlink(theirs, toFifo);
  await assert.rejects(fifoTrigger(toFifo, "W"), Deno.errors.PermissionDenied);
  // Their FIFO hard-linked into our directory: two links, refused.
  const linked = `${dir.path}/flush`;
  await Deno.link(theirs, linked);
  await assert.rejects(fifoTrigger(linked, "W"), (error: Error) => {
    assert.ok(error instanceof Deno.errors.PermissionDenied, `${error}`);
    assert.match(error.message, /2 hard links/);
    return true;
  });
  assert.equal(reader.take().length, 0, "no byte reached the FIFO");
  // The FIFO itself works: the refusals were about the paths.
  await Deno.remove(linked);
  await fifoTrigger(theirs, "W");
  assert.equal(reader.take().length, 1);
});

Deno.test("fifoTrigger() names the endpoint once in each refusal (symbolic link, not a FIFO, hard links)", async () => {
  // A refusal made deep in the write path must not be wrapped again on its
  // way out ('Cannot trigger "fifo:P": Cannot trigger "fifo:P": it is ...').
  await using dir = await tempDir();
  const link = `${dir.path}/link`;
  const file = `${dir.path}/file`;
  const fifo = `${dir.path}/fifo`;
  await Deno.writeTextFile(file, "");
  await Deno.symlink(file, link);
  await mkfifo(fifo);
  await Deno.link(fifo, `${dir.path}/fifo2`);
  for (const path of [link, file, fifo]) {
    const prefix = `Cannot trigger "fifo:${path}": `;
    await assert.rejects(fifoTrigger(path, "W"), (error: Error) => {
      assert.ok(error.message.startsWith(prefix), error.message);
      assert.ok(!error.message.slice(prefix.length).includes("Cannot trigger"), error.message);
      return true;
    });
  }
});

// ---------------------------------------------------------------------------
// Races: the path changes under the library while it works.

/** Whether `path` is a name of the victim (same inode). */
function isVictim(path: string, victim: Victim): boolean {
  return existsNow(path) && Deno.lstatSync(path).ino === Deno.lstatSync(victim.path).ino;
}

/** Exchanges two names back (the swapper may stop in either position), with plain renames through a spare name. */
function swapBack(a: string, b: string): void {
  const spare = `${a}.spare`;
  Deno.renameSync(a, spare);
  Deno.renameSync(b, a);
  Deno.renameSync(spare, b);
}

/** Runs fifoTrigger() in a loop while the swapper exchanges `pickup` (the FIFO) and `decoy`. */
async function fifoTriggerRace(decoyKind: "symlink" | "hardlink"): Promise<void> {
  await using dir = await tempDir();
  await using vault = await tempDir("postnet-vault-");
  const victim = await makeVictim(vault.path);
  const pickup = `${dir.path}/pickup`;
  const decoy = `${dir.path}/decoy`;
  if (decoyKind === "symlink") await Deno.symlink(victim.path, decoy);
  else await Deno.link(victim.path, decoy);
  const links = decoyKind === "symlink" ? 1 : 2;

  // The real FIFO, with its reader here; it holds the FIFO open, so renames do not matter to it.
  const listener = await fifoListen(pickup);
  let received = 0;
  let other = 0;
  const reading = (async () => {
    for await (const chunk of listener) {
      received += chunk.length;
      other += chunk.filter((byte) => byte !== 0x58).length;
    }
  })();

  const outcomes = new Map<string, number>();
  const unclear: string[] = [];
  let calls = 0;
  let delivered = 0;
  {
    await using swapper = new Swapper([[pickup, decoy]]);
    const { end } = await swapper.start(1_500);
    // Bounded: 1 s or 200,000 calls.
    const stop = performance.now() + 1_000;
    for (; calls < 200_000 && performance.now() < stop; calls++) {
      try {
        const result = await fifoTrigger(pickup, "X");
        assert.equal(result.bytes, 1);
        delivered++;
        tally(outcomes, "delivered");
      } catch (error) {
        tally(
          outcomes,
          classify(error, `fifo:${pickup}`, [
            Deno.errors.NotFound,
            Deno.errors.PermissionDenied,
            Deno.errors.InvalidData,
            Deno.errors.WouldBlock,
          ], unclear),
        );
      }
      // Let the reader run (it needs the event loop to read again).
      if (calls % 256 === 255) await delay(0);
    }
    await end;
    console.log(
      `fifoTrigger() vs a ${decoyKind} to the victim swapped in (${swapper.rounds} exchanges, ${swapper.misses} missed): ` +
        `${calls} calls: ${show(outcomes)}`,
    );
  }
  // Every call that reported delivery put its byte in the FIFO, and no other byte came.
  for (let i = 0; i < 500 && received < delivered; i++) await delay(10);
  if (!Deno.lstatSync(pickup).isFifo) swapBack(pickup, decoy);
  await listener.close();
  await reading;
  assert.equal(received, delivered, "bytes in the FIFO = calls that reported delivery");
  assert.equal(other, 0);
  assert.ok(delivered > 0, "some calls met the FIFO");
  assert.ok(calls > delivered, "some calls met the decoy");
  victim.assertIntact(links, "after the race");
  assert.deepEqual(unclear.slice(0, 5), [], `${unclear.length} errors of another class or not naming the endpoint`);
}

Deno.test("fifoTrigger() racing a path swapped between a FIFO and a symbolic link to a victim file never writes the victim", async () => {
  await fifoTriggerRace("symlink");
});

Deno.test("fifoTrigger() racing a path swapped between a FIFO and a victim file itself (hard link) never writes it", async () => {
  await fifoTriggerRace("hardlink");
});

Deno.test("fifoListen() close() racing a path swapped between its FIFO and a victim file never removes the victim", async () => {
  // close() removes the FIFO it made, by path: a victim swapped in between
  // its check and the removal must survive, and close() must not throw.
  // The test proves the race happened: the swapper exchanged the names, and
  // some close() met the victim at the FIFO's path (and so left the FIFO).
  await using dir = await tempDir();
  await using vault = await tempDir("postnet-vault-");
  const victim = await makeVictim(vault.path);
  const pickup = `${dir.path}/pickup`;
  const decoy = `${dir.path}/decoy`;
  await Deno.link(victim.path, decoy);
  const harms = new Map<string, number>();
  const closeErrors: string[] = [];
  let iterations = 0;
  let fifoRemoved = 0;
  let exchanges = 0;
  {
    await using swapper = new Swapper([[pickup, decoy]]);
    // Bounded: 300 iterations or 3 s.
    const stop = performance.now() + 3_000;
    for (; iterations < 300 && performance.now() < stop; iterations++) {
      const listener = await fifoListen(pickup);
      assert.equal(listener.created, true);
      const { end } = await swapper.start(10);
      await listener.close().catch((error) => closeErrors.push(`${error?.name}: ${error?.message}`));
      await end;
      for (const harm of victim.harms(2)) tally(harms, harm);
      // Back to the start: the victim at decoy only; a FIFO close() did not remove is removed here.
      let fifoLeft = false;
      for (const path of [pickup, decoy]) {
        if (existsNow(path) && Deno.lstatSync(path).isFifo) {
          Deno.removeSync(path);
          fifoLeft = true;
        }
      }
      if (isVictim(pickup, victim)) Deno.renameSync(pickup, decoy);
      victim.repair([decoy]);
      if (!fifoLeft) fifoRemoved++;
    }
    console.log(
      `fifoListen() close() vs a victim swapped in: ${iterations} closes (${swapper.rounds} exchanges): ` +
        `${fifoRemoved} removed the FIFO, ${iterations - fifoRemoved} left it; victim harmed: ${
          show(harms) || "never"
        }; close() threw ${closeErrors.length} times${closeErrors.length ? ` (${closeErrors[0]})` : ""}`,
    );
    exchanges = swapper.rounds - swapper.misses;
  }
  // The race happened: names were exchanged, and some close() found the victim where its FIFO was.
  assert.ok(exchanges > 0, `the swapper exchanged nothing (${exchanges})`);
  assert.ok(fifoRemoved < iterations, "no close() met the victim at its path");
  assert.deepEqual([...harms], [], `the victim was harmed in ${iterations} closes`);
  assert.deepEqual(closeErrors.slice(0, 3), [], `close() threw ${closeErrors.length} times`);
});

Deno.test("unixListen() racing a stale socket swapped with a victim file or a link to it never removes or re-modes the victim", async () => {
  // unixListen() sets the socket's mode and removes a stale socket by path:
  // a victim (or a symbolic link to it) swapped in must be neither re-moded
  // nor removed. The test proves the race happened: the swappers exchanged
  // the names, and some calls met the victim or the link at the path.
  await using dir = await tempDir();
  await using vault = await tempDir("postnet-vault-");
  const victim = await makeVictim(vault.path);
  const qmgr = `${dir.path}/qmgr`;
  const hard = `${dir.path}/hard`;
  const soft = `${dir.path}/soft`;
  await Deno.link(victim.path, hard);
  await Deno.symlink(victim.path, soft);
  const outcomes = new Map<string, number>();
  const harms = new Map<string, number>();
  const unclear: string[] = [];
  let iterations = 0;
  // One swapper per decoy kind; each iteration uses one.
  await using viaHard = new Swapper([[qmgr, hard]]);
  await using viaSoft = new Swapper([[qmgr, soft]]);
  // Bounded: 200 iterations or 4 s.
  const stop = performance.now() + 4_000;
  for (; iterations < 200 && performance.now() < stop; iterations++) {
    // A stale socket at qmgr: bound, moved aside while its listener closes (Deno unlinks the bound path), moved back.
    const stale = Deno.listen({ transport: "unix", path: qmgr });
    await Deno.rename(qmgr, `${qmgr}.aside`);
    stale.close();
    await Deno.rename(`${qmgr}.aside`, qmgr);

    const kind = iterations % 2 === 0 ? "hard link" : "symbolic link";
    const decoy = kind === "hard link" ? hard : soft;
    const { end } = await (kind === "hard link" ? viaHard : viaSoft).start(20);
    let listener: Deno.UnixListener | undefined;
    try {
      listener = await unixListen(qmgr, { probeTimeout: 500 });
      tally(outcomes, "listening");
    } catch (error) {
      tally(
        outcomes,
        classify(
          error,
          `unix:${qmgr}`,
          [Deno.errors.AlreadyExists, Deno.errors.AddrInUse, Deno.errors.NotFound],
          unclear,
        ),
      );
    }
    await end;
    for (const harm of victim.harms(2)) tally(harms, `${harm} (via a ${kind})`);
    // Back to the start, before the listener closes (Deno unlinks its path, whatever is there then):
    // the decoy at its name, nothing at qmgr.
    const decoyAtQmgr = kind === "hard link"
      ? isVictim(qmgr, victim)
      : existsNow(qmgr) && Deno.lstatSync(qmgr).isSymlink;
    if (decoyAtQmgr) {
      if (existsNow(decoy)) Deno.removeSync(decoy);
      Deno.renameSync(qmgr, decoy);
    }
    for (const path of [qmgr, decoy]) if (existsNow(path) && Deno.lstatSync(path).isSocket) Deno.removeSync(path);
    listener?.close();
    victim.repair([hard]);
    if (!existsNow(soft)) await Deno.symlink(victim.path, soft);
  }
  console.log(
    `unixListen() vs a victim swapped in (${viaHard.rounds + viaSoft.rounds} exchanges): ${iterations} calls: ${
      show(outcomes)
    }; victim harmed: ${show(harms) || "never"}; unclear errors: ${unclear.length}${
      unclear.length
        ? ` (${[...new Set(unclear.map((e) => e.replace(/\/tmp\/\S+/g, "PATH")))].slice(0, 3).join(" | ")})`
        : ""
    }`,
  );
  // The race happened: names were exchanged, and some calls met the victim or the link at the path.
  const exchanges = viaHard.rounds - viaHard.misses + viaSoft.rounds - viaSoft.misses;
  assert.ok(exchanges > 0, `the swappers exchanged nothing (${exchanges})`);
  const met = [...outcomes].filter(([outcome]) => outcome.includes("is in the way")).reduce((n, [, c]) => n + c, 0);
  assert.ok(met > 0, `no call met the victim or the link: ${show(outcomes)}`);
  assert.deepEqual([...harms], [], `the victim was harmed in ${iterations} calls`);
  // Every refusal is a documented class and names the endpoint.
  assert.deepEqual(unclear.slice(0, 5), [], `${unclear.length} errors of another class or not naming the endpoint`);
});

// ---------------------------------------------------------------------------
// Closing a server whose path now holds someone else's file.

Deno.test("serveTriggers() close() leaves a victim file that replaced its FIFO or its socket (fifo, unix)", async () => {
  // Deno's UnixListener.close() unlinks the path it was bound to, whatever
  // is there now: serveTriggers() close() must not let it remove the victim.
  await using dir = await tempDir();
  await using vault = await tempDir("postnet-vault-");
  const victim = await makeVictim(vault.path);
  const failures: string[] = [];
  for (const transport of ["fifo", "unix"] as const) {
    const path = `${dir.path}/${transport}`;
    const server = await serveTriggers(`${transport}:${path}`, () => {});
    // Someone moves the server's file away and puts a (hard-linked) victim in its place.
    await Deno.rename(path, `${path}.moved`);
    await Deno.link(victim.path, path);
    await within(server.close(), 5_000, `${transport} close`);
    if (!existsNow(path)) failures.push(`${transport}: close() removed the file at ${path}`);
    await delay(0);
  }
  assert.deepEqual(failures, []);
  victim.assertIntact(3, "after both closes");
});
