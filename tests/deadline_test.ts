/**
 * The shared deadline: one armed timer per duration, deadlines that fire on
 * time and in order, leave no trace once disposed, and never hold a
 * process whose work is done.
 */
import assert from "node:assert/strict";
import { Deadline } from "../_deadline.ts";
import { runScript, tempDir, within } from "./_util.ts";

/** Resolves with the time (performance.now()) at which `deadline` expires. */
function expiry(deadline: Deadline): Promise<number> {
  return new Promise((resolve) => deadline.onExpire(() => resolve(performance.now())));
}

Deno.test("Deadline fires each deadline of one duration after its own timeout, in order", async () => {
  const start = performance.now();
  const first = new Deadline("first", 150);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const second = new Deadline("second", 150);
  const [a, b] = await within(Promise.all([expiry(first), expiry(second)]), 5_000, "expiries");
  first[Symbol.dispose]();
  second[Symbol.dispose]();
  assert.ok(a - start >= 149, `first fired after ${a - start} ms`);
  assert.ok(b - a >= 45, `second fired ${b - a} ms after the first`);
  assert.ok(first.timedOut && second.timedOut);
  const reason = first.reason as DOMException;
  assert.equal(reason.name, "TimeoutError");
  assert.equal(reason.message, "first: timed out after 150 ms");
});

Deno.test("Deadline of different durations fire independently, the shorter first", async () => {
  const long = new Deadline("long", 300);
  const short = new Deadline("short", 100);
  const fired: string[] = [];
  long.onExpire(() => fired.push("long"));
  await within(expiry(short), 5_000, "short");
  fired.push("short");
  await within(new Promise<void>((resolve) => long.onExpire(() => (fired.push("long"), resolve()))), 5_000, "long");
  long[Symbol.dispose]();
  short[Symbol.dispose]();
  assert.deepEqual(fired, ["short", "long"]);
});

Deno.test("Deadline disposed before its timeout never fires, and the others in its lane still do", async () => {
  const gone = new Deadline("gone", 100);
  const kept = new Deadline("kept", 100);
  let fired = false;
  gone.onExpire(() => fired = true);
  gone[Symbol.dispose]();
  await within(expiry(kept), 5_000, "kept");
  kept[Symbol.dispose]();
  assert.equal(fired, false);
  assert.equal(gone.aborted, false);
});

Deno.test("Deadline passes the caller's abort reason unchanged, and timeout 0 has passed already", () => {
  const reason = new Error("stop");
  const controller = new AbortController();
  using deadline = new Deadline("x", 10_000, controller.signal);
  controller.abort(reason);
  assert.equal(deadline.reason, reason);
  assert.equal(deadline.timedOut, false);
  using zero = new Deadline("zero", 0);
  assert.throws(() => zero.throwIfAborted(), { name: "TimeoutError", message: "zero: timed out after 0 ms" });
});

Deno.test("a script whose work is done exits at once, though its deadlines were long", async () => {
  await using dir = await tempDir("postnet-deadline-", "/tmp");
  const library = new URL("../_deadline.ts", import.meta.url).href;
  const script = `
    import { Deadline } from "${library}";
    for (let i = 0; i < 100; i++) {
      using deadline = new Deadline("work", 60_000);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    console.log("done");
  `;
  const start = performance.now();
  const result = await runScript(dir.path, script, ["--allow-read"], [], "022", 30_000);
  assert.equal(result.stdout.trim(), "done", result.stderr);
  assert.equal(result.code, 0);
  // Held by a 60 s timer it would take a minute; it takes well under one.
  assert.ok(performance.now() - start < 20_000, `took ${performance.now() - start} ms`);
});

Deno.test("a pending deadline keeps a script alive until it fires, as a timer does", async () => {
  await using dir = await tempDir("postnet-deadline-", "/tmp");
  const library = new URL("../_deadline.ts", import.meta.url).href;
  const script = `
    import { Deadline } from "${library}";
    const deadline = new Deadline("wait", 300);
    deadline.onExpire(() => console.log("expired", deadline.timedOut));
  `;
  const result = await runScript(dir.path, script, ["--allow-read"], [], "022", 30_000);
  assert.equal(result.stdout.trim(), "expired true", result.stderr);
});
