import assert from "node:assert/strict";
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { fifoListen, type FifoListener } from "../../listen/fifo_listen.ts";
import { assertRefused, mkfifo, modeOf, runScript, tempDir, within } from "../_util.ts";

const LIBRARY = new URL("../../listen/fifo_listen.ts", import.meta.url).href;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/* Writes `text` as a Postfix fifo_trigger does: a non-blocking open, one write, close. */
function writeNonBlocking(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, encoder.encode(text));
  } finally {
    closeSync(fd);
  }
}

/* read(), failing instead of hanging when it does not settle within `ms`. */
async function readWithin(fifo: FifoListener, ms = 5_000): Promise<string | null> {
  const chunk = await within(fifo.read(), ms, "read()");
  return chunk === null ? null : decoder.decode(chunk);
}

Deno.test("fifoListen() creates a FIFO with mode 0o622 and reads what a writer wrote", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await using fifo = await fifoListen(path);
  assert.equal(fifo.path, path);
  assert.equal(fifo.created, true);
  assert.ok((await Deno.lstat(path)).isFifo);
  assert.equal(await modeOf(path), 0o622);
  writeNonBlocking(path, "W");
  assert.equal(await readWithin(fifo), "W");
  // A blocking writer's open succeeds too: the listener is a reader.
  await Deno.writeTextFile(path, "I");
  assert.equal(await readWithin(fifo), "I");
});

Deno.test("fifoListen() creates a FIFO with an exact custom mode", async () => {
  await using dir = await tempDir();
  for (const mode of [0o600, 0o660, 0o666, 0o620, 0o777]) {
    const path = `${dir.path}/fifo-${mode.toString(8)}`;
    await using fifo = await fifoListen(path, { mode });
    assert.equal(fifo.created, true);
    assert.equal(await modeOf(path), mode, mode.toString(8));
  }
});

Deno.test("fifoListen() applies the mode whatever the umask (077 and 000)", async () => {
  await using dir = await tempDir();
  const script = `
import { fifoListen } from ${JSON.stringify(LIBRARY)};
const [dir, ...modes] = Deno.args;
const result = {};
for (const text of modes) {
  const path = \`\${dir}/fifo-\${text}\`;
  await using _fifo = await fifoListen(path, text === "default" ? {} : { mode: parseInt(text, 8) });
  result[text] = (await Deno.lstat(path)).mode & 0o7777;
}
console.log(JSON.stringify(result));
`;
  for (const umask of ["077", "000"]) {
    const result = await runScript(dir.path, script, ["-A"], [dir.path, "default", "600", "660", "666"], umask);
    assert.equal(result.timedOut, false);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { default: 0o622, 600: 0o600, 660: 0o660, 666: 0o666 }, umask);
  }
});

Deno.test("fifoListen() reuses an existing FIFO, keeps its mode and leaves it on close", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  await mkfifo(path, 0o640);
  const before = await Deno.lstat(path);
  {
    await using fifo = await fifoListen(path, { mode: 0o666 });
    assert.equal(fifo.created, false);
    assert.equal(await modeOf(path), 0o640);
    writeNonBlocking(path, "D");
    assert.equal(await readWithin(fifo), "D");
  }
  const after = await Deno.lstat(path);
  assert.ok(after.isFifo);
  assert.equal(after.ino, before.ino);
  assert.equal(await modeOf(path), 0o640);
});

Deno.test("fifoListen() close() removes a FIFO it created", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const fifo = await fifoListen(path);
  assert.ok((await Deno.lstat(path)).isFifo);
  await fifo.close();
  await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  // A second close is harmless.
  await fifo.close();
});

Deno.test("fifoListen() close() leaves a FIFO put at the path after it was created", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const fifo = await fifoListen(path);
  await Deno.remove(path);
  await mkfifo(path, 0o600);
  const replacement = await Deno.lstat(path);
  await fifo.close();
  const after = await Deno.lstat(path);
  assert.equal(after.ino, replacement.ino);
});

