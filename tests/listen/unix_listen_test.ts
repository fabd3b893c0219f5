import assert from "node:assert/strict";
import { unixListen } from "../../listen/unix_listen.ts";
import { assertRefused, modeOf, runScript, tempDir, within } from "../_util.ts";

const LIBRARY = new URL("../../listen/unix_listen.ts", import.meta.url).href;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/* Proves a listener works: connects, sends, and finds the bytes on an accepted connection.
 * Connections already queued (such as a closed probe) are skipped, at most `skip` of them. */
async function assertAccepts(listener: Deno.UnixListener, path: string, skip = 0): Promise<void> {
  using client = await Deno.connect({ transport: "unix", path });
  await client.write(encoder.encode("ping"));
  for (let i = 0; i <= skip; i++) {
    using peer = await within(listener.accept(), 5_000, "accept");
    const buffer = new Uint8Array(16);
    const n = await within(peer.read(buffer), 5_000, "read");
    if (n === null) continue;
    assert.equal(decoder.decode(buffer.subarray(0, n)), "ping");
    return;
  }
  assert.fail(`no connection carried the bytes within ${skip + 1} accepts`);
}

Deno.test("unixListen() listens on a new socket with mode 0o666 and accepts a connection", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/service`;
  using listener = await unixListen(path);
  assert.equal(listener.addr.transport, "unix");
  assert.equal(listener.addr.path, path);
  assert.ok((await Deno.lstat(path)).isSocket);
  assert.equal(await modeOf(path), 0o666);
  await assertAccepts(listener, path);
});

Deno.test("unixListen() applies an exact custom mode", async () => {
  await using dir = await tempDir();
  for (const mode of [0o600, 0o660, 0o622, 0o777, 0]) {
    const path = `${dir.path}/mode-${mode.toString(8)}`;
    using _listener = await unixListen(path, { mode });
    assert.equal(await modeOf(path), mode, mode.toString(8));
  }
});

Deno.test("unixListen() applies the mode whatever the umask (077 and 000)", async () => {
  await using dir = await tempDir();
  const script = `
import { unixListen } from ${JSON.stringify(LIBRARY)};
const [dir, ...modes] = Deno.args;
const result = {};
for (const text of modes) {
  const path = \`\${dir}/sock-\${text}\`;
  using _listener = await unixListen(path, text === "default" ? {} : { mode: parseInt(text, 8) });
  result[text] = (await Deno.lstat(path)).mode & 0o7777;
}
console.log(JSON.stringify(result));
`;
  for (const umask of ["077", "000"]) {
    const result = await runScript(dir.path, script, ["-A"], [dir.path, "default", "600", "660", "666"], umask);
    assert.equal(result.timedOut, false);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { default: 0o666, 600: 0o600, 660: 0o660, 666: 0o666 }, umask);
  }
});

Deno.test("unixListen() refuses a regular file with AlreadyExists and leaves it intact", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/service`;
  await Deno.writeTextFile(path, "precious data\n");
  await Deno.chmod(path, 0o640);
  await assertRefused(unixListen(path), Deno.errors.AlreadyExists, `unix:${path}`, "a regular file");
  assert.equal(await Deno.readTextFile(path), "precious data\n");
  assert.equal(await modeOf(path), 0o640);
});

Deno.test("unixListen() refuses a directory with AlreadyExists and leaves it intact", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/service`;
  await Deno.mkdir(path);
  await Deno.writeTextFile(`${path}/inside`, "x");
  await assertRefused(unixListen(path), Deno.errors.AlreadyExists, `unix:${path}`, "a directory");
  assert.ok((await Deno.lstat(path)).isDirectory);
  assert.equal(await Deno.readTextFile(`${path}/inside`), "x");
});

Deno.test("unixListen() refuses a symbolic link with AlreadyExists and leaves link and target intact", async () => {
  await using dir = await tempDir();
  const target = `${dir.path}/target`;
  await Deno.writeTextFile(target, "target data");
  const targets = [target, `${dir.path}/missing`];
  for (const [i, to] of targets.entries()) {
    const path = `${dir.path}/link-${i}`;
    await Deno.symlink(to, path);
    await assertRefused(unixListen(path), Deno.errors.AlreadyExists, `unix:${path}`, "a symbolic link");
    assert.ok((await Deno.lstat(path)).isSymlink);
    assert.equal(await Deno.readLink(path), to);
  }
  assert.equal(await Deno.readTextFile(target), "target data");
});

Deno.test("unixListen() refuses a symbolic link to a live socket and leaves the socket working", async () => {
  await using dir = await tempDir();
  const socket = `${dir.path}/socket`;
  const path = `${dir.path}/link`;
  using live = Deno.listen({ transport: "unix", path: socket });
  await Deno.symlink(socket, path);
  await assertRefused(unixListen(path), Deno.errors.AlreadyExists, `unix:${path}`, "a symbolic link");
  assert.ok((await Deno.lstat(path)).isSymlink);
  await assertAccepts(live, socket);
});

