import assert from "node:assert/strict";
import { trigger } from "../../trigger/trigger.ts";
import { acceptRequest, fifoReader, mkfifo, tempDir, within } from "../_util.ts";

Deno.test("trigger() sends to inet:HOST:PORT over TCP with a NUL", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const endpoint = `inet:127.0.0.1:${listener.addr.port}`;
  const [received, result] = await Promise.all([acceptRequest(listener), trigger(endpoint, "W", { timeout: 5_000 })]);
  assert.deepEqual([...received], [0x57, 0]);
  assert.equal(result.transport, "inet");
  assert.equal(result.endpoint, endpoint);
  assert.equal(result.bytes, 2);
  assert.equal(result.peerClosed, true);
});

Deno.test("trigger() sends to unix:PATH over a UNIX-domain socket with a NUL", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = Deno.listen({ transport: "unix", path });
  const [received, result] = await Promise.all([
    acceptRequest(listener),
    trigger(`unix:${path}`, "I", { timeout: 5_000 }),
  ]);
  assert.deepEqual([...received], [0x49, 0]);
  assert.equal(result.transport, "unix");
  assert.equal(result.endpoint, `unix:${path}`);
  assert.equal(result.bytes, 2);
});

Deno.test("trigger() sends to fifo:PATH without a NUL", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  const result = await trigger(`fifo:${path}`, "W", { timeout: 5_000 });
  assert.deepEqual([...fifo.take()], [0x57]);
  assert.equal(result.transport, "fifo");
  assert.equal(result.endpoint, `fifo:${path}`);
  assert.equal(result.bytes, 1);
  assert.equal(result.peerClosed, false);
});

Deno.test("trigger() picks unix for a bare path to a socket, as postkick does", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = Deno.listen({ transport: "unix", path });
  const [received, result] = await Promise.all([acceptRequest(listener), trigger(path, "D", { timeout: 5_000 })]);
  assert.deepEqual([...received], [0x44, 0]);
  assert.equal(result.transport, "unix");
  assert.equal(result.endpoint, `unix:${path}`);
});

Deno.test("trigger() picks fifo for a bare path to a FIFO, as postkick does", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  const result = await trigger(path, "D", { timeout: 5_000 });
  assert.deepEqual([...fifo.take()], [0x44]);
  assert.equal(result.transport, "fifo");
  assert.equal(result.endpoint, `fifo:${path}`);
});

Deno.test("trigger() rejects a bare path to a regular file or a directory with InvalidData, touching nothing", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/file`;
  await Deno.writeTextFile(file, "content");
  for (const path of [file, dir.path]) {
    await assert.rejects(trigger(path, "W"), (error: Error) => {
      assert.ok(error instanceof Deno.errors.InvalidData, `${error}`);
      assert.ok(error.message.includes(`"${path}"`), error.message);
      assert.ok(error.message.includes("neither a socket nor a FIFO"), error.message);
      return true;
    });
  }
  assert.equal(await Deno.readTextFile(file), "content");
});

Deno.test("trigger() rejects a bare path with nothing there with NotFound naming the path", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/missing`;
  await assert.rejects(trigger(path, "W"), (error: Error) => {
    assert.ok(error instanceof Deno.errors.NotFound, `${error}`);
    assert.ok(error.message.includes(path), error.message);
    return true;
  });
});

