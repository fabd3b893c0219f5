import assert from "node:assert/strict";
import { closeSync, constants, openSync } from "node:fs";
import { fifoListen } from "../listen/fifo_listen.ts";
import { fifoTrigger } from "../trigger/fifo_trigger.ts";
import { inetTrigger } from "../trigger/inet_trigger.ts";
import { unixTrigger } from "../trigger/unix_trigger.ts";
import { acceptRequest, exists, fifoReader, freePort, Lines, mkfifo, tempDir, within } from "./_util.ts";

/** The project root (where deno.json and its `cli` permission set are) and the command line. */
const ROOT = new URL("..", import.meta.url).pathname;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** `-A` grants everything; `-P=cli` is the permission set deno.json declares for the command line. */
type Grant = "-A" | "-P=cli";

/** Starts `deno run GRANT cli.ts ARGS...` from the project root. */
function spawnCli(
  args: string[],
  grant: Grant = "-A",
  cwd = ROOT,
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", grant, CLI, ...args],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  /** stderr less Deno's own notice that permission sets are experimental. */
  errors: string[];
}

/** Runs the command line to its end (at most 30 s; then it is killed) and returns what it printed. */
async function runCli(
  args: string[],
  grant: Grant = "-A",
  cwd = ROOT,
  env: Record<string, string> = {},
): Promise<Outcome> {
  const child = spawnCli(args, grant, cwd, env);
  const output = child.output();
  let result: Deno.CommandOutput;
  try {
    result = await within(output, 30_000, `cli ${args.join(" ")}`);
  } catch (error) {
    child.kill("SIGKILL");
    await output;
    throw error;
  }
  const stderr = decoder.decode(result.stderr);
  return {
    code: result.code,
    stdout: decoder.decode(result.stdout),
    stderr,
    errors: stderr.split("\n").filter((line) => line !== "" && !line.includes("experimental feature")),
  };
}

// ---------------------------------------------------------------------------
// kick

Deno.test("cli kick ENDPOINT REQUEST sends to a unix server and exits 0", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/qmgr`;
  using listener = Deno.listen({ transport: "unix", path });
  const [received, outcome] = await Promise.all([acceptRequest(listener), runCli(["kick", `unix:${path}`, "I"])]);
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.deepEqual([...received], [0x49, 0]);
  assert.equal(outcome.stdout, "");
  assert.equal(outcome.stderr, "");
});

Deno.test("cli kick ENDPOINT REQUEST sends to a fifo listener and exits 0", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/pickup`;
  await using fifo = await fifoListen(path);
  const outcome = await runCli(["kick", `fifo:${path}`, "W"]);
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.equal(decoder.decode((await within(fifo.read(), 5_000, "fifo read"))!), "W");
  assert.equal(outcome.stderr, "");
});

Deno.test("cli kick ENDPOINT REQUEST sends to an inet server and exits 0", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const endpoint = `inet:127.0.0.1:${listener.addr.port}`;
  const [received, outcome] = await Promise.all([acceptRequest(listener), runCli(["kick", endpoint, "D"])]);
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.deepEqual([...received], [0x44, 0]);
  assert.equal(outcome.stderr, "");
});

Deno.test("cli kick picks the transport of a bare path by stat (socket and FIFO)", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const socket = `${dir.path}/qmgr`;
  using listener = Deno.listen({ transport: "unix", path: socket });
  const [received, outcome] = await Promise.all([acceptRequest(listener), runCli(["kick", socket, "A"])]);
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.deepEqual([...received], [0x41, 0]);

  const path = `${dir.path}/pickup`;
  await using fifo = await fifoListen(path);
  const second = await runCli(["kick", path, "F"]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(decoder.decode((await within(fifo.read(), 5_000, "fifo read"))!), "F");
});

