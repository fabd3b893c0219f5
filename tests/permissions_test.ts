/**
 * The permission sandbox, proved with real subprocesses: every module's
 * functions, every CLI subcommand and every doc example run under exactly
 * their deno.json permission set (`deno run -P=SET`); with any one grant of
 * the set removed, what needs it throws `Deno.errors.NotCapable` whose
 * message names the exact flag to add, and what does not need it still
 * works; the narrowest grants the docs promise are enough; a check never
 * prompts or hangs when nobody can answer.
 *
 * The fixtures in tests/permissions/ print one JSON line per step (see
 * `_steps.ts`). Servers and listeners run here, in the test process.
 *
 * @module
 */
import assert from "node:assert/strict";
import { serveTriggers, trigger, type TriggerServer } from "../trigger/mod.ts";
import type { StepReport } from "./permissions/_steps.ts";
import { Lines, mkfifo, tempDir, within } from "./_util.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const FIXTURES = `${ROOT}/tests/permissions`;
const CONFIG = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A grant of a permission set; the sets use these five. */
type Grant = "net" | "read" | "write" | "run" | "env";
const GRANTS: Grant[] = ["net", "read", "write", "run", "env"];

/**
 * For each step, the flag its error must name when that grant is missing; or
 * a RegExp its error message must match (a grant whose absence is not an
 * error, such as env MAIL_CONFIG: then mailTrigger reads /etc/postfix).
 */
type Needs = Record<string, Partial<Record<Grant, string | RegExp>>>;

/** A permission set of deno.json, as `--allow-*` flags, less the grant `without`. */
function flagsOf(set: string, without?: Grant): string[] {
  const grants: Record<string, unknown> | undefined = CONFIG.permissions?.[set];
  assert.ok(grants, `deno.json has no permission set "${set}"`);
  const flags: string[] = [];
  for (const [name, value] of Object.entries(grants)) {
    if (name === without || value === false) continue;
    if (value === true) flags.push(`--allow-${name}`);
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
      flags.push(`--allow-${name}=${value.join(",")}`);
    } else throw new TypeError(`permission set "${set}": cannot turn ${name} = ${JSON.stringify(value)} into a flag`);
  }
  return flags;
}

/** The grants a set holds; a grant these tests do not know fails them, so that it gets tested. */
function grantsOf(set: string): Grant[] {
  const names = Object.keys(CONFIG.permissions[set]);
  for (const name of names) assert.ok((GRANTS as string[]).includes(name), `set "${set}": untested grant ${name}`);
  return GRANTS.filter((grant) => names.includes(grant));
}

/** A finished subprocess. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The JSON lines a fixture printed. */
  reports: StepReport[];
  /** Set when the run was killed at its deadline. */
  timedOut: boolean;
}

/**
 * Runs `deno ARGS` (cwd: the project unless given; stdin: none unless piped)
 * and waits for it, killing it after `timeout` ms. `deno run` finds deno.json
 * from the script's directory, not the cwd.
 */
async function deno(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeout?: number; stdin?: "null" | "piped" } = {},
): Promise<Run> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeout ?? 20_000);
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: options.cwd ?? ROOT,
      env: options.env,
      stdin: options.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).spawn();
    // A piped stdin is left open and never written: nobody can answer a prompt.
    const output = await child.output();
    // The child has exited: closing its stdin may only report the broken pipe.
    if (options.stdin === "piped") await child.stdin.close().catch(() => {});
    return finished(output, timedOut);
  } finally {
    clearTimeout(timer);
  }
}

function finished(output: Deno.CommandOutput, timedOut: boolean): Run {
  const stdout = decoder.decode(output.stdout);
  const reports = stdout.split("\n").filter((line) => line.startsWith('{"step"')).map((line) => JSON.parse(line));
  return { code: output.code, stdout, stderr: decoder.decode(output.stderr), reports, timedOut };
}

/** Runs fixture `name` with `flags` and `args`, and `env` besides the environment it inherits. */
function fixture(
  name: string,
  flags: string[],
  args: string[],
  cwd?: string,
  env?: Record<string, string>,
): Promise<Run> {
  return deno(["run", "--no-prompt", ...flags, `${FIXTURES}/${name}.ts`, ...args], { cwd, env });
}

/** Runs the tasks, at most `limit` at a time; every task settles before this does. */
async function pool<T>(tasks: (() => Promise<T>)[], limit = 8): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  for (const outcome of settled) if (outcome.status === "rejected") throw outcome.reason;
  return results;
}

/** Resolves with `promise`'s value, or undefined after `ms`; leaves no timer behind. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function show(run: Run): string {
  return `exit ${run.code}${
    run.timedOut ? " (killed at its deadline)" : ""
  }\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
}

/**
 * Asserts a fixture ran every step in `steps`; a step succeeds unless it
 * needs the missing grant, then it fails with NotCapable naming the flag
 * (`requires FLAG;`). The exit code says whether any step failed.
 */
