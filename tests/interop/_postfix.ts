/**
 * Test helper: runs a private Postfix instance entirely under a fresh temp
 * dir, so interop tests can use the real `master`, `qmgr`, `pickup` and
 * `postkick` as peers (DESIGN.md section 6).
 *
 * The instance never touches the system's default Postfix (`/etc/postfix`,
 * `/var/spool/postfix`) and binds no TCP port: its config dir, queue, data
 * dir and maillog all live in one temp dir under `/tmp` (where the `cli`
 * permission set of deno.json reaches) that {@linkcode PostfixInstance}
 * removes when it is stopped. `stopMaster()` / `startMaster()` stop and
 * restart the master on the same dir, for tests of a Postfix that is down.
 *
 * Requires root (the master runs its daemons as `mail_owner`), Linux and
 * `--allow-read --allow-write --allow-run --allow-env --allow-sys`.
 *
 * About `-c DIR` and `alternate_config_directories`: as root, `postfix -c`,
 * `postkick -c`, `postqueue -c` and `sendmail -C` all accept a config dir
 * that is not listed in the default main.cf. Only the set-group-id commands
 * (`postqueue`, `postdrop`) run by a non-root user refuse it ("unauthorized
 * configuration directory name"); that is why this helper requires root and
 * never edits `/etc/postfix`.
 *
 * @example
 * ```ts ignore
 * await using postfix = await startPostfix({ transport: "unix" });
 * await postkick(postfix.configDir, "public", "qmgr", "D");
 * await postfix.waitForLog(/qmgr\[\d+\]: request: 68 \(D\)$/);
 * ```
 *
 * @module
 */
import { delay } from "../_util.ts";

/** Options for {@linkcode startPostfix}. */
export interface PostfixOptions {
  /**
   * How `pickup` and `qmgr` are declared in master.cf: `unix` (the default
   * since Postfix 2.10) or `fifo` (the default up to Postfix 2.9).
   */
  transport: "unix" | "fifo";
}

/** A running private Postfix instance; dispose of it to stop it. */
export interface PostfixInstance extends AsyncDisposable {
  /** The instance's config dir (main.cf, master.cf), for `-c`. */
  readonly configDir: string;
  /** The instance's `queue_directory`. */
  readonly queueDir: string;
  /** The instance's `maillog_file`. */
  readonly maillog: string;
  /**
   * Returns the absolute path of `$queue_directory/public/<service>`.
   *
   * @param service The trigger service.
   */
  publicPath(service: "qmgr" | "pickup"): string;
  /**
   * Resolves with the first (or `count`-th) maillog line that matches `re`.
   * Polls the file every 50 ms.
   *
   * @param re Pattern tested against each line (flags `g` and `y` are ignored).
   * @param timeoutMs How long to wait. @default {5000}
   * @param count How many matching lines to wait for. @default {1}
   * @throws {Error} On timeout; the message includes the tail of the log.
   */
  waitForLog(re: RegExp, timeoutMs?: number, count?: number): Promise<string>;
  /** Reads the whole maillog ("" before anything was logged). */
  log(): Promise<string>;
  /**
   * Stops the master (`postfix -c DIR stop`) and waits up to 10 s for it to
   * exit (then SIGKILLs it), but KEEPS the temp dir: the queue's sockets and
   * FIFOs stay behind with nothing serving them, as after a real shutdown.
   * {@linkcode PostfixInstance.startMaster} starts it again. Does nothing
   * when the master is not running.
   *
   * @throws {Error} When the master cannot be stopped, or after `stop()`.
   */
  stopMaster(): Promise<void>;
  /**
   * Starts the master again on the same dir (`postfix -c DIR start`) after
   * {@linkcode PostfixInstance.stopMaster}, and waits until it logged its
   * start.
   *
   * @throws {Error} When it does not start, when it is running, or after `stop()`.
   */
  startMaster(): Promise<void>;
  /**
   * Runs `postfix -c DIR stop`, waits up to 10 s for the master to exit
   * (then SIGKILLs it), and removes the temp dir. Idempotent; disposal calls it.
   *
   * @throws {Error} When the master cannot be stopped.
   */
  stop(): Promise<void>;
}