Deno.test("cli kick --queue-directory DIR public qmgr I reaches the socket DIR/public/qmgr, as postkick", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  await Deno.mkdir(`${dir.path}/public`, { mode: 0o710 });
  using listener = Deno.listen({ transport: "unix", path: `${dir.path}/public/qmgr` });
  const [received, outcome] = await Promise.all([
    acceptRequest(listener),
    runCli(["kick", "--queue-directory", dir.path, "public", "qmgr", "I"]),
  ]);
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.deepEqual([...received], [0x49, 0]);
  assert.equal(outcome.stderr, "");
});

Deno.test("cli kick --queue-directory DIR public pickup W reaches the FIFO DIR/public/pickup, as postkick", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  await Deno.mkdir(`${dir.path}/public`);
  await using fifo = await fifoListen(`${dir.path}/public/pickup`);
  const outcome = await runCli(["kick", "--queue-directory", dir.path, "public", "pickup", "W"]);
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.equal(decoder.decode((await within(fifo.read(), 5_000, "fifo read"))!), "W");
});

Deno.test("cli kick takes ./a:b as a path relative to its working directory", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  using listener = Deno.listen({ transport: "unix", path: `${dir.path}/a:b` });
  const [received, outcome] = await Promise.all([
    acceptRequest(listener),
    runCli(["kick", "./a:b", "W"], "-A", dir.path),
  ]);
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.deepEqual([...received], [0x57, 0]);
});

Deno.test("cli kick exits 1 at --timeout, saying receipt is not confirmed, when the server takes the trigger but never closes", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/qmgr`;
  using listener = Deno.listen({ transport: "unix", path });
  const accepted = listener.accept();
  try {
    const outcome = await runCli(["kick", "--timeout", "200", `unix:${path}`, "I"]);
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.equal(
      outcome.stderr,
      `postnet kick: Cannot trigger "unix:${path}": no answer within 200 ms; the request was written, but its receipt is not confirmed\n`,
    );
  } finally {
    (await within(accepted, 5_000, "accept")).close();
  }
});

Deno.test("cli kick exits 1 when the listener closes without accepting: the request was written, not read", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/qmgr`;
  const listener = Deno.listen({ transport: "unix", path });
  const closing = setTimeout(() => listener.close(), 500);
  try {
    const outcome = await runCli(["kick", "--timeout", "10000", `unix:${path}`, "I"]);
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.match(outcome.stderr, /^postnet kick: Cannot trigger "unix:[^"]+": the server reset the connection; /);
  } finally {
    clearTimeout(closing);
    try {
      listener.close();
    } catch {
      // Closed by the timer already.
    }
  }
});