function assertSteps(run: Run, steps: string[], needs: Needs, missing?: Grant): void {
  const context = `${missing ? `without ${missing}` : "full set"}: ${show(run)}`;
  assert.ok(!run.timedOut, context);
  assert.deepEqual(run.reports.map((r) => r.step), steps, context);
  for (const report of run.reports) {
    const flag = missing && needs[report.step]?.[missing];
    if (flag === undefined) {
      assert.ok(report.ok, `${report.step} should work ${context}`);
    } else if (flag instanceof RegExp) {
      assert.equal(report.ok, false, `${report.step} should fail ${context}`);
      assert.match(report.message!, flag, `${report.step}: ${context}`);
    } else {
      assert.equal(report.ok, false, `${report.step} should fail ${context}`);
      assert.equal(report.error, "NotCapable", `${report.step}: ${context}`);
      assert.equal(report.notCapable, true, `${report.step}: instanceof Deno.errors.NotCapable: ${context}`);
      assert.ok(report.message!.includes(`requires ${flag};`), `${report.step} should name ${flag}: ${context}`);
    }
  }
  assert.equal(run.code, run.reports.every((r) => r.ok) ? 0 : 1, context);
}

/** Steps whose value was checked, by step name. */
function values(run: Run): Record<string, unknown> {
  return Object.fromEntries(run.reports.map((r) => [r.step, r.value]));
}

/** Accepts connections until the listener closes; writes `text` to each and closes it. */
async function serveText(listener: Deno.Listener, text: string): Promise<number> {
  let count = 0;
  for await (const conn of listener) {
    count++;
    try {
      await conn.write(encoder.encode(text));
    } finally {
      conn.close();
    }
  }
  return count;
}

/** The three trigger servers the trigger and CLI tests send to, recording what arrives. */
class Servers implements AsyncDisposable {
  readonly received: Record<"inet" | "unix" | "fifo", string[]> = { inet: [], unix: [], fifo: [] };
  readonly errors: unknown[] = [];
  #servers: TriggerServer[] = [];
  #arrived = new EventTarget();

  private constructor() {}

  static async start(unixPath: string, fifoPath: string): Promise<Servers> {
    const servers = new Servers();
    for (const endpoint of [`unix:${unixPath}`, `fifo:${fifoPath}`, "inet:127.0.0.1:0"]) {
      servers.#servers.push(
        await serveTriggers(endpoint, ({ transport, request }) => {
          // A FIFO chunk may hold several writers' one-byte requests: count each.
          const text = decoder.decode(request);
          servers.received[transport].push(...(transport === "fifo" ? [...text] : [text]));
          servers.#arrived.dispatchEvent(new Event("arrived"));
        }, { onError: (error) => servers.errors.push(error) }),
      );
    }
    return servers;
  }

  get inetAddress(): string {
    return this.#servers[2].endpoint.slice("inet:".length);
  }

  /** Waits (at most 5 s) for `expected` to have arrived, then asserts exactly that arrived. */
  async assertReceived(expected: Record<"inet" | "unix" | "fifo", string[]>): Promise<void> {
    const count = (r: Record<string, string[]>) => Object.values(r).reduce((n, list) => n + list.length, 0);
    const all = Promise.withResolvers<void>();
    const check = () => count(this.received) >= count(expected) && all.resolve();
    this.#arrived.addEventListener("arrived", check);
    check();
    try {
      await settledWithin(all.promise, 5_000);
    } finally {
      this.#arrived.removeEventListener("arrived", check);
    }
    const sorted = (r: Record<string, string[]>) =>
      Object.fromEntries(Object.entries(r).map(([k, list]) => [k, [...list].sort()]));
    assert.deepEqual(sorted(this.received), sorted(expected));
    assert.deepEqual(this.errors, []);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.#servers.map((server) => server.close()));
  }
}

Deno.test("-P=connect: inetConnect() and unixConnect() work under the set, and without any one grant throw NotCapable naming the flag", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  const unixPath = `${dir.path}/connect.sock`;
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const unix = Deno.listen({ transport: "unix", path: unixPath });
  const accepted = Promise.all([serveText(tcp, "tcp"), serveText(unix, "unix")]);
  const address = `127.0.0.1:${tcp.addr.port}`;
  const steps = ["inetConnect", "unixConnect"];
  const needs: Needs = {
    inetConnect: { net: `--allow-net=${address}` },
    unixConnect: {
      read: `--allow-read=${unixPath}`,
      write: `--allow-write=${unixPath}`,
      net: `--allow-net=unix:${unixPath}`,
    },
  };
  let runs: Run[];
  try {
    runs = await pool([
      () => fixture("connect", ["-P=connect"], [address, unixPath]),
      () => fixture("connect", flagsOf("connect"), [address, unixPath]),
      ...grantsOf("connect").map((grant) => () => fixture("connect", flagsOf("connect", grant), [address, unixPath])),
    ]);
  } finally {
    tcp.close();
    unix.close();
  }
  const counts = await accepted;
  const [setRun, flagsRun, ...without] = runs;
  assertSteps(setRun, steps, needs);
  assert.deepEqual(values(setRun), { inetConnect: "tcp", unixConnect: "unix" });
  assertSteps(flagsRun, steps, needs);
  grantsOf("connect").forEach((grant, i) => assertSteps(without[i], steps, needs, grant));
  // Every successful connect was a real connection to these listeners, and only those.
  const succeeded = (step: string) => runs.filter((run) => values(run)[step] !== undefined).length;
  assert.deepEqual(counts, [succeeded("inetConnect"), succeeded("unixConnect")]);
});

