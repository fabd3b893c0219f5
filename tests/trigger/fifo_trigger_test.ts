import assert from "node:assert/strict";
import { fifoTrigger } from "../../trigger/fifo_trigger.ts";
import { assertRejectsAsync, fifoReader, mkfifo, tempDir } from "../_util.ts";

Deno.test("fifoTrigger() writes the request with no NUL and reports it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  const result = await fifoTrigger(path, "W", { timeout: 5_000 });
  assert.deepEqual([...fifo.take()], [0x57]);
  assert.deepEqual(Object.keys(result).sort(), ["bytes", "elapsed", "endpoint", "outcome", "peerClosed", "transport"]);
  assert.equal(result.endpoint, `fifo:${path}`);
  assert.equal(result.transport, "fifo");
  assert.equal(result.bytes, 1);
  assert.equal(result.peerClosed, false);
  assert.ok(Number.isFinite(result.elapsed) && result.elapsed >= 0, `elapsed ${result.elapsed}`);
});

Deno.test("fifoTrigger() writes a string as UTF-8 and a Uint8Array as is", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  const cases: [string | Uint8Array, number[]][] = [
    ["I", [0x49]],
    ["é", [0xc3, 0xa9]],
    [Uint8Array.of(0x44, 0, 0x41), [0x44, 0, 0x41]],
    [new Uint8Array(new ArrayBuffer(8), 4, 2).fill(0x46), [0x46, 0x46]],
    ["", []],
    [new Uint8Array(0), []],
  ];
  // Twice over: a repeated string request is encoded once and sent the same.
  for (const [request, expected] of [...cases, ...cases]) {
    const result = await fifoTrigger(path, request);
    assert.deepEqual([...fifo.take()], expected, `request ${JSON.stringify(request)}`);
    assert.equal(result.bytes, expected.length);
  }
});

Deno.test("fifoTrigger() concatenates the requests of several writers in the FIFO", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  for (const request of ["A", "B", "C"]) await fifoTrigger(path, request);
  await Promise.all(["D", "F", "W"].map((request) => fifoTrigger(path, request)));
  assert.equal(new TextDecoder().decode(fifo.take()), "ABCDFW");
});

Deno.test("fifoTrigger() rejects with ConnectionRefused 'no process is listening' at once when no process reads", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    await assert.rejects(fifoTrigger(path, "W", { timeout: 5_000 }), (error: Error) => {
      assert.ok(error instanceof Deno.errors.ConnectionRefused, `${error}`);
      assert.equal(error.message, `Cannot trigger "fifo:${path}": no process is listening`);
      return true;
    });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const median = (times[9] + times[10]) / 2;
  assert.ok(median < 100, `median ${median} ms`);
  assert.ok(times[19] < 2_000, `slowest ${times[19]} ms`);
  console.log(
    `fifoTrigger with no reader fails after ${median.toFixed(3)} ms (median of 20, max ${times[19].toFixed(3)} ms)`,
  );
  // Nothing was left in the FIFO by the failed opens.
  using fifo = fifoReader(path);
  assert.equal(fifo.take().length, 0);
});

Deno.test("fifoTrigger() refuses a symbolic link to a FIFO with PermissionDenied and writes nothing", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const link = `${dir.path}/link`;
  await mkfifo(path);
  await Deno.symlink(path, link);
  using fifo = fifoReader(path);
  await assert.rejects(fifoTrigger(link, "W"), (error: Error) => {
    assert.ok(error instanceof Deno.errors.PermissionDenied, `${error}`);
    assert.ok(error.message.includes(`fifo:${link}`), error.message);
    assert.ok(error.message.includes("symbolic link"), error.message);
    return true;
  });
  assert.equal(fifo.take().length, 0);
  // The FIFO itself still works.
  await fifoTrigger(path, "W");
  assert.deepEqual([...fifo.take()], [0x57]);
});

Deno.test("fifoTrigger() refuses a FIFO with two hard links with PermissionDenied and writes nothing", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const second = `${dir.path}/second`;
  await mkfifo(path);
  await Deno.link(path, second);
  assert.equal((await Deno.lstat(path)).nlink, 2);
  using fifo = fifoReader(path);
  for (const name of [path, second]) {
    await assert.rejects(fifoTrigger(name, "W"), (error: Error) => {
      assert.ok(error instanceof Deno.errors.PermissionDenied, `${error}`);
      assert.ok(error.message.includes(`fifo:${name}`), error.message);
      assert.ok(error.message.includes("2 hard links"), error.message);
      return true;
    });
  }
  assert.equal(fifo.take().length, 0);
});

