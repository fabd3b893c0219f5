/**
 * The postnet command line: `kick` sends a trigger (postkick-compatible),
 * `watch` serves triggers and prints one JSON line each, `demo` shows all
 * three transports at work.
 *
 * ```sh
 * deno run -P=cli cli.ts kick unix:/var/spool/postfix/public/qmgr I
 * deno run -P=cli cli.ts kick public qmgr I          # as postkick
 * deno run -P=cli cli.ts kick -v -c /etc/postfix public qmgr I
 * deno run -P=cli cli.ts watch --count 1 fifo:/tmp/pickup
 * deno run -P=cli cli.ts demo
 * ```
 *
 * Exit status: 0 done; 1 failed (one line on stderr names the endpoint and
 * the reason); 2 usage error (nothing was touched).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { trigger, type TriggerResult } from "./trigger/trigger.ts";
import { serveTriggers, type TriggerRequest, type TriggerServer } from "./trigger/trigger_server.ts";
import { type Endpoint, parseEndpoint } from "./trigger/_endpoint.ts";
import { fifoListen, type FifoListener } from "./listen/fifo_listen.ts";
import { lstatOrUndefined } from "./listen/_path_kind.ts";
import { cannot } from "./_errors.ts";
import { mailTrigger } from "./trigger/mail_trigger.ts";
import { findQueueDirectory } from "./trigger/_queue_directory.ts";

const HELP: Record<string, string> = {
  main: `Usage: postnet <command> [options]

Commands:
  kick    send a trigger to a Postfix service (or any trigger server)
  watch   serve triggers on a socket or FIFO and print one JSON line each
  demo    run trigger servers on all three transports and trigger each

Run "postnet <command> --help" for a command's options.`,
  kick: `Usage: postnet kick [-v] [--timeout MS] ENDPOINT REQUEST
       postnet kick [-c CONFIG_DIR] [-v] [--timeout MS] [--queue-directory DIR]
                    CLASS SERVICE REQUEST

Sends REQUEST (e.g. I, D, W; not empty) as a trigger. ENDPOINT is
inet:HOST:PORT, unix:PATH, fifo:PATH or a path (a socket or FIFO, chosen by
stat). The second form is postkick's: the endpoint is
$queue_directory/CLASS/SERVICE, queue_directory read from main.cf in
CONFIG_DIR (default $MAIL_CONFIG, else /etc/postfix; /var/spool/postfix when
main.cf does not set it).

Options:
  -c, --config-directory DIR  Postfix configuration directory (its main.cf)
  --queue-directory DIR       the queue directory; main.cf is not read
  --timeout MS                give up after MS milliseconds (default 10000)
  -v, --verbose               say on stderr what was read, sent and how it ended
  -h, --help                  this help

Exit status: 0 delivered (the server read the request and closed; a FIFO:
written), 1 not delivered or not confirmed (a reset, no answer within the
timeout, a missing main.cf: one line on stderr names the endpoint or the
file), 2 usage error (nothing was touched). postkick exits 1 for a usage
error too, and 0 once the request is written.`,
  watch: `Usage: postnet watch [--count N] [--mode OCTAL] [--max-request-bytes N] ENDPOINT

Creates the socket or FIFO at ENDPOINT (unix:PATH, fifo:PATH, inet:HOST:PORT,
or a path: an existing FIFO is reused, otherwise a socket is made). Once it
listens, prints one line on stderr with the real endpoint (the port bound for
inet:HOST:0; for a FIFO, once stale bytes are drained, so a trigger written
from then on is seen):
  postnet watch: listening on ENDPOINT
Then prints one JSON line per trigger on stdout:
  {"transport","endpoint","request","bytes","hex"}
"request" is the text less the NUL that ends a stream request (bytes that are
not UTF-8 become U+FFFD); "bytes" and "hex" are the raw bytes received.

Options:
  --count N               exit after N triggers
  --mode OCTAL            mode, 0 to 777, of the socket or FIFO it creates
                          (default 666 / 622); an existing FIFO keeps its own
                          mode, and a line on stderr says so
  --max-request-bytes N   largest request taken (default 1024)
  -h, --help              this help

Exits 0 after N triggers, on SIGINT, SIGTERM or SIGHUP, or when stdout is a
closed pipe (as "watch ... | head -1"); 1 when stdout cannot be written (one
line on stderr says why). It removes what it created either way.`,
  demo: `Usage: postnet demo

Starts trigger servers on a UNIX-domain socket, a FIFO and a loopback TCP
port in a temporary directory, triggers each with the library, prints what
arrived and how long it took, cleans up and exits 0.`,
};

/** A usage error: exit 2. */
class UsageError extends Error {
  override name = "UsageError";
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function parse(
  args: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string }>,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    return parseArgs({
      args,
      options: { help: { type: "boolean" }, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function integer(name: string, value: string | undefined, radix = 10): number | undefined {
  if (value === undefined) return undefined;
  const pattern = radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!pattern.test(value)) {
    throw new UsageError(`--${name} must be ${radix === 8 ? "an octal" : "a whole"} number, got "${value}"`);
  }
  return parseInt(value, radix);
}

async function kick(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    timeout: { type: "string" },
    "queue-directory": { type: "string" },
    "config-directory": { type: "string", short: "c" },
    verbose: { type: "boolean", short: "v" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return help("kick");
  const timeout = integer("timeout", values.timeout as string | undefined);
  const queueDirectory = values["queue-directory"] as string | undefined;
  const configDirectory = values["config-directory"] as string | undefined;
  const verbose = values.verbose === true;
  // Sanity check: an empty directory would silently mean the working directory.
  if (queueDirectory === "") throw new UsageError("--queue-directory must not be empty");
  if (configDirectory === "") throw new UsageError("--config-directory must not be empty");
  const request = positionals.at(-1);
  // Sanity check: an empty request carries no command (postkick sends a lone NUL and exits 0).
  if (request === "") throw new UsageError("REQUEST must not be empty");
  const say = (line: string) => verbose && console.error(`postnet kick: ${line}`);
  let result: TriggerResult;
  if (positionals.length === 2) {
    if (queueDirectory !== undefined || configDirectory !== undefined) {
      throw new UsageError("-c and --queue-directory go with CLASS SERVICE REQUEST");
    }
    parseEndpoint(positionals[0], "client");
    result = await trigger(positionals[0], request!, { timeout });
  } else if (positionals.length === 3) {
    const [cls, service] = positionals;
    for (const part of [cls, service]) {
      if (part === "" || part.includes("/") || part === "." || part === "..") {
        throw new UsageError(`bad class or service name "${part}": it must be one path name`);
      }
    }
    const found = await findQueueDirectory(configDirectory, queueDirectory, undefined);
    say(found.mainCf === undefined ? "main.cf: not read (--queue-directory)" : `main.cf: ${found.mainCf}`);
    say(`queue directory: ${found.queueDirectory}`);
    result = await mailTrigger(cls, service, request!, { queueDirectory: found.queueDirectory, timeout });
  } else {
    throw new UsageError("expected ENDPOINT REQUEST or CLASS SERVICE REQUEST");
  }
  say(`endpoint: ${result.endpoint} (transport ${result.transport})`);
  say(`sent ${result.bytes} bytes in ${result.elapsed.toFixed(2)} ms; outcome: ${result.outcome}`);
  return confirmed(result, timeout ?? 10_000);
}

/**
 * The exit status of a kick: 0 for a confirmed receipt (the server read the
 * request and closed; a FIFO: written), else 1 with one line saying what
 * happened. postkick exits 0 once the request is written.
 */
function confirmed(result: TriggerResult, timeout: number): number {
  if (result.outcome === "closed" || result.outcome === "written") return 0;
  const why = result.outcome === "reset"
    ? "the server reset the connection; the request was written but probably not read"
    : `no answer within ${timeout} ms; the request was written, but its receipt is not confirmed`;
  console.error(`postnet kick: ${cannot("trigger", result.endpoint)}: ${why}`);
  return 1;
}

async function watch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    count: { type: "string" },
    mode: { type: "string" },
    "max-request-bytes": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return help("watch");
  if (positionals.length !== 1) throw new UsageError("expected one ENDPOINT");
  const count = integer("count", values.count as string | undefined);
  const mode = integer("mode", values.mode as string | undefined, 8);
  const maxRequestBytes = integer("max-request-bytes", values["max-request-bytes"] as string | undefined);
  // Sanity check: in the flags' own names, so no library option name reaches the user.
  if (count === 0) throw new UsageError("--count must be at least 1");
  if (mode !== undefined && mode > 0o777) throw new UsageError(`--mode must be from 0 to 777, got "${values.mode}"`);
  if (maxRequestBytes === 0) throw new UsageError("--max-request-bytes must be at least 1");
  const endpoint = parseEndpoint(positionals[0], "server");

  const stop = new AbortController();
  // Catch SIGINT, SIGTERM and SIGHUP (the terminal closed) before the socket
  // or FIFO exists: a signal sent as soon as it is visible must still remove
  // it, not kill the process.
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const onSignal = () => stop.abort();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    return await serve(positionals[0], endpoint, stop, { count, mode, maxRequestBytes });
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

/** Writes all of `bytes` to stdout (a pipe may take part of them per write). */
async function writeOut(bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
}

/** The hexadecimal digits of `bytes`, two per byte. */
function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Serves triggers until `count` have been printed, `stop` aborts or stdout
 * fails; returns the exit status (1 when stdout could not be written).
 */
async function serve(
  given: string,
  endpoint: Endpoint,
  stop: AbortController,
  { count, mode, maxRequestBytes }: { count?: number; mode?: number; maxRequestBytes?: number },
): Promise<number> {
  let seen = 0;
  let status = 0;
  // One write at a time, in the order the triggers were handled.
  let output = Promise.resolve();
  const print = (t: TriggerRequest) => {
    const line = JSON.stringify({
      transport: t.transport,
      endpoint: t.endpoint,
      request: decoder.decode(t.request),
      bytes: t.data.length,
      hex: hex(t.data),
    });
    output = output.then(() => writeOut(encoder.encode(`${line}\n`)));
    return output;
  };
  const handler = async (t: TriggerRequest) => {
    if (stop.signal.aborted || (count !== undefined && seen >= count)) return;
    seen++;
    try {
      await print(t);
    } catch (error) {
      // A closed pipe ("watch | head -1") ends the output, as it ends Unix
      // tools: exit 0. Any other write error is a failure: exit 1.
      if (!stop.signal.aborted && !(error instanceof Deno.errors.BrokenPipe)) {
        status = 1;
        console.error(`postnet watch: cannot write to stdout: ${(error as Error).message}`);
      }
      stop.abort();
      return;
    }
    if (count !== undefined && seen >= count) stop.abort();
  };
  const options = {
    maxRequestBytes,
    signal: stop.signal,
    onError: (error: unknown) => console.error(`postnet watch: ${(error as Error).message ?? error}`),
  };
  // A FIFO is opened here, not by serveTriggers, to know whether it existed:
  // an existing FIFO keeps its mode, and --mode must not pass unnoticed.
  let listener: FifoListener | undefined;
  if (
    endpoint.transport === "fifo" ||
    (endpoint.transport === undefined &&
      (await lstatOrUndefined(endpoint.path, cannot("listen on", endpoint.path)))?.isFifo)
  ) {
    listener = await fifoListen(endpoint.path, { mode, readSize: maxRequestBytes ?? 1024 });
    if (!listener.created && mode !== undefined) {
      console.error(
        `postnet watch: --mode ${
          mode.toString(8)
        } ignored: "fifo:${endpoint.path}" already exists; its mode was left alone`,
      );
    }
  }
  // A signal that came while the FIFO was being made: stop here, as serveTriggers would, and exit 0.
  if (stop.signal.aborted) {
    await listener?.close();
    return status;
  }
  let server: TriggerServer;
  try {
    server = await serveTriggers(listener ?? given, handler, { ...options, mode });
  } catch (error) {
    await listener?.close();
    throw error;
  }
  // serveTriggers resolves once the endpoint listens (a FIFO once its stale
  // bytes are drained): a trigger sent from now on is seen.
  if (!stop.signal.aborted) console.error(`postnet watch: listening on ${server.endpoint}`);
  await server.finished;
  return status;
}

async function demo(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (values.help) return help("demo");
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  // Under /tmp whatever TMPDIR says: the cli permission set grants /tmp, and
  // socket paths there stay well under the 108-byte limit.
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "postnet-demo-" });
  try {
    const rows: string[][] = [["transport", "endpoint", "sent", "arrived", "bytes", "ms"]];
    for (const endpoint of [`unix:${dir}/qmgr`, `fifo:${dir}/pickup`, "inet:127.0.0.1:0"]) {
      const arrived = Promise.withResolvers<TriggerRequest>();
      await using server = await serveTriggers(endpoint, (t) => arrived.resolve(t), {
        onError: (error) => arrived.reject(error),
      });
      const result = await trigger(server.endpoint, "I", { timeout: 5_000 });
      const got = await Promise.race([
        arrived.promise,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("nothing arrived in 5 s")), 5_000)),
      ]);
      rows.push([
        result.transport,
        server.endpoint,
        JSON.stringify("I"),
        JSON.stringify(decoder.decode(got.request)),
        String(got.data.length),
        result.elapsed.toFixed(2),
      ]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
    console.log("All three transports delivered their trigger.");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return 0;
}

function help(command: string): number {
  console.log(HELP[command]);
  return 0;
}

/** Runs the command line; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const commands: Record<string, (args: string[]) => Promise<number>> = { kick, watch, demo };
  try {
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      // No command is a usage error: the usage goes to stderr then, not to stdout.
      if (command === undefined) console.error(HELP.main);
      else console.log(HELP.main);
      return command === undefined ? 2 : 0;
    }
    const run = commands[command];
    if (!run) throw new UsageError(`unknown command "${command}"`);
    return await run(rest);
  } catch (error) {
    const usage = error instanceof UsageError || error instanceof SyntaxError || error instanceof TypeError ||
      error instanceof RangeError;
    const message = (error instanceof Error || error instanceof DOMException) ? error.message : String(error);
    const hint = usage ? ` (see "postnet ${commands[command] ? `${command} ` : ""}--help")` : "";
    console.error(`postnet${command ? ` ${command}` : ""}: ${message.replaceAll("\n", " ")}${hint}`);
    return usage ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