Deno.test("-P=listen: inetListen(), unixListen() and fifoListen() work under the set, and without any one grant throw NotCapable naming the flag", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  const variants: { name: string; flags: string[]; missing?: Grant }[] = [
    { name: "set", flags: ["-P=listen"] },
    { name: "flags", flags: flagsOf("listen") },
    ...grantsOf("listen").map((grant) => ({ name: `no-${grant}`, flags: flagsOf("listen", grant), missing: grant })),
  ];
  // Each run listens in a directory of its own, with a FIFO made beforehand.
  for (const { name } of variants) {
    await Deno.mkdir(`${dir.path}/${name}`);
    await mkfifo(`${dir.path}/${name}/existing.fifo`);
  }
  const runs = await pool(variants.map(({ name, flags }) => () => fixture("listen", flags, [`${dir.path}/${name}`])));
  const steps = ["inetListen", "unixListen", "fifoListen", "fifoListen existing"];
  variants.forEach(({ name, missing }, i) => {
    const sub = `${dir.path}/${name}`;
    const rw = (path: string) => ({ read: `--allow-read=${path}`, write: `--allow-write=${path}` });
    const needs: Needs = {
      inetListen: { net: "--allow-net=127.0.0.1:0" },
      unixListen: { ...rw(`${sub}/listen.sock`), net: `--allow-net=unix:${sub}/listen.sock` },
      fifoListen: { ...rw(`${sub}/listen.fifo`), run: "--allow-run=mkfifo" },
      "fifoListen existing": rw(`${sub}/existing.fifo`),
    };
    assertSteps(runs[i], steps, needs, missing);
  });
  assert.deepEqual(values(runs[0]), {
    inetListen: true,
    unixListen: "666",
    fifoListen: { text: "x", removed: true },
    "fifoListen existing": { text: "y", created: false },
  });
  // Whatever a run made, it removed; only the FIFOs made here are left.
  for (const { name } of variants) {
    const left = await Array.fromAsync(Deno.readDir(`${dir.path}/${name}`), (entry) => entry.name);
    assert.deepEqual(left, ["existing.fifo"], name);
  }
});

Deno.test("-P=trigger: every trigger function and serveTriggers() work under the set, and without any one grant throw NotCapable naming the flag", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  const unixPath = `${dir.path}/qmgr`;
  const fifoPath = `${dir.path}/pickup`;
  await using servers = await Servers.start(unixPath, fifoPath);
  const address = servers.inetAddress;
  const variants: { name: string; flags: string[]; missing?: Grant }[] = [
    { name: "set", flags: ["-P=trigger"] },
    { name: "flags", flags: flagsOf("trigger") },
    ...grantsOf("trigger").map((grant) => ({ name: `no-${grant}`, flags: flagsOf("trigger", grant), missing: grant })),
  ];
  for (const { name } of variants) await Deno.mkdir(`${dir.path}/${name}`);
  // A configuration directory whose queue is /tmp: CLASS/qmgr is unixPath.
  const etc = `${dir.path}/etc`;
  await Deno.mkdir(etc);
  await Deno.writeTextFile(`${etc}/main.cf`, `queue_directory = ${dir.path.slice(0, dir.path.lastIndexOf("/"))}\n`);
  const cls = dir.path.slice(dir.path.lastIndexOf("/") + 1);
  const runs = await pool(
    variants.map(({ name, flags }) => () =>
      fixture("trigger", flags, [address, unixPath, fifoPath, `${dir.path}/${name}`, etc], undefined, {
        MAIL_CONFIG: etc,
      })
    ),
  );
  const rw = (path: string) => ({ read: `--allow-read=${path}`, write: `--allow-write=${path}` });
  const unixNeeds = { ...rw(unixPath), net: `--allow-net=unix:${unixPath}` };
  const steps = [
    "inetTrigger",
    "unixTrigger",
    "fifoTrigger",
    "trigger inet",
    "trigger socket path",
    "trigger FIFO path",
    "mailTrigger configDirectory",
    "mailTrigger MAIL_CONFIG",
    "serveTriggers unix",
    "serveTriggers fifo",
  ];
  // The request each step sends, and the server it goes to.
  const sends: Record<string, [keyof Servers["received"], string]> = {
    inetTrigger: ["inet", "I"],
    unixTrigger: ["unix", "D"],
    fifoTrigger: ["fifo", "W"],
    "trigger inet": ["inet", "A"],
    "trigger socket path": ["unix", "F"],
    "trigger FIFO path": ["fifo", "I"],
    "mailTrigger configDirectory": ["unix", "I"],
    "mailTrigger MAIL_CONFIG": ["unix", "A"],
  };
  const expected: Record<keyof Servers["received"], string[]> = { inet: [], unix: [], fifo: [] };
  variants.forEach(({ name, missing }, i) => {
    const own = `${dir.path}/${name}`;
    const needs: Needs = {
      inetTrigger: { net: `--allow-net=${address}` },
      unixTrigger: unixNeeds,
      fifoTrigger: rw(fifoPath),
      "trigger inet": { net: `--allow-net=${address}` },
      "trigger socket path": unixNeeds,
      "trigger FIFO path": rw(fifoPath),
      "mailTrigger configDirectory": { ...unixNeeds, read: `--allow-read=${etc}/main.cf` },
      // Without env, MAIL_CONFIG is not looked at: /etc/postfix/main.cf is read (when there is one),
      // and names a queue that has no CLASS/qmgr.
      "mailTrigger MAIL_CONFIG": {
        ...unixNeeds,
        read: `--allow-read=${etc}/main.cf`,
        env: new RegExp(
          `^Cannot (read "/etc/postfix/main\\.cf"|trigger "/var/spool/postfix/${cls}/qmgr"): no such file or directory$`,
        ),
      },
      "serveTriggers unix": { ...rw(`${own}/own.sock`), net: `--allow-net=unix:${own}/own.sock` },
      "serveTriggers fifo": { ...rw(`${own}/own.fifo`), run: "--allow-run=mkfifo" },
    };
    assertSteps(runs[i], steps, needs, missing);
    for (const report of runs[i].reports) {
      if (report.ok && sends[report.step]) expected[sends[report.step][0]].push(sends[report.step][1]);
    }
  });
  assert.deepEqual(values(runs[0]), {
    inetTrigger: 2,
    unixTrigger: 2,
    fifoTrigger: 1,
    "trigger inet": "inet",
    "trigger socket path": "unix",
    "trigger FIFO path": "fifo",
    "mailTrigger configDirectory": "unix",
    "mailTrigger MAIL_CONFIG": "unix",
    "serveTriggers unix": "W",
    "serveTriggers fifo": "W",
  });
  await servers.assertReceived(expected);
});

