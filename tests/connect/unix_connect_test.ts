/**
 * Tests for unixConnect(): real UNIX-domain sockets in a fresh temporary
 * directory, a real subprocess for the stale-socket case, and a real full
 * backlog for EAGAIN. No mocks; the resource and op sanitizers (on in
 * deno.json) prove that nothing is left open.
 */
import assert from "node:assert/strict";
import { unixConnect, type UnixConnectOptions } from "../../connect/unix_connect.ts";
import { message, rejection, tempDir, within } from "../_util.ts";

/** Sends `text` one way over the pair and checks it arrives: the connection is real. */
async function roundTrip(from: Deno.Conn, to: Deno.Conn, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  await from.write(bytes);
  const buffer = new Uint8Array(bytes.length);
  let got = 0;
  // Bounded: one read per byte at most.
  for (let i = 0; i < bytes.length && got < bytes.length; i++) {
    const n = await within(to.read(buffer.subarray(got)), 5_000, "read");
    assert.ok(n !== null, "peer closed early");
    got += n;
  }
  assert.equal(new TextDecoder().decode(buffer), text);
}

/**
 * Leaves a stale socket at `path`: a subprocess binds it, then dies of
 * SIGKILL, so nothing unlinks it (Deno's UnixListener.close() would) and
 * nothing listens on it any more.
 */
async function staleSocket(path: string): Promise<void> {
  const code = `
    const listener = Deno.listen({ transport: "unix", path: Deno.args[0] });
    console.log("ready");
    await listener.accept();
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code, path],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // Safety net: a child that never reports ready is killed after 20 s.
  const watchdog = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    // Bounded: the stream ends when the child exits.
    for (let i = 0; i < 100 && !output.includes("\n"); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      output += value;
    }
    assert.equal(output.trim(), "ready", "the child did not start listening");
    child.kill("SIGKILL");
    // Drain to the end so the pipe resource is released.
    for (let i = 0; i < 100; i++) if ((await reader.read()).done) break;
    reader.releaseLock();
  } finally {
    const status = await child.status;
    clearTimeout(watchdog);
    assert.equal(status.signal, "SIGKILL");
  }
  assert.ok((await Deno.lstat(path)).isSocket, "the stale socket file is gone");
}

Deno.test("unixConnect() connects to a listening socket", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/service`;
  using listener = Deno.listen({ transport: "unix", path });
  using conn = await unixConnect(path, { timeout: 5_000 });
  using peer = await within(listener.accept(), 5_000, "accept");
  assert.equal(conn.remoteAddr.transport, "unix");
  assert.equal(conn.remoteAddr.path, path);
  await roundTrip(conn, peer, "W\0");
  await roundTrip(peer, conn, "ok");
});

Deno.test("unixConnect() connects with no options and with only a signal", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s`;
  using listener = Deno.listen({ transport: "unix", path });
  {
    using conn = await unixConnect(path);
    using peer = await within(listener.accept(), 5_000, "accept");
    await roundTrip(conn, peer, "a");
  }
  const controller = new AbortController();
  using conn = await unixConnect(path, { signal: controller.signal });
  using peer = await within(listener.accept(), 5_000, "accept");
  await roundTrip(peer, conn, "b");
  // Aborting after the connect has settled changes nothing.
  controller.abort();
  await roundTrip(conn, peer, "c");
});

Deno.test("unixConnect() accepts a path of 107 bytes, the longest the kernel takes", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/`.padEnd(107, "x");
  assert.equal(new TextEncoder().encode(path).length, 107);
  using listener = Deno.listen({ transport: "unix", path });
  using conn = await unixConnect(path, { timeout: 5_000 });
  using peer = await within(listener.accept(), 5_000, "accept");
  await roundTrip(conn, peer, "x");
});

Deno.test("unixConnect() rejects with NotFound naming the path when nothing exists there", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/missing`;
  const error = await rejection(unixConnect(path, { timeout: 5_000 }));
  assert.ok(error instanceof Deno.errors.NotFound, `got ${String(error)}`);
  assert.ok(message(error).includes(`"unix:${path}"`), message(error));
  assert.ok((error as Error).cause instanceof Deno.errors.NotFound, "the OS error is kept as cause");
});

Deno.test("unixConnect() rejects with ConnectionRefused for a stale socket left by a killed process", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/stale`;
  await staleSocket(path);
  const error = await rejection(unixConnect(path, { timeout: 5_000 }));
  assert.ok(error instanceof Deno.errors.ConnectionRefused, `got ${String(error)}`);
  assert.ok(message(error).includes(`"unix:${path}"`), message(error));
});