Deno.test("cli kick runs under -P=cli (the deno.json permission set) on unix and fifo", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/qmgr`;
  using listener = Deno.listen({ transport: "unix", path });
  const [received, outcome] = await Promise.all([
    acceptRequest(listener),
    runCli(["kick", `unix:${path}`, "I"], "-P=cli"),
  ]);
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.deepEqual([...received], [0x49, 0]);
  assert.deepEqual(outcome.errors, []);

  const fifoPath = `${dir.path}/pickup`;
  await using fifo = await fifoListen(fifoPath);
  const second = await runCli(["kick", `fifo:${fifoPath}`, "W"], "-P=cli");
  assert.equal(second.code, 0, second.stderr);
  assert.equal(decoder.decode((await within(fifo.read(), 5_000, "fifo read"))!), "W");
  assert.deepEqual(second.errors, []);
});

Deno.test("cli kick exits 1 with ONE stderr line naming the endpoint when the trigger is not delivered", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const fifo = `${dir.path}/fifo`;
  await mkfifo(fifo);
  const file = `${dir.path}/file`;
  await Deno.writeTextFile(file, "x");
  const port = freePort();
  const cases: [args: string[], names: string, reason: RegExp][] = [
    [["kick", `unix:${dir.path}/missing`, "I"], `unix:${dir.path}/missing`, /No such file/i],
    [["kick", `fifo:${fifo}`, "I"], `fifo:${fifo}`, /no process is listening/],
    [["kick", fifo, "I"], `fifo:${fifo}`, /no process is listening/],
    [["kick", `inet:127.0.0.1:${port}`, "I"], `127.0.0.1:${port}`, /refused/i],
    [["kick", file, "I"], file, /neither a socket nor a FIFO/],
    [["kick", `${dir.path}/missing`, "I"], `${dir.path}/missing`, /no such file/i],
    [["kick", "--queue-directory", dir.path, "public", "qmgr", "I"], `${dir.path}/public/qmgr`, /no such file/i],
  ];
  const outcomes = await Promise.all(cases.map(([args]) => runCli(args)));
  for (const [i, outcome] of outcomes.entries()) {
    const [args, names, reason] = cases[i];
    const what = args.join(" ");
    assert.equal(outcome.code, 1, `${what}: ${outcome.stderr}`);
    assert.equal(outcome.stdout, "", what);
    const lines = outcome.stderr.split("\n").filter((line) => line !== "");
    assert.equal(lines.length, 1, `${what}: ${outcome.stderr}`);
    assert.ok(outcome.stderr.endsWith("\n"), what);
    assert.ok(lines[0].startsWith("postnet kick: "), lines[0]);
    assert.ok(lines[0].includes(names), `${what}: ${lines[0]}`);
    assert.match(lines[0], reason, what);
  }
  assert.equal(await Deno.readTextFile(file), "x");
});

Deno.test("cli kick -c DIR -v CLASS SERVICE REQUEST reads DIR/main.cf under -P=cli and says what it did", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  await Deno.mkdir(`${dir.path}/etc`);
  await Deno.mkdir(`${dir.path}/queue/public`, { recursive: true });
  await Deno.writeTextFile(`${dir.path}/etc/main.cf`, `top = ${dir.path}\nqueue_directory = \${top}/queue\n`);
  const path = `${dir.path}/queue/public/qmgr`;
  using listener = Deno.listen({ transport: "unix", path });
  for (const args of [["-c", `${dir.path}/etc`, "-v"], ["--config-directory", `${dir.path}/etc`, "--verbose"]]) {
    const [received, outcome] = await Promise.all([
      acceptRequest(listener),
      runCli(["kick", ...args, "public", "qmgr", "I"], "-P=cli"),
    ]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual([...received], [0x49, 0]);
    assert.equal(outcome.stdout, "");
    assert.equal(outcome.errors.length, 4, outcome.stderr);
    assert.equal(outcome.errors[0], `postnet kick: main.cf: ${dir.path}/etc/main.cf`);
    assert.equal(outcome.errors[1], `postnet kick: queue directory: ${dir.path}/queue`);
    assert.equal(outcome.errors[2], `postnet kick: endpoint: unix:${path} (transport unix)`);
    assert.match(outcome.errors[3], /^postnet kick: sent 2 bytes in \d+\.\d\d ms; outcome: closed$/);
  }
  // Without -v, nothing is printed.
  const [, quiet] = await Promise.all([
    acceptRequest(listener),
    runCli(["kick", "-c", `${dir.path}/etc`, "public", "qmgr", "I"], "-P=cli"),
  ]);
  assert.deepEqual({ code: quiet.code, errors: quiet.errors }, { code: 0, errors: [] });
});

Deno.test("cli kick honours MAIL_CONFIG under -P=cli; -c and --queue-directory override it", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  for (const name of ["etc", "etc2"]) await Deno.mkdir(`${dir.path}/${name}`);
  await Deno.mkdir(`${dir.path}/queue/public`, { recursive: true });
  await Deno.mkdir(`${dir.path}/queue2/public`, { recursive: true });
  await Deno.writeTextFile(`${dir.path}/etc/main.cf`, `queue_directory = ${dir.path}/queue\n`);
  await Deno.writeTextFile(`${dir.path}/etc2/main.cf`, `queue_directory = ${dir.path}/queue2\n`);
  using first = Deno.listen({ transport: "unix", path: `${dir.path}/queue/public/qmgr` });
  using second = Deno.listen({ transport: "unix", path: `${dir.path}/queue2/public/qmgr` });
  const env = { MAIL_CONFIG: `${dir.path}/etc` };
  const cases: [string[], Deno.Listener, number][] = [
    [["public", "qmgr", "A"], first, 0x41],
    [["-c", `${dir.path}/etc2`, "public", "qmgr", "D"], second, 0x44],
    [["--queue-directory", `${dir.path}/queue2`, "public", "qmgr", "I"], second, 0x49],
  ];
  for (const [args, listener, code] of cases) {
    const [received, outcome] = await Promise.all([
      acceptRequest(listener),
      runCli(["kick", ...args], "-P=cli", ROOT, env),
    ]);
    assert.equal(outcome.code, 0, `${args.join(" ")}: ${outcome.stderr}`);
    assert.deepEqual([...received], [code, 0]);
  }
});

Deno.test("cli kick -c DIR exits 1 with one line naming DIR/main.cf when it is missing", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const outcome = await runCli(["kick", "-c", dir.path, "public", "qmgr", "I"], "-P=cli");
  assert.equal(outcome.code, 1, outcome.stderr);
  assert.deepEqual(outcome.errors, [`postnet kick: Cannot read "${dir.path}/main.cf": no such file or directory`]);
  // -P=cli does not grant a main.cf outside /tmp and /etc/postfix: the line names the flag.
  const denied = await runCli(["kick", "-c", "/var/lib/postnet-none", "public", "qmgr", "I"], "-P=cli");
  assert.equal(denied.code, 1, denied.stderr);
  assert.deepEqual(denied.errors, [
    'postnet kick: Cannot read "/var/lib/postnet-none/main.cf": requires --allow-read=/var/lib/postnet-none/main.cf; ' +
    "run again with --allow-read=/var/lib/postnet-none/main.cf",
  ]);
});

// ---------------------------------------------------------------------------
// Usage errors and help.

Deno.test("cli exits 2 on usage errors, before creating or touching anything", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const existing = `${dir.path}/existing`;
  await Deno.writeTextFile(existing, "keep");
  const before = await Deno.lstat(existing);
  const s = `${dir.path}/s`;
  const cases: string[][] = [
    [],
    ["frobnicate"],
    ["kick"],
    ["kick", `unix:${s}`],
    ["kick", "tcp:x", "I"],
    ["kick", "inet:host:", "I"],
    ["kick", "inet:[127.0.0.1]x", "I"],
    ["kick", "--timeout", "abc", `unix:${s}`, "I"],
    ["kick", "--timeout", "-5", `unix:${s}`, "I"],
    ["kick", "--bogus", `unix:${s}`, "I"],
    ["kick", "--queue-directory", dir.path, `unix:${s}`, "I"],
    ["kick", "--queue-directory", dir.path, "..", "qmgr", "I"],
    ["kick", "--queue-directory", dir.path, ".", "qmgr", "I"],
    ["kick", "--queue-directory", "", "public", "qmgr", "I"],
    ["kick", "-c", "", "public", "qmgr", "I"],
    ["kick", "-c", dir.path, `unix:${s}`, "I"],
    ["kick", "--config-directory", dir.path, `unix:${s}`, "I"],
    ["kick", `fifo:${s}`, ""],
    ["kick", "-c", `${dir.path}/none`, "public", "qmgr", ""],
    ["kick", "-x", "public", "qmgr", "I"],
    ["kick", "a", "b", "c", "d"],
    ["kick", "unix:", "I"],
    ["kick", existing],
    ["watch"],
    ["watch", "tcp:x"],
    ["watch", "inet:host:"],
    ["watch", "--count", "abc", `unix:${s}`],
    ["watch", "--count", "0", `unix:${s}`],
    ["watch", "--mode", "9", `unix:${s}`],
    ["watch", "--mode", "77777", `unix:${s}`],
    ["watch", "--max-request-bytes", "x", `unix:${s}`],
    ["watch", "--max-request-bytes", "0", `fifo:${s}`],
    ["watch", `unix:${s}`, `unix:${s}2`],
    ["demo", "--bogus"],
    ["demo", "extra"],
  ];
  const outcomes = await Promise.all(cases.map((args) => runCli(args)));
  for (const [i, outcome] of outcomes.entries()) {
    const what = `cli ${cases[i].join(" ")}`;
    assert.equal(outcome.code, 2, `${what}: exit ${outcome.code}, ${outcome.stderr}`);
    assert.equal(outcome.stdout, "", `${what}: usage errors go to stderr`);
    assert.ok(outcome.stderr.length > 0, what);
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name), ["existing"]);
  const after = await Deno.lstat(existing);
  assert.equal(await Deno.readTextFile(existing), "keep");
  assert.equal(after.mtime?.getTime(), before.mtime?.getTime());
});

Deno.test("cli watch usage errors name the flag as typed, never a library option name", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const cases: [string[], string][] = [
    [["--mode", "9", `unix:${dir.path}/s`], '--mode must be an octal number, got "9"'],
    [["--mode", "1000", `fifo:${dir.path}/f`], '--mode must be from 0 to 777, got "1000"'],
    [["--max-request-bytes", "0", `fifo:${dir.path}/f`], "--max-request-bytes must be at least 1"],
    [["--max-request-bytes", "0", `unix:${dir.path}/s`], "--max-request-bytes must be at least 1"],
    [["--count", "x", `unix:${dir.path}/s`], '--count must be a whole number, got "x"'],
  ];
  const outcomes = await Promise.all(cases.map(([args]) => runCli(["watch", ...args])));
  for (const [i, outcome] of outcomes.entries()) {
    const [args, text] = cases[i];
    assert.equal(outcome.code, 2, `${args.join(" ")}: ${outcome.stderr}`);
    assert.deepEqual(outcome.errors, [`postnet watch: ${text} (see "postnet watch --help")`]);
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing was created");
});

Deno.test("cli --help and each subcommand's --help exit 0 and print the usage", async () => {
  const cases: [string[], string][] = [
    [["--help"], "Usage: postnet <command>"],
    [["-h"], "Usage: postnet <command>"],
    [["help"], "Usage: postnet <command>"],
    [["kick", "--help"], "Usage: postnet kick"],
    [["kick", "-h"], "Usage: postnet kick"],
    [["kick", "-c", "/nonexistent", "-h", "public", "qmgr", "I"], "Usage: postnet kick"],
    [["watch", "--help"], "Usage: postnet watch"],
    [["watch", "-h"], "Usage: postnet watch"],
    [["demo", "--help"], "Usage: postnet demo"],
    [["kick", "--help", "tcp:x", "I"], "Usage: postnet kick"],
  ];
  const outcomes = await Promise.all(cases.map(([args]) => runCli(args)));
  for (const [i, outcome] of outcomes.entries()) {
    const [args, usage] = cases[i];
    assert.equal(outcome.code, 0, `${args.join(" ")}: ${outcome.stderr}`);
    assert.ok(outcome.stdout.startsWith(usage), `${args.join(" ")}: ${outcome.stdout}`);
    assert.equal(outcome.stderr, "");
  }
});

// ---------------------------------------------------------------------------
// watch

/** Starts `watch ARGS` through bash with `redirect` applied to its stdout (e.g. `> /dev/full`). */
function spawnWatchShell(args: string[], redirect: string): Deno.ChildProcess {
  return new Deno.Command("bash", {
    // exec: the child IS watch, so its status is watch's and its PID is watch's.
    args: ["-c", `exec "$0" run -A "$1" watch "\${@:2}" ${redirect}`, Deno.execPath(), CLI, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

const READY = /^postnet watch: listening on (.+)$/;

/** A running `watch`, ready: it printed its ready line. Disposing kills it (our own child, by its handle) if it still runs. */
interface Watch extends AsyncDisposable {
  /** The endpoint its ready line names. */
  endpoint: string;
  /** What it printed on stderr before the ready line. */
  before: string[];
  /** Its stdout, line by line. */
  stdout: Lines;
  /** Its stderr after the ready line, line by line. */
  stderr: Lines;
  /** Waits (at most 10 s) for it to exit; returns its status and the rest of its output. */
  end(): Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }>;
  /** Sends it a signal. */
  kill(signal: Deno.Signal): void;
}

/** Starts `watch` (`spawn` makes the process) and waits, at most 15 s, for its ready line on stderr. */
async function startWatch(spawn: () => Deno.ChildProcess): Promise<Watch> {
  const child = spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const stdout = new Lines(child.stdout);
  const stderr = new Lines(child.stderr);
  const watch: Watch = {
    endpoint: "",
    before: [],
    stdout,
    stderr,
    async end() {
      const [{ code, signal }, out, err] = await within(
        Promise.all([status, stdout.rest(), stderr.rest()]),
        10_000,
        "watch exit",
      );
      return { code, signal, stdout: out, stderr: err };
    },
    kill: (signal) => child.kill(signal),
    async [Symbol.asyncDispose]() {
      if (!exited) child.kill("SIGKILL");
      await Promise.all([status, stdout.drain(), stderr.drain()]);
    },
  };
  try {
    // Lines before the ready line: a notice (--mode on an existing FIFO), and
    // under -P=cli Deno's notice that permission sets are experimental.
    let ready: RegExpExecArray | null = null;
    for (let i = 0; i < 3 && !ready; i++) {
      const line = await stderr.next(15_000);
      assert.ok(typeof line === "string", `no ready line within 15 s (${line}); before it: ${watch.before}`);
      ready = READY.exec(line);
      if (!ready && !line.includes("experimental feature")) watch.before.push(line);
    }
    assert.ok(ready, `no ready line; instead: ${watch.before}`);
    watch.endpoint = ready[1];
    return watch;
  } catch (error) {
    await watch[Symbol.asyncDispose]();
    throw error;
  }
}

/** The next stdout line of `watch`, at most 10 s away. */
async function nextLine(watch: Watch): Promise<string> {
  const line = await watch.stdout.next(10_000);
  assert.ok(typeof line === "string", `no line on stdout within 10 s (${line})`);
  return line;
}

/**
 * Runs `watch --count 2 ENDPOINT`, waits for its ready line, sends two
 * triggers one after the other (the second once the first is printed: two
 * FIFO writes that arrive together would be one trigger), and returns what it
 * printed. Each trigger is sent once: a lost one fails the test.
 */
async function watchTwo(
  endpoint: string,
  send: () => Promise<unknown>,
): Promise<{ lines: string[]; code: number; stderr: string }> {
  await using watch = await startWatch(() => spawnCli(["watch", "--count", "2", endpoint]));
  assert.equal(watch.endpoint, endpoint);
  await within(send(), 10_000, "first trigger");
  const first = await nextLine(watch);
  await within(send(), 10_000, "second trigger");
  const { code, stdout, stderr } = await watch.end();
  return { lines: [first, ...stdout.split("\n").filter((line) => line !== "")], code, stderr };
}

Deno.test("cli watch --count 2 on unix prints exactly 2 JSON lines, exits 0 and removes the socket", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/qmgr`;
  const { lines, code, stderr } = await watchTwo(`unix:${path}`, () => unixTrigger(path, "W", { timeout: 5_000 }));
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  const expected = { transport: "unix", endpoint: `unix:${path}`, request: "W", bytes: 2, hex: "5700" };
  assert.deepEqual(lines, [JSON.stringify(expected), JSON.stringify(expected)]);
  assert.deepEqual(JSON.parse(lines[0]), expected);
  assert.equal(await exists(path), false, "the socket is removed");
});