/** Result of {@linkcode postkick}. */
export interface PostkickResult {
  /** Exit code (141 = SIGPIPE as the shell would show it: see `signal`). */
  code: number;
  /** The signal that ended postkick, or null. */
  signal: string | null;
  /** What postkick wrote to stderr. */
  stderr: string;
  /** True when this helper killed postkick because `timeoutMs` passed. */
  timedOut: boolean;
}

interface Tools {
  postconf: string;
  postfix: string;
  postkick: string;
  masterCf: string;
}

interface RunResult {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const MASTER_CF_CANDIDATES = [
  "/usr/share/postfix/master.cf.dist",
  "/etc/postfix/master.cf.proto",
];
const POLL_MS = 50;
const COMMAND_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const decoder = new TextDecoder();

// Computed once: the answer does not change while the tests run.
let probed: { tools?: Tools; reason?: string } | undefined;
let skipNoticePrinted = false;

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function probe(): { tools?: Tools; reason?: string } {
  if (Deno.build.os !== "linux") return { reason: "postfix needs Linux" };
  try {
    if (Deno.uid() !== 0) return { reason: "not running as root" };
  } catch (error) {
    return { reason: `cannot check for root: ${error}` };
  }
  const path = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d);
  const postconf = [...path, "/usr/sbin"].map((d) => `${d}/postconf`)
    .find(isExecutable);
  if (postconf === undefined) return { reason: "postfix is not installed" };
  let dirs: string[];
  try {
    const out = new Deno.Command(postconf, {
      args: ["-d", "-h", "command_directory", "daemon_directory"],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (!out.success) {
      return { reason: `postconf -d failed: ${decoder.decode(out.stderr)}` };
    }
    dirs = decoder.decode(out.stdout).trim().split("\n");
  } catch (error) {
    return { reason: `cannot run ${postconf}: ${error}` };
  }
  const [commandDir, daemonDir] = dirs;
  const tools = {
    postconf,
    postfix: `${commandDir}/postfix`,
    postkick: `${commandDir}/postkick`,
    masterCf: MASTER_CF_CANDIDATES.find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    }) ?? "",
  };
  for (const exe of [tools.postfix, tools.postkick, `${daemonDir}/master`]) {
    if (!isExecutable(exe)) return { reason: `${exe} is not installed` };
  }
  if (tools.masterCf === "") {
    return { reason: `no master.cf template (${MASTER_CF_CANDIDATES})` };
  }
  return { tools };
}

function tools(): Tools {
  probed ??= probe();
  if (probed.tools === undefined) throw new Error(probed.reason);
  return probed.tools;
}

/**
 * Tells whether a private Postfix instance can run here.
 *
 * @returns undefined when usable, else the reason it is not
 * (e.g. "postfix is not installed", "not running as root").
 */
export function postfixAvailable(): string | undefined {
  probed ??= probe();
  return probed.reason;
}

/**
 * The path of the real `postconf`, for tests that use it as an oracle.
 *
 * @throws {Error} When Postfix is unavailable (check {@linkcode skipUnlessPostfix} first).
 */
export function postconfPath(): string {
  return tools().postconf;
}

/**
 * Returns the `ignore` value for a `Deno.test` that needs Postfix, printing
 * the skip reason once.
 *
 * @throws {Error} When Postfix is unavailable and the environment variable
 * `POSTNET_REQUIRE_POSTFIX` is `1` (CI says the tests must run).
 */
export function skipUnlessPostfix(): boolean {
  const reason = postfixAvailable();
  if (reason === undefined) return false;
  if (Deno.env.get("POSTNET_REQUIRE_POSTFIX") === "1") {
    throw new Error(
      `POSTNET_REQUIRE_POSTFIX=1 but Postfix is unavailable: ${reason}`,
    );
  }
  if (!skipNoticePrinted) {
    skipNoticePrinted = true;
    console.warn(`Skipping Postfix interop tests: ${reason}`);
  }
  return true;
}