/** Runs `cli.ts ARGS` with `flags`. */
function cli(flags: string[], args: string[], env?: Record<string, string>): Promise<Run> {
  return deno(["run", "--no-prompt", ...flags, "cli.ts", ...args], { env });
}

/**
 * Runs `cli.ts watch --count 1 ENDPOINT`, waits for its ready line on stderr
 * (or the end of its stderr: it could not start) and sends ONE trigger: a
 * trigger lost by a ready watch fails the test. Killed at 20 s.
 */
async function watch(flags: string[], endpoint: string, request: string): Promise<Run> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, 20_000);
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, "cli.ts", "watch", "--count", "1", endpoint],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).spawn();
    const stdout = new Response(child.stdout).text();
    const stderr = new Lines(child.stderr);
    const lines: string[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const line = await within(stderr.next(), 20_000, `${endpoint}: ready line`);
        if (line === null) break;
        lines.push(line);
        if (line.startsWith("postnet watch: listening on ")) {
          await within(trigger(endpoint, request, { timeout: 5_000 }), 10_000, `${endpoint}: trigger`);
          break;
        }
      }
    } catch (error) {
      // Our own child, by its handle: end it so the test fails instead of hanging.
      controller.abort();
      throw error;
    } finally {
      lines.push(await within(stderr.rest(), 20_000, `${endpoint}: stderr`));
    }
    const [status, out] = await within(Promise.all([child.status, stdout]), 20_000, `${endpoint}: exit`);
    return { code: status.code, stdout: out, stderr: lines.join("\n"), reports: [], timedOut };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("-P=cli: kick (both forms, every transport), watch (socket and FIFO) and demo work under the set", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  await Deno.mkdir(`${dir.path}/public`);
  await using servers = await Servers.start(`${dir.path}/public/qmgr`, `${dir.path}/public/pickup`);
  const queue = ["--queue-directory", dir.path];
  const [unixKick, postkick, fifoKick, postkickFifo, inetKick, unixWatch, fifoWatch, demo] = await pool<Run>([
    () => cli(["-P=cli"], ["kick", `unix:${dir.path}/public/qmgr`, "I"]),
    () => cli(["-P=cli"], ["kick", ...queue, "public", "qmgr", "D"]),
    () => cli(["-P=cli"], ["kick", `fifo:${dir.path}/public/pickup`, "W"]),
    () => cli(["-P=cli"], ["kick", ...queue, "public", "pickup", "F"]),
    () => cli(["-P=cli"], ["kick", `inet:${servers.inetAddress}`, "A"]),
    () => watch(["-P=cli"], `unix:${dir.path}/watch.sock`, "W"),
    () => watch(["-P=cli"], `fifo:${dir.path}/watch.fifo`, "W"),
    () => cli(["-P=cli"], ["demo"], { TMPDIR: "/tmp" }),
  ]);
  for (const run of [unixKick, postkick, fifoKick, postkickFifo, inetKick]) {
    assert.equal(run.code, 0, show(run));
    assert.equal(run.stdout, "", show(run));
    assert.ok(!run.stderr.includes("postnet"), show(run));
  }
  await servers.assertReceived({ unix: ["I", "D"], fifo: ["W", "F"], inet: ["A"] });

  assert.equal(unixWatch.code, 0, show(unixWatch));
  assert.deepEqual(JSON.parse(unixWatch.stdout), {
    transport: "unix",
    endpoint: `unix:${dir.path}/watch.sock`,
    request: "W",
    bytes: 2,
    hex: "5700",
  });
  assert.equal(fifoWatch.code, 0, show(fifoWatch));
  assert.deepEqual(JSON.parse(fifoWatch.stdout), {
    transport: "fifo",
    endpoint: `fifo:${dir.path}/watch.fifo`,
    request: "W",
    bytes: 1,
    hex: "57",
  });
  // The watchers removed what they created.
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir.path), (entry) => entry.name), ["public"]);

  assert.equal(demo.code, 0, show(demo));
  for (const transport of ["unix", "fifo", "inet"]) {
    assert.match(demo.stdout, new RegExp(`^${transport} +${transport}:\\S+ +"I" +"I" +\\d+ +[\\d.]+$`, "m"));
  }
  assert.match(demo.stdout, /All three transports delivered their trigger\.\n$/);
});