Deno.test("trigger() takes ./a:b as a relative path, not as a transport prefix", async () => {
  // Relative to this process's directory: nothing is there, so the path is looked up and not found.
  await assert.rejects(trigger("./postnet-no-such-dir/a:b", "W"), (error: Error) => {
    assert.ok(error instanceof Deno.errors.NotFound, `${error}`);
    assert.ok(error.message.includes("./postnet-no-such-dir/a:b"), error.message);
    return true;
  });
  // And it reaches a socket named a:b relative to the working directory of a real client process.
  await using dir = await tempDir();
  using listener = Deno.listen({ transport: "unix", path: `${dir.path}/a:b` });
  const client = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const { trigger } = await import(${JSON.stringify(new URL("../../trigger/trigger.ts", import.meta.url).href)});
       const result = await trigger("./a:b", "W", { timeout: 5000 });
       console.log(result.transport, result.endpoint);`,
    ],
    cwd: dir.path,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const [received, output] = await Promise.all([acceptRequest(listener), within(client, 30_000, "client")]);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.deepEqual([...received], [0x57, 0]);
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "unix unix:./a:b");
});

Deno.test("trigger() throws SyntaxError for an unknown prefix such as tcp:x, before any I/O", async () => {
  await using dir = await tempDir();
  // Each endpoint names a live socket (or its port) behind the unknown prefix:
  // a parser that dropped the prefix, or took the rest as a path, would reach it.
  const path = `${dir.path}/sock`;
  using listener = Deno.listen({ transport: "unix", path });
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const endpoints = ["tcp:x", `udp:127.0.0.1:${tcp.addr.port}`, `file:${path}`, `tcp:${path}`, "a:b"];
  for (const endpoint of endpoints) {
    await assert.rejects(trigger(endpoint, "W"), (error: Error) => {
      assert.ok(error instanceof SyntaxError, `${endpoint}: ${error}`);
      assert.ok(error.message.includes(endpoint), error.message);
      return true;
    });
  }
  // None of these connected: the first connection each listener sees is ours.
  const [unixReceived] = await Promise.all([
    acceptRequest(listener),
    trigger(`unix:${path}`, "ok", { timeout: 5_000 }),
  ]);
  assert.deepEqual([...unixReceived], [0x6f, 0x6b, 0]);
  const [tcpReceived] = await Promise.all([
    acceptRequest(tcp),
    trigger(`inet:127.0.0.1:${tcp.addr.port}`, "ok", { timeout: 5_000 }),
  ]);
  assert.deepEqual([...tcpReceived], [0x6f, 0x6b, 0]);
});

Deno.test("trigger() throws on bad syntax and bad arguments before any I/O", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const call = trigger as (endpoint: unknown, request: unknown, options?: unknown) => Promise<unknown>;
  const good = `inet:127.0.0.1:${listener.addr.port}`;
  await assert.rejects(call("inet:host:", "W"), SyntaxError);
  await assert.rejects(call("inet:[127.0.0.1]x", "W"), SyntaxError);
  await assert.rejects(call("inet:127.0.0.1", "W"), SyntaxError);
  await assert.rejects(call("inet:127.0.0.1:70000", "W"), RangeError);
  await assert.rejects(call("unix:", "W"), RangeError);
  await assert.rejects(call("fifo:", "W"), RangeError);
  await assert.rejects(call("", "W"), RangeError);
  await assert.rejects(call(`unix:/tmp/${"x".repeat(120)}`, "W"), RangeError);
  await assert.rejects(call(42, "W"), TypeError);
  await assert.rejects(call(good, 42), TypeError);
  await assert.rejects(call(good, "W", { timeout: -5 }), RangeError);
  await assert.rejects(call(good, "W", { signal: 1 }), TypeError);
  // None of these connected: the first connection the listener sees is this one.
  const [received] = await Promise.all([acceptRequest(listener), trigger(good, "ok", { timeout: 5_000 })]);
  assert.deepEqual([...received], [0x6f, 0x6b, 0]);
});

Deno.test("trigger() passes the signal to every transport", async () => {
  await using dir = await tempDir();
  const fifo = `${dir.path}/fifo`;
  await mkfifo(fifo);
  using reader = fifoReader(fifo);
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using _unix = Deno.listen({ transport: "unix", path: `${dir.path}/sock` });
  const reason = new Error("aborted");
  const signal = AbortSignal.abort(reason);
  for (const endpoint of [`inet:127.0.0.1:${tcp.addr.port}`, `unix:${dir.path}/sock`, `fifo:${fifo}`, fifo]) {
    await assert.rejects(trigger(endpoint, "W", { signal }), (error) => error === reason, endpoint);
  }
  assert.equal(reader.take().length, 0);
});

Deno.test("trigger() resolves at the timeout with peerClosed false when a unix server never closes", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  using listener = Deno.listen({ transport: "unix", path });
  const accepted = listener.accept();
  try {
    const result = await within(trigger(path, "W", { timeout: 200 }), 2_200, "trigger");
    assert.equal(result.peerClosed, false);
    assert.ok(result.elapsed >= 199, `elapsed ${result.elapsed}`);
  } finally {
    (await within(accepted, 5_000, "accept")).close();
  }
});

Deno.test("trigger() rejects a fifo: endpoint that is a socket with InvalidData", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/sock`;
  using _listener = Deno.listen({ transport: "unix", path });
  await assert.rejects(trigger(`fifo:${path}`, "W"), Deno.errors.InvalidData);
});

Deno.test({
  name: "trigger() rejects a bare path with NotCapable naming --allow-read when reading is not allowed",
  permissions: { read: false },
  async fn() {
    const path = "/tmp/postnet-no-such-dir/qmgr";
    await assert.rejects(trigger(path, "W"), (error: Error) => {
      assert.ok(error instanceof Deno.errors.NotCapable, `${error}`);
      assert.ok(error.message.includes(`--allow-read=${path}`), error.message);
      return true;
    });
  },
});