Deno.test("unixListen() refuses a live listener's socket with AddrInUse and the listener keeps working", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/service`;
  using live = Deno.listen({ transport: "unix", path });
  const before = await Deno.lstat(path);
  await assertRefused(unixListen(path), Deno.errors.AddrInUse, `unix:${path}`, "a process is listening");
  const after = await Deno.lstat(path);
  assert.ok(after.isSocket);
  assert.equal(after.ino, before.ino);
  // The refusal probed the socket with one connection: skip it.
  await assertAccepts(live, path, 1);
});

Deno.test("unixListen() reclaims a stale socket left by a process killed with SIGKILL", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/service`;
  const script = `${dir.path}/holder.ts`;
  await Deno.writeTextFile(
    script,
    `const listener = Deno.listen({ transport: "unix", path: Deno.args[0] });
console.log("ready");
for await (const conn of listener) conn.close();
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "-A", script, path],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  // Kill it by PID if it never says it is ready, so the read below ends.
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  let said = "";
  try {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      said += chunk;
      if (said.includes("ready\n")) break;
    }
  } finally {
    clearTimeout(timer);
  }
  if (said === "ready\n") child.kill("SIGKILL");
  const status = await child.status;
  assert.equal(said, "ready\n");
  assert.equal(status.signal, "SIGKILL");
  // The killed process could not remove its socket.
  assert.ok((await Deno.lstat(path)).isSocket);

  using listener = await unixListen(path);
  assert.equal(await modeOf(path), 0o666);
  await assertAccepts(listener, path);
});

Deno.test("unixListen() takes a path of 107 bytes and refuses 108 or more with RangeError", async () => {
  await using dir = await tempDir();
  const prefix = `${dir.path}/`;
  const fill = (bytes: number) => prefix + "s".repeat(bytes - encoder.encode(prefix).length);
  const longest = fill(107);
  assert.equal(encoder.encode(longest).length, 107);
  {
    using listener = await unixListen(longest);
    await assertAccepts(listener, longest);
  }
  for (const path of [fill(108), fill(200), `${fill(106)}é`]) {
    await assert.rejects(
      unixListen(path),
      (error: unknown) => error instanceof RangeError && /108|107/.test(error.message),
      path,
    );
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  }
});

Deno.test("unixListen() throws NotFound naming the path when the directory does not exist", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/no-such-dir/service`;
  await assertRefused(unixListen(path), Deno.errors.NotFound, `unix:${path}`, /./);
  await assert.rejects(Deno.lstat(`${dir.path}/no-such-dir`), Deno.errors.NotFound);
});

Deno.test("unixListen() close() removes the socket, and the path can be listened on again", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/service`;
  const listener = await unixListen(path);
  assert.ok((await Deno.lstat(path)).isSocket);
  listener.close();
  await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  await assert.rejects(Deno.connect({ transport: "unix", path }), Deno.errors.NotFound);
  using again = await unixListen(path, { mode: 0o600 });
  assert.equal(await modeOf(path), 0o600);
  await assertAccepts(again, path);
});

Deno.test({
  name: "unixListen() rejects bad arguments before any I/O",
  // No permission at all: every one of these must fail before the permission checks.
  permissions: { read: false, write: false, net: false },
  async fn() {
    const call = unixListen as (path: unknown, options?: unknown) => Promise<Deno.UnixListener>;
    for (const path of [42, null, undefined, {}, new URL("file:///tmp/x")]) {
      await assert.rejects(call(path), TypeError, String(path));
    }
    await assert.rejects(call(""), RangeError);
    await assert.rejects(call("/tmp/a\0b"), RangeError);
    for (const mode of [-1, 0o10000, 1.5, NaN]) {
      await assert.rejects(
        call("/tmp/postnet-never", { mode }),
        (error: unknown) => error instanceof RangeError && /mode/.test(error.message),
        String(mode),
      );
    }
    await assert.rejects(call("/tmp/postnet-never", { mode: "666" }), TypeError);
    await assert.rejects(call("/tmp/postnet-never", { probeTimeout: -1 }), RangeError);
    await assert.rejects(call("/tmp/postnet-never", { probeTimeout: "1" }), TypeError);
  },
});

Deno.test({
  name: "unixListen() throws NotCapable naming --allow-net=unix:PATH without net permission",
  permissions: { read: true, write: true, net: false },
  async fn() {
    await using dir = await tempDir();
    const path = `${dir.path}/service`;
    await assertRefused(unixListen(path), Deno.errors.NotCapable, `unix:${path}`, `--allow-net=unix:${path}`);
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "unixListen() throws NotCapable naming --allow-read=PATH without read permission",
  permissions: { read: false, write: true, net: true },
  async fn() {
    const path = "/tmp/postnet-no-such-dir/service";
    await assertRefused(unixListen(path), Deno.errors.NotCapable, `unix:${path}`, `--allow-read=${path}`);
  },
});

Deno.test({
  name: "unixListen() throws NotCapable naming --allow-write=PATH without write permission",
  permissions: { read: true, write: false, net: true },
  async fn() {
    const path = "/tmp/postnet-no-such-dir/service";
    await assertRefused(unixListen(path), Deno.errors.NotCapable, `unix:${path}`, `--allow-write=${path}`);
  },
});

Deno.test("unixListen() works with the narrowest grant, for absolute and relative paths", async () => {
  await using dir = await tempDir();
  const script = `
import { unixListen } from ${JSON.stringify(LIBRARY)};
for (const path of Deno.args) {
  using listener = await unixListen(path, { mode: 0o640 });
  console.log(JSON.stringify([path, listener.addr.path, (await Deno.lstat(path)).mode & 0o7777]));
}
`;
  const absolute = `${dir.path}/abs.sock`;
  const relative = "rel.sock";
  const flags = [
    `--allow-read=${absolute},${relative},${dir.path}/script.ts`,
    `--allow-write=${absolute},${relative}`,
    `--allow-net=unix:${absolute},unix:${dir.path}/${relative}`,
  ];
  const result = await runScript(dir.path, script, flags, [absolute, relative]);
  assert.equal(result.timedOut, false);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line));
  // Deno reports the absolute path of a socket given by a relative one.
  assert.deepEqual(lines, [[absolute, absolute, 0o640], [relative, `${dir.path}/${relative}`, 0o640]]);
  // Each listener removed its socket on close.
  await assert.rejects(Deno.lstat(absolute), Deno.errors.NotFound);
  await assert.rejects(Deno.lstat(`${dir.path}/${relative}`), Deno.errors.NotFound);
});