Deno.test("fifoTrigger() refuses a regular file with InvalidData and leaves its content unchanged", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/file`;
  await Deno.writeTextFile(path, "original");
  const before = await Deno.lstat(path);
  await assert.rejects(fifoTrigger(path, "W"), (error: Error) => {
    assert.ok(error instanceof Deno.errors.InvalidData, `${error}`);
    assert.ok(error.message.includes(`fifo:${path}`), error.message);
    return true;
  });
  assert.equal(await Deno.readTextFile(path), "original");
  const after = await Deno.lstat(path);
  assert.equal(after.size, before.size);
  assert.equal(after.mtime?.getTime(), before.mtime?.getTime());
});

Deno.test("fifoTrigger() refuses a directory and a socket with InvalidData", async () => {
  await using dir = await tempDir();
  await assert.rejects(fifoTrigger(dir.path, "W"), Deno.errors.InvalidData);
  const socket = `${dir.path}/socket`;
  using _listener = Deno.listen({ transport: "unix", path: socket });
  await assert.rejects(fifoTrigger(socket, "W"), Deno.errors.InvalidData);
});

Deno.test("fifoTrigger() rejects with NotFound naming the endpoint when nothing is at the path", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/missing`;
  await assert.rejects(fifoTrigger(path, "W"), (error: Error) => {
    assert.ok(error instanceof Deno.errors.NotFound, `${error}`);
    assert.ok(error.message.includes(`fifo:${path}`), error.message);
    return true;
  });
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing was created");
});

Deno.test("fifoTrigger() rejects with WouldBlock when the FIFO is full and its reader does not read", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  // Fill the pipe (64 KiB by default, at most 1 MiB) with whole requests of 4096 bytes.
  const request = new Uint8Array(4096).fill(0x57);
  let error: unknown;
  let sent = 0;
  for (; sent <= (1 << 20) / 4096 && error === undefined; sent++) {
    error = await fifoTrigger(path, request).then(() => undefined, (e) => e);
  }
  assert.ok(error instanceof Deno.errors.WouldBlock, `${error}`);
  assert.ok(error.message.includes(`fifo:${path}`), error.message);
  assert.ok(error.message.includes("full"), error.message);
  // Every request taken was whole; the refused one wrote nothing.
  assert.equal(fifo.take().length, (sent - 1) * 4096);
});

Deno.test("fifoTrigger() rejects with signal.reason, writing nothing, when the signal is already aborted", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  const reason = new Error("stopped by the caller");
  await assertRejectsAsync(() => fifoTrigger(path, "W", { signal: AbortSignal.abort(reason) }), (e) => e === reason);
  const plain = AbortSignal.abort();
  await assertRejectsAsync(() => fifoTrigger(path, "W", { signal: plain }), (e) => e === plain.reason);
  assert.equal(fifo.take().length, 0);
});

Deno.test("fifoTrigger() rejects (never throws synchronously) with TypeError or RangeError on bad input, before any I/O", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  const call = fifoTrigger as (path: unknown, request: unknown, options?: unknown) => Promise<unknown>;
  const is = (Class: ErrorConstructor) => (error: unknown) => error instanceof Class;
  for (const request of [42, null, undefined, {}, [87], new Uint16Array(1), new ArrayBuffer(1)]) {
    await assertRejectsAsync(() => call(path, request), is(TypeError), `request ${String(request)}`);
  }
  await assertRejectsAsync(() => call(42, "W"), is(TypeError));
  await assertRejectsAsync(() => call("", "W"), is(RangeError));
  await assertRejectsAsync(() => call(`${path}\0x`, "W"), is(RangeError));
  await assertRejectsAsync(() => call(path, "W", { timeout: -1 }), is(RangeError));
  await assertRejectsAsync(() => call(path, "W", { timeout: NaN }), is(RangeError));
  await assertRejectsAsync(() => call(path, "W", { timeout: "1" }), is(TypeError));
  await assertRejectsAsync(() => call(path, "W", { signal: "stop" }), is(TypeError));
  assert.equal(fifo.take().length, 0, "nothing was written");
});

Deno.test({
  name: "fifoTrigger() rejects with NotCapable naming the flag when --allow-read or --allow-write is missing",
  permissions: { read: false, write: false },
  async fn() {
    // The permission check comes first: nothing is opened at this path.
    const path = "/tmp/postnet-no-such-dir/pickup";
    await assertRejectsAsync(
      () => fifoTrigger(path, "W"),
      (error) => error instanceof Deno.errors.NotCapable && error.message.includes(`--allow-read=${path}`),
    );
  },
});

Deno.test({
  name: "fifoTrigger() rejects with NotCapable naming --allow-write when only reading is allowed",
  permissions: { read: true, write: false },
  async fn() {
    const path = "/tmp/postnet-no-such-dir/pickup";
    await assertRejectsAsync(
      () => fifoTrigger(path, "W"),
      (error) => error instanceof Deno.errors.NotCapable && error.message.includes(`--allow-write=${path}`),
    );
  },
});