Deno.test("fifoListen() refuses a regular file, a directory and symbolic links, and leaves them intact", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/file`;
  await Deno.writeTextFile(file, "precious data\n");
  await Deno.chmod(file, 0o640);
  await assertRefused(fifoListen(file), Deno.errors.AlreadyExists, `fifo:${file}`, "a regular file");
  assert.equal(await Deno.readTextFile(file), "precious data\n");
  assert.equal(await modeOf(file), 0o640);

  const directory = `${dir.path}/directory`;
  await Deno.mkdir(directory);
  await Deno.writeTextFile(`${directory}/inside`, "x");
  await assertRefused(fifoListen(directory), Deno.errors.AlreadyExists, `fifo:${directory}`, "a directory");
  assert.equal(await Deno.readTextFile(`${directory}/inside`), "x");

  const fifo = `${dir.path}/real-fifo`;
  await mkfifo(fifo, 0o600);
  for (const [name, target] of [["to-fifo", fifo], ["to-file", file], ["dangling", `${dir.path}/missing`]]) {
    const link = `${dir.path}/${name}`;
    await Deno.symlink(target, link);
    await assertRefused(fifoListen(link), Deno.errors.AlreadyExists, `fifo:${link}`, "a symbolic link");
    assert.ok((await Deno.lstat(link)).isSymlink);
    assert.equal(await Deno.readLink(link), target);
  }
  assert.ok((await Deno.lstat(fifo)).isFifo);
  assert.equal(await modeOf(fifo), 0o600);
  assert.equal(await Deno.readTextFile(file), "precious data\n");
});

Deno.test("fifoListen() refuses a socket with AlreadyExists and leaves it working", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/socket`;
  using live = Deno.listen({ transport: "unix", path });
  await assertRefused(fifoListen(path), Deno.errors.AlreadyExists, `fifo:${path}`, "a socket");
  using client = await Deno.connect({ transport: "unix", path });
  using _peer = await live.accept();
  assert.ok((await Deno.lstat(path)).isSocket);
  assert.equal(client.remoteAddr.transport, "unix");
});