Deno.test("unixConnect() rejects with ConnectionRefused for a regular file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/file`;
  await Deno.writeTextFile(path, "not a socket");
  const error = await rejection(unixConnect(path, { timeout: 5_000 }));
  assert.ok(error instanceof Deno.errors.ConnectionRefused, `got ${String(error)}`);
  assert.ok(message(error).includes(path), message(error));
});

Deno.test("unixConnect() rejects with WouldBlock at once when the listener's backlog is full", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/busy`;
  using _listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.UnixConn[] = [];
  let failure: unknown;
  try {
    // The listener never accepts: fill its backlog (bounded at 5000 connects).
    for (let i = 0; i < 5_000 && failure === undefined; i++) {
      try {
        conns.push(await unixConnect(path, { timeout: 5_000 }));
      } catch (error) {
        failure = error;
      }
    }
    assert.ok(conns.length > 0, "not even one connect succeeded");
    assert.ok(failure !== undefined, `5000 connects all succeeded: no EAGAIN on this kernel`);
    assert.ok(failure instanceof Deno.errors.WouldBlock, `got ${String(failure)}`);
    assert.ok(message(failure).includes(`"unix:${path}"`), message(failure));
    console.log(`backlog full after ${conns.length} connections`);

    // It fails at once, it does not wait for the timeout.
    const start = performance.now();
    const again = await rejection(unixConnect(path, { timeout: 10_000 }));
    const elapsed = performance.now() - start;
    assert.ok(again instanceof Deno.errors.WouldBlock, `got ${String(again)}`);
    assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
  } finally {
    for (const conn of conns) conn.close();
  }
});

Deno.test("unixConnect() rejects with TypeError for arguments of the wrong type", async () => {
  const cases: [unknown, unknown][] = [
    [42, {}],
    [undefined, {}],
    [new URL("file:///tmp/x"), {}],
    ["/tmp/x", { timeout: "1000" }],
    ["/tmp/x", { signal: {} }],
    ["/tmp/x", { signal: "abort" }],
  ];
  for (const [path, options] of cases) {
    const error = await rejection(unixConnect(path as string, options as UnixConnectOptions));
    assert.ok(error instanceof TypeError, `${String(path)} ${JSON.stringify(options)}: got ${String(error)}`);
  }
});

Deno.test("unixConnect() rejects with RangeError for an empty, NUL-holding or 108-byte path", async () => {
  await using dir = await tempDir();
  const paths = [
    "",
    `${dir.path}/a\0b`,
    `${dir.path}/`.padEnd(108, "x"),
    `${dir.path}/`.padEnd(200, "x"),
    // 108 bytes in fewer characters: the limit counts bytes.
    `${dir.path}/${"é".repeat(Math.ceil((108 - dir.path.length - 1) / 2))}`,
  ];
  assert.ok(paths[4].length < 108, "the multi-byte path is short in characters");
  for (const path of paths) {
    const error = await rejection(unixConnect(path, { timeout: 5_000 }));
    assert.ok(error instanceof RangeError, `${JSON.stringify(path)}: got ${String(error)}`);
  }
  // Nothing was created on the way.
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("unixConnect() rejects with RangeError for a negative or NaN timeout", async () => {
  for (const timeout of [-1, -0.5, NaN, -Infinity]) {
    const error = await rejection(unixConnect("/tmp/postnet-no-such-socket", { timeout }));
    assert.ok(error instanceof RangeError, `${timeout}: got ${String(error)}`);
    assert.ok(message(error).includes("timeout"), message(error));
  }
});

Deno.test("unixConnect() rejects with signal.reason unchanged when the signal is already aborted", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s`;
  using listener = Deno.listen({ transport: "unix", path });
  const reason = { custom: "reason" };
  const error = await rejection(unixConnect(path, { signal: AbortSignal.abort(reason), timeout: 5_000 }));
  assert.equal(error, reason);
  // Nothing connected: a real client queued after it is the first one accepted.
  using probe = await Deno.connect({ transport: "unix", path });
  using peer = await within(listener.accept(), 5_000, "accept");
  await roundTrip(probe, peer, "first");
});