Deno.test("-P=cli: without any one grant, each subcommand that needs it exits 1 naming the flag, and the others still work", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  await Deno.mkdir(`${dir.path}/public`);
  const qmgr = `${dir.path}/public/qmgr`;
  const pickup = `${dir.path}/public/pickup`;
  await using servers = await Servers.start(qmgr, pickup);
  const rw = (path: string) => ({ read: `--allow-read=${path}`, write: `--allow-write=${path}` });
  const queue = ["--queue-directory", dir.path];
  const etc = `${dir.path}/etc`;
  await Deno.mkdir(etc);
  await Deno.writeTextFile(`${etc}/main.cf`, `queue_directory = ${dir.path}\n`);
  interface Case {
    label: string;
    run: (flags: string[], missing: Grant) => Promise<Run>;
    /** What the error names when a grant is missing; a RegExp when the path is made at run time. */
    needs: Partial<Record<Grant, string | RegExp>>;
    /** The server and request a successful run delivers to. */
    delivers?: [keyof Servers["received"], string];
  }
  const demoDir = String.raw`/tmp/postnet-demo-[^/\s]+`;
  const cases: Case[] = [
    {
      label: "demo",
      run: (flags) => cli(flags, ["demo"], { TMPDIR: "/tmp" }),
      needs: {
        net: new RegExp(String.raw`requires --allow-net=unix:${demoDir}/qmgr;`),
        read: new RegExp(String.raw`requires --allow-read=${demoDir}/qmgr;`),
        // Deno.makeTempDir() is the first thing denied: Deno's own message names the flag.
        write: /run again with the --allow-write flag/,
        run: "--allow-run=mkfifo",
      },
    },
    {
      label: "kick unix:",
      run: (flags) => cli(flags, ["kick", `unix:${qmgr}`, "I"]),
      needs: { ...rw(qmgr), net: `--allow-net=unix:${qmgr}` },
      delivers: ["unix", "I"],
    },
    {
      label: "kick CLASS SERVICE (socket)",
      run: (flags) => cli(flags, ["kick", ...queue, "public", "qmgr", "D"]),
      needs: { ...rw(qmgr), net: `--allow-net=unix:${qmgr}` },
      delivers: ["unix", "D"],
    },
    {
      label: "kick -c DIR CLASS SERVICE (socket)",
      run: (flags) => cli(flags, ["kick", "-c", etc, "public", "qmgr", "A"]),
      needs: { ...rw(qmgr), read: `--allow-read=${etc}/main.cf`, net: `--allow-net=unix:${qmgr}` },
      delivers: ["unix", "A"],
    },
    {
      label: "kick fifo:",
      run: (flags) => cli(flags, ["kick", `fifo:${pickup}`, "W"]),
      needs: rw(pickup),
      delivers: ["fifo", "W"],
    },
    {
      label: "kick CLASS SERVICE (FIFO)",
      run: (flags) => cli(flags, ["kick", ...queue, "public", "pickup", "F"]),
      needs: rw(pickup),
      delivers: ["fifo", "F"],
    },
    {
      label: "kick inet:",
      run: (flags) => cli(flags, ["kick", `inet:${servers.inetAddress}`, "A"]),
      needs: { net: `--allow-net=${servers.inetAddress}` },
      delivers: ["inet", "A"],
    },
    {
      label: "watch unix:",
      run: (flags, missing) => watch(flags, `unix:${dir.path}/watch-${missing}.sock`, "W"),
      needs: { read: "--allow-read=WATCH.sock", write: "--allow-write=WATCH.sock", net: "--allow-net=unix:WATCH.sock" },
    },
    {
      label: "watch fifo:",
      run: (flags, missing) => watch(flags, `fifo:${dir.path}/watch-${missing}.fifo`, "W"),
      needs: { read: "--allow-read=WATCH.fifo", write: "--allow-write=WATCH.fifo", run: "--allow-run=mkfifo" },
    },
  ];
  const jobs = cases.flatMap((c) => grantsOf("cli").map((grant) => ({ c, grant })));
  const runs = await pool(jobs.map(({ c, grant }) => () => c.run(flagsOf("cli", grant), grant)));
  const expected: Record<keyof Servers["received"], string[]> = { inet: [], unix: [], fifo: [] };
  jobs.forEach(({ c, grant }, i) => {
    const run = runs[i];
    const context = `${c.label} without ${grant}: ${show(run)}`;
    assert.ok(!run.timedOut, context);
    let need = c.needs[grant];
    if (typeof need === "string") need = need.replace("WATCH", `${dir.path}/watch-${grant}`);
    if (need === undefined) {
      assert.equal(run.code, 0, context);
      if (c.delivers) expected[c.delivers[0]].push(c.delivers[1]);
    } else {
      assert.equal(run.code, 1, context);
      assert.equal(run.stdout, "", context);
      // One line, "postnet COMMAND: ...", naming the flag (Deno's config warning may precede it).
      const line = run.stderr.split("\n").find((l) => l.startsWith("postnet "));
      assert.ok(line, context);
      if (typeof need === "string") assert.ok(line.includes(`requires ${need};`), context);
      else assert.match(line, need, context);
    }
  });
  await servers.assertReceived(expected);
  // The watchers that could not start left nothing; those that ran removed their socket or FIFO.
  assert.deepEqual((await Array.fromAsync(Deno.readDir(dir.path), (entry) => entry.name)).sort(), ["etc", "public"]);
});

