/**
 * The REAL `postkick` triggers OUR servers: `serveTriggers()` and
 * `cli.ts watch` at `$queue_directory/public/qmgr` of a config dir made by
 * makeClientConfig(), as a socket and as a FIFO. No Postfix daemon runs.
 */
import assert from "node:assert/strict";
import { serveTriggers, type TriggerRequest } from "../../mod.ts";
import { within } from "../_util.ts";
import { CliWatch } from "./_cli.ts";
import { makeClientConfig, postkick, type PostkickResult, skipUnlessPostfix } from "./_postfix.ts";

const ignore = skipUnlessPostfix();
const decoder = new TextDecoder();
const RUNS = 100;

/** A queue dir with `public/` and a config dir pointing postkick at it, removed on disposal. */
async function clientQueue(): Promise<{ dir: string; configDir: string; qmgr: string } & AsyncDisposable> {
  // Under /tmp: the CLI's permission set grants /tmp.
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "postnet-interop-" });
  try {
    await Deno.mkdir(`${dir}/public`);
    const configDir = await makeClientConfig(dir);
    return {
      dir,
      configDir,
      qmgr: `${dir}/public/qmgr`,
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

/** What a server received, with a bounded wait for the n-th trigger. */
class Received {
  readonly triggers: TriggerRequest[] = [];
  readonly errors: unknown[] = [];
  #changed = Promise.withResolvers<void>();

  handler = (trigger: TriggerRequest): void => {
    this.triggers.push(trigger);
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  };

  onError = (error: unknown): void => {
    this.errors.push(error);
  };

  async waitFor(count: number, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.triggers.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.triggers.length} of ${count} triggers arrived in ${timeoutMs} ms`);
      await within(this.#changed.promise, left, "trigger").catch(() => {});
    }
  }
}

function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

const OK: PostkickResult = { code: 0, signal: null, stderr: "", timedOut: false };

for (const transport of ["unix", "fifo"] as const) {
  Deno.test({
    name: `serveTriggers() receives the real postkick's request intact (${transport})`,
    ignore,
    async fn() {
      await using queue = await clientQueue();
      const received = new Received();
      await using server = await serveTriggers(`${transport}:${queue.qmgr}`, received.handler, {
        onError: received.onError,
      });
      assert.equal(server.endpoint, `${transport}:${queue.qmgr}`);

      const result = await postkick(queue.configDir, "public", "qmgr", "I");
      assert.deepEqual(result, OK);
      await received.waitFor(1);
      await server.close();

      assert.deepEqual(received.errors, []);
      assert.equal(received.triggers.length, 1);
      const [got] = received.triggers;
      assert.equal(got.transport, transport);
      assert.equal(got.endpoint, `${transport}:${queue.qmgr}`);
      assert.equal(text(got.request), "I");
      // postkick ends a stream request with a NUL; a FIFO request has none.
      assert.equal(text(got.data), transport === "unix" ? "I\0" : "I");
    },
  });
}

Deno.test({
  name: `serveTriggers() lets the real postkick exit 0 in ${RUNS} of ${RUNS} runs (unix)`,
  ignore,
  async fn() {
    await using queue = await clientQueue();
    const received = new Received();
    await using server = await serveTriggers(`unix:${queue.qmgr}`, received.handler, {
      onError: received.onError,
    });

    // Postfix's own server closes after ONE read, racing postkick's second
    // write (the NUL): postkick then dies of SIGPIPE. Ours reads to the NUL.
    const outcomes = new Map<string, number>();
    const started = performance.now();
    for (let run = 0; run < RUNS; run++) {
      const result = await postkick(queue.configDir, "public", "qmgr", "I");
      const key = result.signal ?? (result.timedOut ? "timeout" : `exit ${result.code}`);
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    const elapsed = performance.now() - started;
    await received.waitFor(RUNS);
    await server.close();

    console.log(
      `postkick -> serveTriggers(unix): ${JSON.stringify(Object.fromEntries(outcomes))} ` +
        `in ${RUNS} runs, ${(elapsed / RUNS).toFixed(2)} ms per postkick`,
    );
    assert.deepEqual(Object.fromEntries(outcomes), { "exit 0": RUNS });
    assert.deepEqual(received.errors, []);
    assert.equal(received.triggers.length, RUNS);
    for (const got of received.triggers) assert.equal(text(got.data), "I\0");
  },
});

for (const transport of ["unix", "fifo"] as const) {
  Deno.test({
    name: `cli.ts watch prints one JSON line per real postkick trigger (${transport})`,
    ignore,
    async fn() {
      await using queue = await clientQueue();
      const requests = ["I", "D", "W"];
      await using watch = new CliWatch(["--count", String(requests.length), `${transport}:${queue.qmgr}`]);
      assert.equal(await watch.ready(), `${transport}:${queue.qmgr}`);

      for (const request of requests) {
        assert.deepEqual(await postkick(queue.configDir, "public", "qmgr", request), OK);
        // One at a time: FIFO writes that arrive together are one chunk, one line.
        const line = JSON.parse(await watch.nextLine());
        assert.deepEqual(line, {
          transport,
          endpoint: `${transport}:${queue.qmgr}`,
          request,
          bytes: transport === "unix" ? 2 : 1,
          hex: `${request.charCodeAt(0).toString(16)}${transport === "unix" ? "00" : ""}`,
        });
      }

      const done = await watch.finished();
      assert.equal(done.timedOut, false);
      assert.equal(done.code, 0, done.stderr);
      assert.equal(done.lines.length, requests.length, `extra output: ${done.lines}`);
      // It removes the socket or FIFO it created.
      await assert.rejects(Deno.lstat(queue.qmgr), Deno.errors.NotFound);
    },
  });
}
