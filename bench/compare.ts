/**
 * Side by side: raw Deno, postnet and Node.js doing the same work, plus the
 * scenario figures of DESIGN.md section 7, in one invocation.
 *
 * ```sh
 * deno run -A bench/compare.ts [--n 300] [--rounds 25] [--out bench/results]
 * ```
 *
 * Every client and server under test runs in a process of its own: two Deno
 * agents (bench/_agent.ts: one for clients, one for servers) and one Node
 * agent (bench/node_agent.mjs, skipped with a printed reason when `node` is
 * absent), driven over stdin/stdout (bench/_harness.ts). The parts, each in
 * a file of its own:
 *
 * - bench/_client_rows.ts: trigger clients to one raw Deno server;
 * - bench/_server_rows.ts: trigger servers driven by one raw Deno client;
 * - bench/_io_rows.ts: io/ request-reply ping-pong over one connection;
 * - bench/_scenarios.ts: Happy Eyeballs, deadlines, bursts, silent
 *   connections, memory.
 *
 * Every row has raw Deno (bounding nothing) as its baseline and "bounded"
 * raw Deno (a timer per operation) beside it; how rounds become figures and
 * ratios is in bench/_rows.ts. Prints the table (bench/_report.ts) and
 * writes `latest.json` and `latest.svg` to the output directory.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { clientRows } from "./_client_rows.ts";
import { type Answer, closeHarness, machine, openHarness } from "./_harness.ts";
import { ioRows } from "./_io_rows.ts";
import { chart, printScenarios, printTable } from "./_report.ts";
import { runScenarios } from "./_scenarios.ts";
import { serverRows } from "./_server_rows.ts";

const started = performance.now();
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "300" },
    rounds: { type: "string", default: "25" },
    out: { type: "string", default: new URL("./results", import.meta.url).pathname },
  },
});
const n = Number(flags.n);
const rounds = Number(flags.rounds);
if (!(n >= 64) || !(rounds >= 1)) throw new RangeError("--n must be at least 64 and --rounds at least 1");

const harness = await openHarness(n, rounds);
const report: Answer = {
  date: new Date().toISOString(),
  machine: await machine(harness),
  settings: { n, rounds, concurrency: 64 },
};
try {
  const rows = [...await clientRows(harness), ...await serverRows(harness), ...await ioRows(harness)];
  report.rows = rows;
  printTable(rows, n, rounds);
  report.scenarios = await runScenarios(harness);
  printScenarios(report.scenarios as Answer);
} finally {
  await closeHarness(harness);
}
report.seconds = (performance.now() - started) / 1000;
await Deno.mkdir(flags.out, { recursive: true });
await Deno.writeTextFile(`${flags.out}/latest.json`, JSON.stringify(report, null, 2) + "\n");
await Deno.writeTextFile(`${flags.out}/latest.svg`, chart(report.rows as Parameters<typeof chart>[0], rounds));
console.log(`\nwrote ${flags.out}/latest.json and latest.svg in ${(report.seconds as number).toFixed(1)} s`);