Deno.test("-P=cli: kick CLASS SERVICE honours MAIL_CONFIG with the set's env grant, and reads /etc/postfix without it", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  // The queue is /tmp and CLASS is this test's directory: /var/spool/postfix has no such class.
  const cls = dir.path.slice(dir.path.lastIndexOf("/") + 1);
  await Deno.writeTextFile(`${dir.path}/main.cf`, `queue_directory = ${dir.path.slice(0, -cls.length - 1)}\n`);
  await using servers = await Servers.start(`${dir.path}/qmgr`, `${dir.path}/pickup`);
  const env = { MAIL_CONFIG: dir.path };
  const granted = await cli(["-P=cli"], ["kick", cls, "qmgr", "A"], env);
  assert.equal(granted.code, 0, show(granted));
  const denied = await cli(flagsOf("cli", "env"), ["kick", cls, "qmgr", "D"], env);
  assert.equal(denied.code, 1, show(denied));
  assert.match(
    denied.stderr,
    new RegExp(`^postnet kick: Cannot (read "/etc/postfix/main\\.cf"|trigger "/var/spool/postfix/${cls}/qmgr"): `, "m"),
  );
  await servers.assertReceived({ unix: ["A"], fifo: [], inet: [] });
});

// watch awaits the server's `finished`, then Deno.exit()s: `finished` must settle only once the
// FIFO is removed. When it settled as reading ended, about 3 runs in 5 left the FIFO behind.
Deno.test("-P=cli: watch removes the FIFO it created before it exits", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  const paths = Array.from({ length: 5 }, (_, i) => `${dir.path}/watch-${i}.fifo`);
  const runs = await pool(paths.map((path) => () => watch(["-P=cli"], `fifo:${path}`, "W")));
  for (const [i, run] of runs.entries()) {
    // It exited by itself after its one trigger (a kill at the deadline is SIGTERM, which also exits 0).
    assert.ok(!run.timedOut, show(run));
    assert.equal(run.code, 0, show(run));
    assert.equal(JSON.parse(run.stdout).endpoint, `fifo:${paths[i]}`, show(run));
  }
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir.path), (entry) => entry.name), []);
});