Deno.test("fifoListen() throws NotFound naming the path when the directory does not exist", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/no-such-dir/pickup`;
  await assertRefused(fifoListen(path), Deno.errors.NotFound, `fifo:${path}`, "mkfifo");
  await assert.rejects(Deno.lstat(`${dir.path}/no-such-dir`), Deno.errors.NotFound);
});

Deno.test("fifoListen() drains bytes left in the FIFO before it listened", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  await mkfifo(path, 0o622);
  // A reader that went away left stale bytes, kept in the pipe by a writer that still holds it.
  const reader = openSync(path, constants.O_RDWR);
  writeSync(reader, encoder.encode("stale stale stale"));
  const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  closeSync(reader);
  try {
    await using fifo = await fifoListen(path);
    assert.equal(fifo.created, false);
    writeNonBlocking(path, "fresh");
    assert.equal(await readWithin(fifo), "fresh");
  } finally {
    closeSync(writer);
  }
});

Deno.test("fifoListen() read() returns back-to-back writes of several writers as one chunk", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await using fifo = await fifoListen(path);
  writeNonBlocking(path, "A");
  writeNonBlocking(path, "BB");
  writeNonBlocking(path, "CCC");
  assert.equal(await readWithin(fifo), "ABBCCC");
  // A read that was pending when the bytes came returns them too.
  const pending = readWithin(fifo);
  writeNonBlocking(path, "D");
  assert.equal(await pending, "D");
});

Deno.test("fifoListen() read() returns at most readSize bytes per chunk", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await using fifo = await fifoListen(path, { readSize: 2 });
  writeNonBlocking(path, "ABCDE");
  assert.equal(await readWithin(fifo), "AB");
  assert.equal(await readWithin(fifo), "CD");
  assert.equal(await readWithin(fifo), "E");
});

Deno.test("fifoListen() read() rejects a second concurrent read with Busy", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await using fifo = await fifoListen(path);
  const first = fifo.read();
  await assert.rejects(fifo.read(), Deno.errors.Busy);
  writeNonBlocking(path, "X");
  const chunk = await within(first, 5_000, "the first read");
  assert.equal(decoder.decode(chunk!), "X");
});

Deno.test("fifoListen() yields chunks to for await, which ends when the listener closes", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const fifo = await fifoListen(path);
  const chunks: string[] = [];
  const { promise: gotOne, resolve } = Promise.withResolvers<void>();
  const iterating = (async () => {
    for await (const chunk of fifo) {
      chunks.push(decoder.decode(chunk));
      resolve();
    }
  })();
  writeNonBlocking(path, "one");
  await within(gotOne, 5_000, "the first chunk");
  await within(fifo.close(), 1_000, "close()");
  await within(iterating, 1_000, "the iteration");
  assert.deepEqual(chunks, ["one"]);
});

Deno.test("fifoListen() for await can stop early with break and the listener stays usable", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await using fifo = await fifoListen(path);
  writeNonBlocking(path, "first");
  for await (const chunk of fifo) {
    assert.equal(decoder.decode(chunk), "first");
    break;
  }
  writeNonBlocking(path, "second");
  assert.equal(await readWithin(fifo), "second");
});

Deno.test("fifoListen() close() ends a pending read with null within 1 s, and read() after close is null", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const fifo = await fifoListen(path);
  const pending = fifo.read();
  // Let the read reach its blocking thread.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await within(fifo.close(), 1_000, "close()");
  assert.equal(await within(pending, 1_000, "the pending read"), null);
  assert.equal(await fifo.read(), null);
  await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
});

Deno.test("fifoListen() close() lets a pending read return the bytes written before it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const fifo = await fifoListen(path);
  const pending = fifo.read();
  writeNonBlocking(path, "Q");
  await within(fifo.close(), 1_000, "close()");
  const chunk = await within(pending, 1_000, "the pending read");
  assert.equal(chunk === null ? null : decoder.decode(chunk), "Q");
  assert.equal(await fifo.read(), null);
});

Deno.test("fifoListen() close() keeps the NUL bytes inside what writers put in the FIFO before it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  // close() races the pending read; repeat so both orders happen.
  for (let i = 0; i < 40; i++) {
    const fifo = await fifoListen(path);
    const pending = fifo.read();
    await new Promise((resolve) => setTimeout(resolve, 1));
    writeNonBlocking(path, "A\0B");
    await within(fifo.close(), 1_000, "close()");
    const chunk = await within(pending, 1_000, "the pending read");
    assert.deepEqual(chunk && [...chunk], [65, 0, 66], `round ${i}`);
  }
});

Deno.test("fifoListen() close() ends a pending read even after the FIFO was removed from its path", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  const fifo = await fifoListen(path);
  const pending = fifo.read();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await Deno.remove(path);
  await within(fifo.close(), 1_000, "close()");
  assert.equal(await within(pending, 1_000, "the pending read"), null);
  await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
});

Deno.test("fifoListen() close() lets a process with a pending read exit by itself", async () => {
  await using dir = await tempDir();
  const script = `
import { fifoListen } from ${JSON.stringify(LIBRARY)};
const [dir] = Deno.args;
// A read the script awaits after close.
const awaited = await fifoListen(\`\${dir}/awaited\`);
const pending = awaited.read();
await new Promise((resolve) => setTimeout(resolve, 50));
await awaited.close();
console.log(JSON.stringify(await pending));
// A read nobody awaits: it must not keep the process alive either.
const forgotten = await fifoListen(\`\${dir}/forgotten\`);
forgotten.read();
await new Promise((resolve) => setTimeout(resolve, 50));
await forgotten.close();
console.log("closed");
`;
  const result = await runScript(dir.path, script, ["-A"], [dir.path], "022", 10_000);
  assert.equal(result.timedOut, false, "the process did not exit within 10 s and was killed");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "null\nclosed\n");
  for (const name of ["awaited", "forgotten"]) {
    await assert.rejects(Deno.lstat(`${dir.path}/${name}`), Deno.errors.NotFound);
  }
});