/** Runs a command to completion, killing it (SIGTERM) after timeoutMs. */
async function run(
  cmd: string,
  args: string[],
  timeoutMs: number = COMMAND_TIMEOUT_MS,
): Promise<RunResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    return {
      code: out.code,
      signal: out.signal,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      timedOut: controller.signal.aborted,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command and throws unless it exits 0. */
async function mustRun(cmd: string, args: string[]): Promise<string> {
  const out = await run(cmd, args);
  if (out.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")}: exit ${out.code}` +
        `${out.timedOut ? " (timed out)" : ""}: ${out.stderr}${out.stdout}`,
    );
  }
  return out.stdout;
}

/**
 * Runs the real postkick: `postkick -c configDir CLASS SERVICE REQUEST`.
 *
 * postkick keeps a unix-socket connection open until the server closes it,
 * so a server that never closes makes it hang: the helper then kills it
 * and reports `timedOut`.
 *
 * @param configDir Config dir whose main.cf names the `queue_directory`.
 * @param cls Queue subdirectory (`public` or `private`).
 * @param service Service name under it (`qmgr`, `pickup`).
 * @param request Request bytes (e.g. `"D"`).
 * @param timeoutMs Kill postkick after this long. @default {5000}
 */
export async function postkick(
  configDir: string,
  cls: string,
  service: string,
  request: string,
  timeoutMs: number = 5000,
): Promise<PostkickResult> {
  const out = await run(
    tools().postkick,
    ["-c", configDir, cls, service, request],
    timeoutMs,
  );
  const { code, signal, stderr, timedOut } = out;
  return { code, signal, stderr, timedOut };
}

/**
 * Creates a config dir whose `queue_directory` is `queueDir`, without
 * starting anything, so that the real postkick can be pointed at OUR
 * server at `queueDir/<class>/<service>`.
 *
 * The dir is made inside `queueDir` (as `etc-XXXX`), so removing
 * `queueDir` removes it too.
 *
 * @param queueDir An existing directory, used as `queue_directory`.
 * @returns The config dir, for {@linkcode postkick}.
 */
export async function makeClientConfig(queueDir: string): Promise<string> {
  const { postconf, masterCf } = tools();
  const configDir = await Deno.makeTempDir({ dir: queueDir, prefix: "etc-" });
  await Deno.chmod(configDir, 0o755);
  await Deno.writeTextFile(`${configDir}/main.cf`, "");
  await Deno.copyFile(masterCf, `${configDir}/master.cf`);
  await mustRun(postconf, [
    "-c",
    configDir,
    "-e",
    `queue_directory=${await Deno.realPath(queueDir)}`,
    "compatibility_level=3.6",
  ]);
  await backdate(configDir);
  return configDir;
}

/**
 * Backdates main.cf and master.cf. Postfix rereads main.cf every 300 ms
 * while its mtime is under about a second old (in case an editor is still
 * writing it), so every command would lose ~2 s on a freshly edited file.
 */
async function backdate(configDir: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  for (const file of ["main.cf", "master.cf"]) {
    await Deno.utime(`${configDir}/${file}`, past, past);
  }
}