Deno.test("narrowest grants: each function works with exactly the flags its docs name", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const socket = `${dir.path}/narrow.sock`;
  const unix = Deno.listen({ transport: "unix", path: socket });
  const accepted = Promise.all([serveText(tcp, "tcp"), serveText(unix, "unix")]);
  const port = tcp.addr.port;
  // Trigger servers (this process) for fifoTrigger() and trigger() on bare paths.
  const qmgr = `${dir.path}/qmgr`;
  const pickup = `${dir.path}/pickup`;
  await using servers = await Servers.start(qmgr, pickup);
  const existingFifo = `${dir.path}/existing.fifo`;
  await mkfifo(existingFifo);
  const rw = (path: string) => [`--allow-read=${path}`, `--allow-write=${path}`];
  const unixFlags = [...rw(socket), `--allow-net=unix:${socket}`];
  // A configuration directory whose queue is /tmp, so that CLASS/qmgr is qmgr.
  const etc = `${dir.path}/etc`;
  await Deno.mkdir(etc);
  await Deno.writeTextFile(`${etc}/main.cf`, `queue_directory = ${dir.path.slice(0, dir.path.lastIndexOf("/"))}\n`);
  const cls = dir.path.slice(dir.path.lastIndexOf("/") + 1);
  const mailFlags = [`--allow-read=${etc}/main.cf,${qmgr}`, `--allow-write=${qmgr}`, `--allow-net=unix:${qmgr}`];
  const cases: {
    label: string;
    flags: string[];
    args: string[];
    value: unknown;
    cwd?: string;
    env?: Record<string, string>;
  }[] = [
    {
      label: "inetConnect(IP:PORT) with --allow-net=IP:PORT",
      flags: [`--allow-net=127.0.0.1:${port}`],
      args: ["inetConnect", `127.0.0.1:${port}`],
      value: "tcp",
    },
    {
      label: "inetConnect(localhost:PORT) with --allow-net=localhost (the host, any port: what node:dns needs)",
      flags: ["--allow-net=localhost"],
      args: ["inetConnect", `localhost:${port}`],
      value: "tcp",
    },
    { label: "unixConnect(ABS)", flags: unixFlags, args: ["unixConnect", socket], value: "unix" },
    {
      // Deno.cwd() needs no permission; Deno checks a relative socket path as unix:ABS.
      label: "unixConnect(relative) with --allow-read=REL --allow-write=REL --allow-net=unix:ABS",
      flags: [...rw("narrow.sock"), `--allow-net=unix:${socket}`],
      args: ["unixConnect", "./narrow.sock"],
      value: "unix",
      cwd: dir.path,
    },
    {
      label: "inetListen(127.0.0.1:0) with --allow-net=127.0.0.1:0",
      flags: ["--allow-net=127.0.0.1:0"],
      args: ["inetListen", "127.0.0.1:0"],
      value: "127.0.0.1",
    },
    {
      label: "unixListen(ABS)",
      flags: [...rw(`${dir.path}/new.sock`), `--allow-net=unix:${dir.path}/new.sock`],
      args: ["unixListen", `${dir.path}/new.sock`],
      value: `${dir.path}/new.sock`,
    },
    {
      label: "fifoListen(new) with read, write and --allow-run=mkfifo",
      flags: [...rw(`${dir.path}/new.fifo`), "--allow-run=mkfifo"],
      args: ["fifoListen", `${dir.path}/new.fifo`],
      value: true,
    },
    {
      label: "fifoListen(existing FIFO) with read and write only",
      flags: rw(existingFifo),
      args: ["fifoListen", existingFifo],
      value: false,
    },
    { label: "fifoTrigger(PATH)", flags: rw(pickup), args: ["fifoTrigger", pickup], value: "fifo" },
    { label: "trigger(bare FIFO path)", flags: rw(pickup), args: ["trigger", pickup], value: "fifo" },
    {
      label: "trigger(bare socket path)",
      flags: [...rw(qmgr), `--allow-net=unix:${qmgr}`],
      args: ["trigger", qmgr],
      value: "unix",
    },
    {
      label: "mailTrigger(configDirectory) with main.cf read and the socket's flags",
      flags: mailFlags,
      args: ["mailTrigger", etc, cls],
      value: "unix",
    },
    {
      label: "mailTrigger() by $MAIL_CONFIG with --allow-env=MAIL_CONFIG besides",
      flags: [...mailFlags, "--allow-env=MAIL_CONFIG"],
      args: ["mailTrigger", "-", cls],
      value: "unix",
      env: { MAIL_CONFIG: etc },
    },
  ];
  let runs: Run[];
  try {
    runs = await pool(cases.map(({ flags, args, cwd, env }) => () => fixture("narrow", flags, args, cwd, env)));
  } finally {
    tcp.close();
    unix.close();
  }
  await accepted;
  cases.forEach(({ label, value }, i) => {
    assert.equal(runs[i].code, 0, `${label}: ${show(runs[i])}`);
    assert.deepEqual(runs[i].reports, [{ step: runs[i].reports[0]?.step, ok: true, value }], label);
  });
  await servers.assertReceived({ inet: [], unix: ["N", "N", "N"], fifo: ["N", "N"] });
});

// node:dns needs --allow-net=HOST (every port); with HOST:PORT alone, inetConnect() lets
// Deno.connect resolve the name.
Deno.test("narrowest grants: inetConnect() and trigger() reach localhost:PORT with --allow-net=localhost:PORT alone", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  await using servers = await Servers.start(`${dir.path}/qmgr`, `${dir.path}/pickup`);
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = serveText(tcp, "tcp");
  const port = tcp.addr.port;
  const triggerPort = servers.inetAddress.split(":")[1];
  let runs: Run[];
  try {
    runs = await pool([
      () => fixture("narrow", [`--allow-net=localhost:${port}`], ["inetConnect", `localhost:${port}`]),
      // ":PORT" means localhost on the client side.
      () => fixture("narrow", [`--allow-net=localhost:${port}`], ["inetConnect", `:${port}`]),
      () => fixture("narrow", [`--allow-net=localhost:${triggerPort}`], ["trigger", `inet:localhost:${triggerPort}`]),
    ]);
  } finally {
    tcp.close();
  }
  assert.equal(await accepted, 2);
  assert.deepEqual(runs.map((run) => run.reports), [
    [{ step: "inetConnect", ok: true, value: "tcp" }],
    [{ step: "inetConnect", ok: true, value: "tcp" }],
    [{ step: "trigger", ok: true, value: "inet" }],
  ], runs.map(show).join("\n"));
  await servers.assertReceived({ inet: ["N"], unix: [], fifo: [] });
});

Deno.test("unixConnect() on a relative path: the NotCapable names the normalized unix:ABS grant, and that grant works", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  const unix = Deno.listen({ transport: "unix", path: `${dir.path}/relative.sock` });
  const accepted = serveText(unix, "unix");
  const rw = ["--allow-read=relative.sock", "--allow-write=relative.sock"];
  let denied: Run, granted: Run;
  try {
    denied = await fixture("narrow", rw, ["unixConnect", "./relative.sock"], dir.path);
    const flag = /requires (--allow-net=\S+);/.exec(denied.reports[0]?.message ?? "")?.[1];
    assert.equal(flag, `--allow-net=unix:${dir.path}/relative.sock`, show(denied));
    granted = await fixture("narrow", [...rw, flag], ["unixConnect", "./relative.sock"], dir.path);
  } finally {
    unix.close();
  }
  assert.equal(await accepted, 1);
  assert.equal(denied.reports[0].error, "NotCapable", show(denied));
  assert.deepEqual(granted.reports, [{ step: "unixConnect", ok: true, value: "unix" }], show(granted));
});

