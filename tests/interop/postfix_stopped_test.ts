/**
 * Triggers to a Postfix that is NOT running fail fast and say why: the
 * master is stopped (`postfix -c DIR stop`) but its queue dir is kept, so
 * `public/qmgr` is still there, a stale socket (nothing accepts: connection
 * refused) or a FIFO nobody reads (no process is listening). And once the
 * master starts again on the same dir, triggers work again.
 */
import assert from "node:assert/strict";
import { trigger } from "../../mod.ts";
import { type CliResult, kick } from "./_cli.ts";
import { postkick, skipUnlessPostfix, startPostfix } from "./_postfix.ts";

const ignore = skipUnlessPostfix();
/** How long a refused trigger may take: it fails at connect/open, it never waits for a timeout. */
const FAIL_FAST_MS = 500;
/** The same for the CLI, whose wall time includes Deno's start-up; kicks run with --timeout 10000. */
const CLI_FAIL_FAST_MS = 5_000;
const REASON = { unix: /[Cc]onnection refused/, fifo: /no process is listening/ } as const;
/**
 * What a trigger sent WHILE the master goes down may also meet: unix, a
 * connection queued on the listener just before the master closed it (the
 * request write then fails: EPIPE, or ECONNRESET); fifo, a reader that went
 * away between the open and the write (EPIPE).
 */
const SHUTDOWN_REASON = {
  unix: /[Cc]onnection refused|[Bb]roken pipe|[Cc]onnection reset/,
  fifo: /no process is listening|the reader went away/,
} as const;

/** Asserts a failed kick: exit 1 and ONE stderr line that names the endpoint and the reason. */
function assertKickFailed(result: CliResult, endpoint: string, reason: RegExp): void {
  assert.equal(result.code, 1, `exit ${result.code}: ${result.stderr}`);
  assert.equal(result.stdout, "");
  assert.equal(result.lines.length, 1, `stderr: ${result.stderr}`);
  const [line] = result.lines;
  assert.ok(line.includes(`"${endpoint}"`), `endpoint ${endpoint} not named: ${line}`);
  assert.match(line, reason);
  assert.match(line, /^postnet kick: /);
}