Deno.test("cli watch --count 2 on fifo prints exactly 2 JSON lines, exits 0 and removes the FIFO", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/pickup`;
  const { lines, code, stderr } = await watchTwo(`fifo:${path}`, () => fifoTrigger(path, "W"));
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  const expected = { transport: "fifo", endpoint: `fifo:${path}`, request: "W", bytes: 1, hex: "57" };
  assert.deepEqual(lines, [JSON.stringify(expected), JSON.stringify(expected)]);
  assert.equal(await exists(path), false, "the FIFO is removed");
});

Deno.test("cli watch inet:127.0.0.1:0 names the port it bound in its ready line; a trigger there is printed", async () => {
  await using watch = await startWatch(() => spawnCli(["watch", "--count", "1", "inet:127.0.0.1:0"]));
  const port = Number(/^inet:127\.0\.0\.1:([0-9]+)$/.exec(watch.endpoint)?.[1]);
  assert.ok(port > 0, watch.endpoint);
  await within(inetTrigger(`127.0.0.1:${port}`, "D", { timeout: 5_000 }), 10_000, "trigger");
  const { code, stdout, stderr } = await watch.end();
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  const expected = { transport: "inet", endpoint: watch.endpoint, request: "D", bytes: 2, hex: "4400" };
  assert.equal(stdout, `${JSON.stringify(expected)}\n`);
});

Deno.test("cli watch on an existing FIFO is ready only after the stale bytes are drained: the next trigger is the first line", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/pickup`;
  await mkfifo(path, 0o620);
  // Stale bytes: written while a reader was there, and kept in the pipe by a writer once it left
  // (a FIFO a process still reads is refused, as a live socket is).
  const reader = fifoReader(path);
  await fifoTrigger(path, "stale");
  const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  reader[Symbol.dispose]();
  using _writer = { [Symbol.dispose]: () => closeSync(writer) };
  await using watch = await startWatch(() => spawnCli(["watch", "--count", "1", path]));
  assert.equal(watch.endpoint, `fifo:${path}`);
  await fifoTrigger(path, "I");
  const { code, stdout, stderr } = await watch.end();
  assert.equal(code, 0, stderr);
  assert.equal(JSON.parse(stdout).request, "I");
  assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o620, "an existing FIFO keeps its mode");
  assert.equal(await exists(path), true, "a FIFO watch did not create is left in place");
});