Deno.test("fifoListen() lets a non-blocking writer open while it listens; after close the writer gets ENXIO", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/qmgr`;
  await mkfifo(path, 0o622);
  const fifo = await fifoListen(path);
  try {
    writeNonBlocking(path, "I");
    assert.equal(await readWithin(fifo), "I");
  } finally {
    await fifo.close();
  }
  assert.ok((await Deno.lstat(path)).isFifo);
  assert.throws(
    () => openSync(path, constants.O_WRONLY | constants.O_NONBLOCK),
    (error: unknown) => (error as { code?: string }).code === "ENXIO",
  );
});

Deno.test({
  name: "fifoListen() rejects bad arguments before any I/O",
  // No permission at all: every one of these must fail before the permission checks.
  permissions: { read: false, write: false, run: false },
  async fn() {
    const call = fifoListen as (path: unknown, options?: unknown) => Promise<FifoListener>;
    for (const path of [42, null, undefined, {}, new URL("file:///tmp/x")]) {
      await assert.rejects(call(path), TypeError, String(path));
    }
    await assert.rejects(call(""), RangeError);
    await assert.rejects(call("/tmp/a\0b"), RangeError);
    // Set-id and sticky bits are refused too: mkfifo(1) cannot set them.
    for (const mode of [-1, 0o1000, 0o1622, 0o2622, 0o4622, 0o7777, 0o10000, 1.5, NaN]) {
      await assert.rejects(
        call("/tmp/postnet-never", { mode }),
        (error: unknown) => error instanceof RangeError && /mode/.test(error.message),
        String(mode),
      );
    }
    await assert.rejects(call("/tmp/postnet-never", { mode: "622" }), TypeError);
    for (const readSize of [0, -1, 1.5, NaN, Infinity]) {
      await assert.rejects(
        call("/tmp/postnet-never", { readSize }),
        (error: unknown) => error instanceof RangeError && /readSize/.test(error.message),
        String(readSize),
      );
    }
  },
});

Deno.test({
  name: "fifoListen() throws NotCapable naming --allow-run=mkfifo when it must create the FIFO",
  permissions: { read: true, write: true, run: false },
  async fn() {
    await using dir = await tempDir();
    const path = `${dir.path}/pickup`;
    await assertRefused(fifoListen(path), Deno.errors.NotCapable, `fifo:${path}`, "--allow-run=mkfifo");
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "fifoListen() throws NotCapable naming --allow-read=PATH without read permission",
  permissions: { read: false, write: true, run: true },
  async fn() {
    const path = "/tmp/postnet-no-such-dir/pickup";
    await assertRefused(fifoListen(path), Deno.errors.NotCapable, `fifo:${path}`, `--allow-read=${path}`);
  },
});

Deno.test({
  name: "fifoListen() throws NotCapable naming --allow-write=PATH without write permission",
  permissions: { read: true, write: false, run: true },
  async fn() {
    const path = "/tmp/postnet-no-such-dir/pickup";
    await assertRefused(fifoListen(path), Deno.errors.NotCapable, `fifo:${path}`, `--allow-write=${path}`);
  },
});

Deno.test("fifoListen() works with the narrowest grant: read and write on the path, run=mkfifo to create", async () => {
  await using dir = await tempDir();
  const existing = `${dir.path}/existing`;
  const created = `${dir.path}/created`;
  await mkfifo(existing, 0o622);
  const script = `
import { fifoListen } from ${JSON.stringify(LIBRARY)};
for (const path of Deno.args) {
  await using fifo = await fifoListen(path);
  console.log(JSON.stringify([path, fifo.created]));
}
`;
  const paths = `${existing},${created}`;
  // The existing FIFO needs no --allow-run.
  const reuse = await runScript(
    dir.path,
    script,
    [`--allow-read=${paths},${dir.path}/script.ts`, `--allow-write=${paths}`],
    [existing],
  );
  assert.equal(reuse.code, 0, reuse.stderr);
  assert.equal(reuse.stdout, `${JSON.stringify([existing, false])}\n`);
  const create = await runScript(
    dir.path,
    script,
    [`--allow-read=${paths},${dir.path}/script.ts`, `--allow-write=${paths}`, "--allow-run=mkfifo"],
    [created],
  );
  assert.equal(create.code, 0, create.stderr);
  assert.equal(create.stdout, `${JSON.stringify([created, true])}\n`);
  assert.ok((await Deno.lstat(existing)).isFifo);
  await assert.rejects(Deno.lstat(created), Deno.errors.NotFound);
});