for (const transport of ["unix", "fifo"] as const) {
  Deno.test({
    name: `trigger() and cli.ts kick fail at once with the reason when Postfix is stopped (${transport})`,
    ignore,
    async fn() {
      await using postfix = await startPostfix({ transport });
      const qmgr = postfix.publicPath("qmgr");
      const endpoint = `${transport}:${qmgr}`;
      await postfix.stopMaster();
      // What a stopped Postfix leaves: the socket or FIFO, with nothing behind it.
      const left = await Deno.lstat(qmgr);
      assert.equal(transport === "unix" ? left.isSocket : left.isFifo, true);

      // The library: a Deno.errors class to branch on, a message naming endpoint and reason.
      const started = performance.now();
      const error = await trigger(qmgr, "D", { timeout: 10_000 }).then(
        () => assert.fail("trigger to a stopped Postfix resolved"),
        (error: unknown) => error,
      );
      const libraryMs = performance.now() - started;
      assert.ok(error instanceof Deno.errors.ConnectionRefused, `${error}`);
      assert.ok(error.message.includes(`"${endpoint}"`), error.message);
      assert.match(error.message, REASON[transport]);
      assert.ok(libraryMs < FAIL_FAST_MS, `trigger() took ${libraryMs} ms to fail`);

      // The CLI in postkick form, as the user types it: Deno prints its own
      // warning about permissions from deno.json first (kick.lines leaves it out).
      const postkickForm = await kick([
        "--timeout",
        "10000",
        "--queue-directory",
        postfix.queueDir,
        "public",
        "qmgr",
        "D",
      ]);
      assertKickFailed(postkickForm, endpoint, REASON[transport]);
      assert.ok(postkickForm.ms < CLI_FAIL_FAST_MS, `kick took ${postkickForm.ms} ms to fail`);

      // ENDPOINT form with `deno run -q`: then stderr is exactly the CLI's one line.
      const quiet = await kick(["--timeout", "10000", endpoint, "D"], { quiet: true });
      assertKickFailed(quiet, endpoint, REASON[transport]);
      assert.equal(quiet.stderr, `${quiet.lines[0]}\n`);

      // The real postkick also fails, but does not say why.
      const real = await postkick(postfix.configDir, "public", "qmgr", "D");
      assert.equal(real.code, 1);
      assert.match(real.stderr, /Cannot contact class public service qmgr/);

      // Nothing of these reached a qmgr.
      assert.doesNotMatch(await postfix.log(), /qmgr\[\d+\]: request: 68 \(D\)/);
      console.log(
        `stopped Postfix (${transport}): trigger() failed in ${libraryMs.toFixed(2)} ms; ` +
          `cli.ts kick exited 1 in ${postkickForm.ms.toFixed(0)} ms wall (-q: ${quiet.ms.toFixed(0)} ms); ` +
          `"${postkickForm.lines[0]}"`,
      );
    },
  });

  Deno.test({
    name: `trigger() in a loop while Postfix stops: delivered, then refused, never hung (${transport})`,
    ignore,
    async fn() {
      await using postfix = await startPostfix({ transport });
      const qmgr = postfix.publicPath("qmgr");
      const endpoint = `${transport}:${qmgr}`;
      const TIMEOUT = 2_000;
      const MAX_TRIGGERS = 3_000;
      const AFTER_STOP = 20;
      const deadline = Date.now() + 20_000;

      let stopped = false;
      const stopping = postfix.stopMaster().then(() => void (stopped = true));
      const outcomes: string[] = [];
      let slowest = 0;
      try {
        let afterStop = 0;
        while (outcomes.length < MAX_TRIGGERS && Date.now() < deadline && afterStop < AFTER_STOP) {
          if (stopped) afterStop++;
          const started = performance.now();
          try {
            await trigger(qmgr, "D", { timeout: TIMEOUT });
            outcomes.push("delivered");
          } catch (error) {
            // While the master goes down: see SHUTDOWN_REASON.
            const named = error instanceof Deno.errors.ConnectionRefused ||
              error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset;
            assert.ok(named, `unexpected ${error}`);
            assert.ok((error as Error).message.includes(`"${endpoint}"`), `${error}`);
            assert.match((error as Error).message, SHUTDOWN_REASON[transport]);
            outcomes.push((error as Error).name);
          }
          slowest = Math.max(slowest, performance.now() - started);
          // Leave the CPU to postfix stop now and then (two-core CI machines).
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      } finally {
        await stopping;
      }
      const counts = Object.groupBy(outcomes, (outcome) => outcome);
      const summary = Object.entries(counts).map(([key, list]) => `${key} ${list!.length}`).join(", ");
      console.log(`trigger() loop while Postfix stops (${transport}): ${summary}; slowest ${slowest.toFixed(1)} ms`);
      assert.ok(slowest < TIMEOUT + 100, `a trigger took ${slowest} ms`);
      // Once the master is gone, every trigger is refused: no flapping, no late success.
      const firstFailure = outcomes.findIndex((outcome) => outcome !== "delivered");
      assert.ok(firstFailure >= 0, `never refused: ${summary}`);
      assert.ok(!outcomes.slice(firstFailure).includes("delivered"), `delivered after a refusal: ${summary}`);
      assert.deepEqual(outcomes.slice(-AFTER_STOP), Array(AFTER_STOP).fill("ConnectionRefused"));
    },
  });

  Deno.test({
    name: `cli.ts kick exits 1 once Postfix stops mid-loop, and 0 again after it restarts (${transport})`,
    ignore,
    async fn() {
      await using postfix = await startPostfix({ transport });
      const endpoint = `${transport}:${postfix.publicPath("qmgr")}`;
      const args = ["--timeout", "10000", "--queue-directory", postfix.queueDir, "public", "qmgr", "D"];

      // Kick in a loop; stop the master while the loop runs, without waiting.
      const STOP_AFTER = 3;
      const MAX_KICKS = 100;
      const deadline = Date.now() + 20_000;
      const results: CliResult[] = [];
      let stopping: Promise<void> | undefined;
      try {
        while (results.length < MAX_KICKS && Date.now() < deadline) {
          const result = await kick(args, { quiet: true });
          results.push(result);
          if (result.code !== 0) break;
          if (results.length === STOP_AFTER) {
            // The kicks so far reached qmgr (logged before its postlogd goes down).
            await postfix.waitForLog(/qmgr\[\d+\]: request: 68 \(D\)$/, 5_000, STOP_AFTER);
            stopping = postfix.stopMaster();
          }
        }
      } finally {
        await stopping;
      }
      const codes = results.map((r) => r.code);
      const report = results.map((r) => `${r.code}${r.stderr ? ` ${r.stderr.trim()}` : ""}`).join("; ");
      assert.deepEqual(codes.slice(0, STOP_AFTER), Array(STOP_AFTER).fill(0), report);
      // The loop stops at the first kick that fails (kicks sent while the master was
      // shutting down may still count as delivered): the last one must have failed, saying why.
      const failed = results.at(-1)!;
      assertKickFailed(failed, endpoint, SHUTDOWN_REASON[transport]);
      // Once the master is gone: the stale endpoint's reason.
      const after = await kick(args, { quiet: true });
      assertKickFailed(after, endpoint, REASON[transport]);
      console.log(
        `Postfix stopped mid-loop (${transport}): exit codes ${codes.join(",")}; ` +
          `the failing kick took ${failed.ms.toFixed(0)} ms: "${failed.lines[0]}"`,
      );
      const before = await postfix.log();

      // Same dir, new master: triggers work again and reach the NEW qmgr.
      await postfix.startMaster();
      const again = await kick(args.with(-1, "I"), { quiet: true });
      assert.deepEqual({ code: again.code, stderr: again.stderr }, { code: 0, stderr: "" });
      const line = await postfix.waitForLog(/qmgr\[\d+\]: request: 73 \(I\)$/, 5_000);
      const pid = line.match(/qmgr\[(\d+)\]/)![1];
      assert.doesNotMatch(before, new RegExp(`qmgr\\[${pid}\\]`), `qmgr ${pid} was already running`);
      const result = await trigger(endpoint, "D", { timeout: 5_000 });
      assert.equal(result.transport, transport);
      await postfix.waitForLog(new RegExp(`qmgr\\[${pid}\\]: request: 68 \\(D\\)$`), 5_000);
    },
  });
}