/** Reads the pid in a pid file; undefined if there is none. */
async function readPid(path: string): Promise<number | undefined> {
  try {
    const pid = parseInt((await Deno.readTextFile(path)).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * True while pid names a live (not zombie) Postfix master. A pid reused by
 * another program counts as gone, so we never signal a stranger.
 */
async function isMasterAlive(pid: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  // "pid (comm) state ...": comm may itself contain ") ".
  const close = stat.lastIndexOf(")");
  const comm = stat.slice(stat.indexOf("(") + 1, close);
  const state = stat.charAt(close + 2);
  return comm === "master" && state !== "Z" && state !== "X";
}

class Instance implements PostfixInstance {
  readonly configDir: string;
  readonly queueDir: string;
  readonly maillog: string;
  #root: string;
  #stopping: Promise<void> | undefined;
  /** How many times the master was started: its "daemon started" lines. */
  #starts = 0;
  /** A stop of the master in progress, shared by stopMaster() and stop(). */
  #stoppingMaster: Promise<string[]> | undefined;

  constructor(root: string) {
    this.#root = root;
    this.configDir = `${root}/etc`;
    this.queueDir = `${root}/queue`;
    this.maillog = `${root}/maillog`;
  }

  publicPath(service: "qmgr" | "pickup"): string {
    return `${this.queueDir}/public/${service}`;
  }

  async log(): Promise<string> {
    try {
      return await Deno.readTextFile(this.maillog);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "";
      throw error;
    }
  }

  async waitForLog(re: RegExp, timeoutMs = 5000, count = 1): Promise<string> {
    // Sanity check: a g or y flag would make test() stateful.
    const pattern = new RegExp(re.source, re.flags.replace(/[gy]/g, ""));
    const deadline = Date.now() + timeoutMs;
    let text = "";
    for (;;) {
      text = await this.log();
      const hits = text.split("\n").filter((line) => pattern.test(line));
      if (hits.length >= count) return hits[count - 1];
      if (Date.now() >= deadline) break;
      await delay(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
    }
    const tail = text.trimEnd().split("\n").slice(-30).join("\n");
    throw new Error(
      `No ${count} line(s) matching ${re} in ${this.maillog} after ` +
        `${timeoutMs} ms; log tail:\n${tail}`,
    );
  }

  /** Starts the master and waits until it logged its start. */
  async start(): Promise<void> {
    this.#starts++;
    const out = await run(tools().postfix, ["-c", this.configDir, "start"]);
    if (out.code !== 0) {
      // postfix writes to stderr only when it is a tty: the reason is in
      // the maillog, or (before postfix read main.cf) in syslog only.
      const log = (await this.log()).trimEnd() ||
        "(maillog is empty: postfix failed before it could log there)";
      throw new Error(
        `postfix -c ${this.configDir} start: exit ${out.code}: ` +
          `${out.stderr}${out.stdout}\n${log.split("\n").slice(-20).join("\n")}`,
      );
    }
    await this.waitForLog(
      /postfix\/master\[\d+\]: daemon started/,
      COMMAND_TIMEOUT_MS,
      this.#starts,
    );
  }

  async startMaster(): Promise<void> {
    if (this.#stopping !== undefined) throw new Error("instance was stopped");
    if (await this.#masterPid() !== undefined) {
      throw new Error(`master is already running in ${this.queueDir}`);
    }
    await this.start();
  }

  async stopMaster(): Promise<void> {
    if (this.#stopping !== undefined) throw new Error("instance was stopped");
    const errors = await this.#stopMasterOnce();
    if (errors.length > 0) throw new Error(errors.join("; "));
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** The pid of the live master, or undefined. */
  async #masterPid(): Promise<number | undefined> {
    const pid = await readPid(`${this.queueDir}/pid/master.pid`);
    return pid !== undefined && await isMasterAlive(pid) ? pid : undefined;
  }

  /** Joins a stop in progress, or starts one. */
  #stopMasterOnce(): Promise<string[]> {
    this.#stoppingMaster ??= this.#stopMaster().finally(() => {
      this.#stoppingMaster = undefined;
    });
    return this.#stoppingMaster;
  }

  /** Stops the master if it runs; returns what went wrong. */
  async #stopMaster(): Promise<string[]> {
    const errors: string[] = [];
    const pid = await this.#masterPid();
    if (pid === undefined) return errors;
    const out = await run(tools().postfix, ["-c", this.configDir, "stop"]);
    if (out.code !== 0) {
      errors.push(`postfix stop: exit ${out.code}: ${out.stderr}`);
    }
    // Bounded wait: postfix stop gives up waiting after 5 s.
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (await isMasterAlive(pid) && Date.now() < deadline) {
      await delay(POLL_MS);
    }
    if (await isMasterAlive(pid)) {
      // Safety net: never leave a master running.
      errors.push(`master ${pid} still alive after stop; killed`);
      Deno.kill(pid, "SIGKILL");
    }
    return errors;
  }

  async #stop(): Promise<void> {
    let errors: string[];
    try {
      errors = await this.#stopMasterOnce();
    } finally {
      await Deno.remove(this.#root, { recursive: true });
    }
    if (errors.length > 0) throw new Error(errors.join("; "));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** Writes main.cf and master.cf of a standalone private instance. */
async function configure(
  instance: Instance,
  root: string,
  transport: "unix" | "fifo",
): Promise<void> {
  const { postconf, masterCf } = tools();
  const dir = instance.configDir;
  const edit = async (...args: string[]): Promise<string> => {
    const out = await mustRun(postconf, ["-c", dir, ...args]);
    await backdate(dir);
    return out;
  };
  await Deno.mkdir(dir, { mode: 0o755 });
  // postfix chdirs to the queue dir before it creates its subdirectories.
  await Deno.mkdir(instance.queueDir, { mode: 0o755 });
  await Deno.writeTextFile(`${dir}/main.cf`, "");
  await Deno.copyFile(masterCf, `${dir}/master.cf`);
  await backdate(dir);
  await edit(
    "-e",
    `queue_directory=${instance.queueDir}`,
    // postfix start creates it, owned by mail_owner.
    `data_directory=${root}/data`,
    `maillog_file=${instance.maillog}`,
    // Without this, maillog_file must be under /var.
    `maillog_file_prefixes=${root}`,
    `myhostname=${root.split("/").pop()}.postnet.invalid`,
    "compatibility_level=3.6",
    "inet_interfaces=loopback-only",
    "inet_protocols=ipv4",
    "mydestination=",
    // Mail that a test might inject never leaves the machine.
    "default_transport=error:postnet test instance",
    "relay_transport=error:postnet test instance",
  );
  // Services run unchrooted (a chroot needs copies of /etc files); no
  // TCP listener (smtp/inet is the only inet service in the template).
  await edit("-F", "*/*/chroot = n");
  await edit("-MX", "smtp/inet");
  // maillog_file is written by postlogd.
  await edit("-M", "postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd");
  // -v logs each trigger; wakeup 0 stops master's periodic "W" triggers,
  // so every trigger in the log was sent by a test.
  for (const service of ["pickup", "qmgr"]) {
    await edit(
      "-F",
      `${service}/unix/command=${service} -v`,
      `${service}/unix/wakeup=0`,
      `${service}/unix/type=${transport}`,
    );
  }
  // Safety net: nothing may bind a TCP port.
  const services = await mustRun(postconf, ["-c", dir, "-M"]);
  const inet = services.split("\n").filter((l) => /^\S+\s+inet\s/.test(l));
  if (inet.length > 0) throw new Error(`inet services left: ${inet}`);
}

/**
 * Starts a private Postfix instance under a fresh temp dir. On failure
 * everything is cleaned up before the promise rejects.
 *
 * @param options How to declare pickup and qmgr.
 * @returns The running instance; `await using` stops it and removes its dir.
 * @throws {TypeError} When `options.transport` is not `unix` or `fifo`.
 * @throws {Error} When Postfix is unavailable or does not start.
 */
export async function startPostfix(
  options: PostfixOptions,
): Promise<PostfixInstance> {
  // Sanity check:
  if (options.transport !== "unix" && options.transport !== "fifo") {
    throw new TypeError(`Invalid transport: ${options.transport}`);
  }
  // Fail before creating anything when Postfix is unusable here.
  tools();
  // Under /tmp whatever TMPDIR says: the `cli` permission set in deno.json
  // grants /tmp (and /var/spool/postfix) only, and `deno run -P=cli cli.ts
  // kick` must reach this queue.
  const root = await Deno.makeTempDir({ dir: "/tmp", prefix: "postnet-postfix-" });
  const instance = new Instance(root);
  try {
    // Daemons run as mail_owner and must traverse the path to the queue.
    await Deno.chmod(root, 0o755);
    await configure(instance, root, options.transport);
    await instance.start();
  } catch (error) {
    try {
      await instance.stop();
    } catch (cleanup) {
      throw new AggregateError([error, cleanup], "startPostfix failed");
    }
    throw error;
  }
  return instance;
}
