/**
 * The postnet command line: `kick` sends a trigger (postkick-compatible),
 * `watch` serves triggers and prints one JSON line each, `demo` shows all
 * three transports at work.
 *
 * ```sh
 * deno run -P=cli cli.ts kick unix:/var/spool/postfix/public/qmgr I
 * deno run -P=cli cli.ts kick public qmgr I          # as postkick
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
import { trigger } from "./trigger/trigger.ts";
import { serveTriggers, type TriggerRequest, type TriggerServer } from "./trigger/trigger_server.ts";
import { parseEndpoint } from "./trigger/_endpoint.ts";

const HELP: Record<string, string> = {
  main: `Usage: postnet <command> [options]

Commands:
  kick    send a trigger to a Postfix service (or any trigger server)
  watch   serve triggers on a socket or FIFO and print one JSON line each
  demo    run trigger servers on all three transports and trigger each

Run "postnet <command> --help" for a command's options.`,
  kick: `Usage: postnet kick [--timeout MS] ENDPOINT REQUEST
       postnet kick [--timeout MS] [--queue-directory DIR] CLASS SERVICE REQUEST

Sends REQUEST (e.g. I, D, W) as a trigger. ENDPOINT is inet:HOST:PORT,
unix:PATH, fifo:PATH or a path (a socket or FIFO, chosen by stat). The
second form is postkick's: the endpoint is DIR/CLASS/SERVICE.

Options:
  --timeout MS            give up after MS milliseconds (default 10000)
  --queue-directory DIR   Postfix queue directory (default /var/spool/postfix)

Exit status: 0 delivered, 1 not delivered (reason on stderr), 2 usage error.`,
  watch: `Usage: postnet watch [--count N] [--mode OCTAL] [--max-request-bytes N] ENDPOINT

Creates the socket or FIFO at ENDPOINT (unix:PATH, fifo:PATH, inet:HOST:PORT,
or a path: an existing FIFO is reused, otherwise a socket is made) and prints
one JSON line per trigger: {"transport","endpoint","request","bytes"}.

Options:
  --count N               exit after N triggers
  --mode OCTAL            mode of the socket or FIFO (default 666 / 622)
  --max-request-bytes N   largest request taken (default 1024)

Exits 0 after N triggers or on SIGINT/SIGTERM, removing what it created.`,
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

function parse(
  args: string[],
  options: Record<string, { type: "string" | "boolean" }>,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean" } },
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
    throw new UsageError(`--${name} must be a ${radix === 8 ? "octal" : "whole"} number, got "${value}"`);
  }
  return parseInt(value, radix);
}

async function kick(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { timeout: { type: "string" }, "queue-directory": { type: "string" } });
  if (values.help) return help("kick");
  const timeout = integer("timeout", values.timeout as string | undefined);
  let endpoint: string;
  let request: string;
  if (positionals.length === 2) {
    if (values["queue-directory"] !== undefined) {
      throw new UsageError("--queue-directory goes with CLASS SERVICE REQUEST");
    }
    [endpoint, request] = positionals;
  } else if (positionals.length === 3) {
    const [cls, service] = positionals;
    for (const part of [cls, service]) {
      if (part === "" || part.includes("/") || part === "..") {
        throw new UsageError(`bad class or service name "${part}"`);
      }
    }
    endpoint = `${(values["queue-directory"] as string | undefined) ?? "/var/spool/postfix"}/${cls}/${service}`;
    request = positionals[2];
  } else {
    throw new UsageError("expected ENDPOINT REQUEST or CLASS SERVICE REQUEST");
  }
  parseEndpoint(endpoint, "client");
  await trigger(endpoint, request, { timeout });
  return 0;
}

async function watch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    count: { type: "string" },
    mode: { type: "string" },
    "max-request-bytes": { type: "string" },
  });
  if (values.help) return help("watch");
  if (positionals.length !== 1) throw new UsageError("expected one ENDPOINT");
  const count = integer("count", values.count as string | undefined);
  const mode = integer("mode", values.mode as string | undefined, 8);
  const maxRequestBytes = integer("max-request-bytes", values["max-request-bytes"] as string | undefined);
  if (count === 0) throw new UsageError("--count must be at least 1");
  parseEndpoint(positionals[0], "server");

  const stop = new AbortController();
  // Catch SIGINT and SIGTERM before the socket or FIFO exists: a signal sent
  // as soon as it is visible must still remove it, not kill the process.
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = () => stop.abort();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    await serve(positionals[0], stop, count, mode, maxRequestBytes);
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
  return 0;
}

/** Serves triggers until `count` have been printed or `stop` aborts. */
async function serve(
  endpoint: string,
  stop: AbortController,
  count: number | undefined,
  mode: number | undefined,
  maxRequestBytes: number | undefined,
): Promise<void> {
  let seen = 0;
  const server: TriggerServer = await serveTriggers(endpoint, (t: TriggerRequest) => {
    if (count !== undefined && seen >= count) return;
    seen++;
    const line = {
      transport: t.transport,
      endpoint: t.endpoint,
      request: decoder.decode(t.request),
      bytes: t.data.length,
    };
    console.log(JSON.stringify(line));
    if (count !== undefined && seen >= count) stop.abort();
  }, {
    mode,
    maxRequestBytes,
    signal: stop.signal,
    onError: (error) => console.error(`postnet watch: ${(error as Error).message ?? error}`),
  });
  await server.finished;
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