Deno.test("requirePermission() neither prompts nor hangs: --no-prompt, or a stdin nobody writes to, is a NotCapable at once", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  const path = `${dir.path}/nobody.sock`;
  const script = `${FIXTURES}/narrow.ts`;
  const runs = await pool([
    () => deno(["run", "--no-prompt", script, "unixConnect", path], { timeout: 10_000 }),
    // No --no-prompt: Deno would prompt on a terminal; stdin is a pipe that stays open.
    () => deno(["run", script, "unixConnect", path], { timeout: 10_000, stdin: "piped" }),
    () => deno(["run", script, "unixConnect", path], { timeout: 10_000 }),
  ]);
  for (const run of runs) {
    assert.ok(!run.timedOut, show(run));
    assert.equal(run.code, 1, show(run));
    assert.equal(run.reports.length, 1, show(run));
    assert.equal(run.reports[0].error, "NotCapable", show(run));
    assert.ok(run.reports[0].message!.includes(`requires --allow-read=${path};`), show(run));
    assert.ok(!run.stderr.includes("Deno requests"), show(run));
  }
});

/* script(1) gives a child a pseudo-terminal for stdin and stderr; without it the test below cannot run. */
const SCRIPT = new Deno.Command("sh", { args: ["-c", "command -v script"], stdout: "null", stderr: "null" })
  .outputSync().success;
if (!SCRIPT) console.log("pseudo-terminal test ignored: script(1) is not installed, so no pseudo-terminal can be made");

Deno.test({
  name: "requirePermission() does not prompt on a terminal under --no-prompt",
  ignore: !SCRIPT,
}, async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  const path = `${dir.path}/nobody.sock`;
  const command = [Deno.execPath(), "run", "--no-prompt", `${FIXTURES}/narrow.ts`, "unixConnect", path]
    .map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(" ");
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  try {
    const output = await new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const text = decoder.decode(output.stdout);
    assert.equal(output.code, 1, text);
    assert.ok(text.includes(`requires --allow-read=${path};`), text);
    assert.ok(!text.includes("Deno requests"), text);
  } finally {
    clearTimeout(timer);
  }
});

/** The ```ts examples of a file's JSDoc (not those marked `ignore`). */
function examplesOf(source: string): string[] {
  const examples: string[] = [];
  let block: string[] | undefined;
  for (const line of source.split("\n").map((l) => l.replace(/^\s*\* ?/, ""))) {
    if (block === undefined) {
      if (line.trim() === "```ts") block = [];
    } else if (line.trim() === "```") {
      examples.push(block.join("\n"));
      block = undefined;
    } else block.push(line);
  }
  return examples;
}

Deno.test("doc examples: each module's examples run under exactly its permission set", async () => {
  await using dir = await tempDir("postnet-permissions-", "/tmp");
  const exports: Record<string, string> = CONFIG.exports;
  const importOf = (sub: string) => new URL(exports[`.${sub}`], `file://${ROOT}/`).href;
  // The root module's example serves and sends triggers: it runs under the trigger set.
  const setOf = (file: string) => /^\.\/(connect|listen|trigger)\//.exec(file)?.[1] ?? "trigger";
  const jobs: { label: string; set: string; path: string }[] = [];
  for (const file of new Set(Object.values(exports))) {
    const examples = examplesOf(await Deno.readTextFile(`${ROOT}/${file}`));
    for (const [i, example] of examples.entries()) {
      const path = `${dir.path}/${file.replace(/^\.\//, "").replaceAll("/", "_").replace(/\.ts$/, "")}_${i}.ts`;
      const code = example.replace(
        /(["'])@postnet\/net(\/[a-z-]+)?\1/g,
        (_, q, sub) => `${q}${importOf(sub ?? "")}${q}`,
      );
      await Deno.writeTextFile(path, code);
      jobs.push({ label: `${file} example ${i + 1}`, set: setOf(file), path });
    }
  }
  assert.ok(jobs.length >= 14, `found ${jobs.length} examples`);
  // The examples' Deno.makeTempDir() directories land in ours, so nothing is left behind.
  await Deno.mkdir(`${dir.path}/tmp`);
  const runs = await pool(jobs.map(({ set, path }) => () =>
    // --config: deno run looks for deno.json beside the script, and these are in the temp directory.
    deno(["run", "--no-prompt", "--config", `${ROOT}/deno.json`, `-P=${set}`, path], {
      env: { TMPDIR: `${dir.path}/tmp` },
    })
  ));
  jobs.forEach(({ label, set }, i) => {
    assert.equal(runs[i].code, 0, `${label} under -P=${set}: ${show(runs[i])}`);
    assert.ok(!runs[i].stderr.includes("error"), `${label} under -P=${set}: ${show(runs[i])}`);
  });
});

Deno.test({
  name: "-P=cli: demo works whatever TMPDIR is",
  async fn() {
    const run = await cli(["-P=cli"], ["demo"], { TMPDIR: "/nonexistent/postnet-tmpdir" });
    assert.equal(run.code, 0, show(run));
  },
});