Deno.test("cli watch --mode on an existing FIFO says on stderr that the FIFO keeps its mode", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/pickup`;
  await mkfifo(path, 0o600);
  await using watch = await startWatch(() => spawnCli(["watch", "--mode", "644", `fifo:${path}`]));
  watch.kill("SIGTERM");
  const { code, stderr } = await watch.end();
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  assert.deepEqual(watch.before, [
    `postnet watch: --mode 644 ignored: "fifo:${path}" already exists; its mode was left alone`,
  ]);
  assert.equal(watch.endpoint, `fifo:${path}`);
  assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600);
  assert.equal(await exists(path), true);
});

Deno.test("cli watch adds the exact bytes as hex to a request that is not UTF-8", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/qmgr`;
  await using watch = await startWatch(() => spawnCli(["watch", "--count", "1", `unix:${path}`]));
  await within(unixTrigger(path, Uint8Array.of(0xff, 0x57), { timeout: 5_000 }), 10_000, "trigger");
  const { code, stdout, stderr } = await watch.end();
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), {
    transport: "unix",
    endpoint: `unix:${path}`,
    request: "\ufffdW",
    bytes: 3,
    hex: "ff5700",
  });
});

Deno.test("cli watch | head -1: watch exits 0 once its stdout is a closed pipe, and removes the socket", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/qmgr`;
  await using watch = await startWatch(() => spawnWatchShell([`unix:${path}`], "> >(head -1)"));
  await within(unixTrigger(path, "I", { timeout: 5_000 }), 10_000, "first trigger");
  // head printed the line and exited: its stdout (ours) ends, so the pipe into it is closed.
  assert.equal(JSON.parse(await nextLine(watch)).request, "I");
  assert.equal(await within(watch.stdout.next(), 10_000, "head exit"), null);
  // The next line meets the closed pipe.
  await within(unixTrigger(path, "D", { timeout: 5_000 }), 10_000, "second trigger");
  const { code, signal, stderr } = await watch.end();
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  assert.equal(await exists(path), false, "the socket is removed");
});

Deno.test("cli watch --count 2 > /dev/full exits 1 at the first trigger with one line on stderr, and removes the socket", async () => {
  await using dir = await tempDir("postnet-cli-", "/tmp");
  const path = `${dir.path}/qmgr`;
  await using watch = await startWatch(() => spawnWatchShell(["--count", "2", `unix:${path}`], "> /dev/full"));
  await within(unixTrigger(path, "I", { timeout: 5_000 }), 10_000, "trigger");
  const { code, stderr } = await watch.end();
  assert.equal(code, 1, stderr);
  assert.match(stderr, /^postnet watch: cannot write to stdout: No space left on device[^\n]*\n$/);
  assert.equal(await exists(path), false, "the socket is removed");
});

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  for (const transport of ["unix", "fifo"] as const) {
    Deno.test(`cli watch exits 0 on ${signal} on ${transport} and removes the ${transport === "unix" ? "socket" : "FIFO"}`, async () => {
      await using dir = await tempDir("postnet-cli-", "/tmp");
      const path = `${dir.path}/service`;
      await using watch = await startWatch(() => spawnCli(["watch", `${transport}:${path}`]));
      watch.kill(signal);
      const status = await watch.end();
      assert.equal(status.code, 0, status.stderr);
      assert.equal(status.signal, null);
      assert.equal(status.stdout, "");
      assert.equal(status.stderr, "");
      assert.equal(await exists(path), false, `the ${transport} endpoint is removed`);
    });
  }
}

// ---------------------------------------------------------------------------
// demo

for (const grant of ["-A", "-P=cli"] as const) {
  Deno.test(`cli demo exits 0 under ${grant}, prints the three transports and cleans up`, async () => {
    const outcome = await runCli(["demo"], grant);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(outcome.errors, []);
    const lines = outcome.stdout.trim().split("\n");
    assert.match(lines[0], /^transport\s+endpoint\s+sent\s+arrived\s+bytes\s+ms$/);
    const rows = lines.slice(1, 4).map((line) => line.split(/\s+/));
    assert.deepEqual(rows.map((row) => row[0]), ["unix", "fifo", "inet"]);
    assert.match(rows[0][1], /^unix:\/.+\/qmgr$/);
    assert.match(rows[1][1], /^fifo:\/.+\/pickup$/);
    assert.match(rows[2][1], /^inet:127\.0\.0\.1:[1-9][0-9]*$/);
    for (const row of rows) {
      assert.equal(row[2], '"I"');
      assert.equal(row[3], '"I"', "what arrived is what was sent");
      assert.ok(Number(row[5]) >= 0, `ms ${row[5]}`);
    }
    assert.deepEqual(rows.map((row) => row[4]), ["2", "1", "2"]);
    assert.equal(lines[4], "All three transports delivered their trigger.");
    const dir = rows[0][1].slice("unix:".length).replace(/\/qmgr$/, "");
    assert.equal(await exists(dir), false, "the demo's temporary directory is removed");
  });
}