Deno.test("unixConnect() rejects with signal.reason unchanged when aborted mid-flight, closing the late connection", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s`;
  using listener = Deno.listen({ transport: "unix", path });
  const reason = new Error("caller gave up");
  const controller = new AbortController();
  // The connect is under way when unixConnect() returns its promise.
  const connecting = unixConnect(path, { signal: controller.signal, timeout: 5_000 });
  controller.abort(reason);
  const error = await rejection(connecting);
  assert.equal(error, reason);
  // The late connection was closed: its server side reads EOF.
  using peer = await within(listener.accept(), 5_000, "accept");
  assert.equal(await within(peer.read(new Uint8Array(1)), 5_000, "read"), null);
});

Deno.test("unixConnect() with timeout 0 rejects with a TimeoutError naming the endpoint, and never connects", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s`;
  using listener = Deno.listen({ transport: "unix", path });
  const error = await rejection(unixConnect(path, { timeout: 0 }));
  assert.ok(error instanceof DOMException, `got ${String(error)}`);
  assert.equal(error.name, "TimeoutError");
  assert.ok(error.message.includes(`"unix:${path}"`), error.message);
  // No connection was made: the first one the listener accepts is this marked one.
  using marker = await Deno.connect({ transport: "unix", path });
  await marker.write(new Uint8Array([7]));
  using peer = await within(listener.accept(), 5_000, "accept");
  const byte = new Uint8Array(1);
  assert.equal(await within(peer.read(byte), 5_000, "read"), 1);
  assert.equal(byte[0], 7);
});

Deno.test({
  name: "unixConnect() rejects with NotCapable naming --allow-net=unix: when net is denied",
  permissions: { read: true, write: true, net: false },
  async fn() {
    const path = "/tmp/postnet-denied/socket";
    const error = await rejection(unixConnect(path, { timeout: 5_000 }));
    assert.ok(error instanceof Deno.errors.NotCapable, `got ${String(error)}`);
    assert.ok(message(error).includes(`--allow-net=unix:${path}`), message(error));
    assert.ok(message(error).includes(`"unix:${path}"`), message(error));
  },
});

Deno.test({
  name: "unixConnect() rejects with NotCapable naming an absolute unix: path for a relative path",
  permissions: { read: true, write: true, net: false },
  async fn() {
    const error = await rejection(unixConnect("relative/socket", { timeout: 5_000 }));
    assert.ok(error instanceof Deno.errors.NotCapable, `got ${String(error)}`);
    assert.ok(message(error).includes(`--allow-net=unix:${Deno.cwd()}/relative/socket`), message(error));
  },
});

Deno.test({
  name: "unixConnect() rejects with NotCapable naming --allow-read or --allow-write when they are denied",
  permissions: { read: false, write: true, net: true },
  async fn() {
    const path = "/tmp/postnet-denied/socket";
    const error = await rejection(unixConnect(path, { timeout: 5_000 }));
    assert.ok(error instanceof Deno.errors.NotCapable, `got ${String(error)}`);
    assert.ok(message(error).includes(`--allow-read=${path}`), message(error));
  },
});

Deno.test("unixConnect() connects under the narrowest grant: read, write and net unix: on the path", async () => {
  // Deno.test permissions cannot grant a path created inside the test, so a
  // subprocess runs with exactly the three flags the docs name, and no more.
  await using dir = await tempDir();
  const path = `${dir.path}/s`;
  const script = `${dir.path}/client.ts`;
  const module = new URL("../../connect/unix_connect.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { unixConnect } from ${JSON.stringify(module)};
    using conn = await unixConnect(Deno.args[0], { timeout: 5000 });
    await conn.write(new TextEncoder().encode("granted"));
    `,
  );
  using listener = Deno.listen({ transport: "unix", path });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      "--no-prompt",
      `--allow-read=${path}`,
      `--allow-write=${path}`,
      `--allow-net=unix:${path}`,
      script,
      path,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const accepted = listener.accept();
  // Handled here so a failed assertion below does not also surface as an
  // unhandled rejection when the listener closes; awaiting still throws.
  accepted.catch(() => {});
  const { code, stderr } = await within(child.output(), 30_000, "client");
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  using peer = await within(accepted, 5_000, "accept");
  const buffer = new Uint8Array(16);
  const n = await within(peer.read(buffer), 5_000, "read");
  assert.equal(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), "granted");
});
