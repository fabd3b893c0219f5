/**
 * Descriptor ceilings: a trigger server under a low RLIMIT_NOFILE (run with
 * `prlimit --nofile=256:256`) never runs its process out of descriptors by
 * default, reports exhaustion once per episode when the caller allows more
 * connections than descriptors, uses little CPU meanwhile, closes silent
 * clients at readTimeout and serves real triggers once they are gone.
 */
import assert from "node:assert/strict";
import { unixTrigger } from "../../trigger/unix_trigger.ts";
import { inetTrigger } from "../../trigger/inet_trigger.ts";
import { Child, delay, fdCount, HERE, tempDir, within } from "./_util.ts";

const LIMIT = 256;
const CLIENTS = 400;
const READ_TIMEOUT = 1_000;
const prlimit = (() => {
  try {
    return new Deno.Command("prlimit", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
})();

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Connects up to `count` silent clients; connects refused by a full backlog are counted, not kept. */
async function silentClients(connect: () => Promise<Deno.Conn>, count: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < count; i++) {
    try {
      conns.push(await within(connect(), 5_000, "connect"));
    } catch (error) {
      // A full backlog refuses (unix: EAGAIN at once); that is the limit working.
      if (!(error instanceof Deno.errors.WouldBlock || error instanceof Deno.errors.ConnectionRefused)) throw error;
    }
  }
  return conns;
}

/** How many of `conns` the server has closed (end-of-file) within `ms`. */
async function closedBy(conns: Deno.Conn[], ms: number): Promise<number> {
  const buffer = new Uint8Array(1);
  const ends = await Promise.all(
    conns.map((conn) => within(conn.read(buffer), ms, "server close").then((n) => n === null, () => false)),
  );
  return ends.filter(Boolean).length;
}

for (const transport of ["unix", "inet"] as const) {
  for (const maxConnections of [undefined, 2048]) {
    const label = maxConnections === undefined ? "the default maxConnections" : `maxConnections ${maxConnections}`;
    Deno.test({
      name: `serveTriggers(${transport}) under a descriptor limit of ${LIMIT} with ${label}: ${CLIENTS} silent ` +
        `clients, then 20 of 20 triggers served`,
      ignore: !prlimit || Deno.build.os !== "linux",
      async fn() {
        await using dir = await tempDir();
        const endpoint = transport === "unix" ? `unix:${dir.path}/qmgr` : "inet:127.0.0.1:0";
        const args = [`--nofile=${LIMIT}:${LIMIT}`, Deno.execPath(), "run", "-q", "-A", `${HERE}_serve.ts`, endpoint];
        args.push("--read-timeout", String(READ_TIMEOUT));
        if (maxConnections !== undefined) args.push("--max-connections", String(maxConnections));
        await using server = new Child("prlimit", args, { lifetime: 40_000, stdin: true });
        const bound = await server.line("ready ", 15_000);
        const connect = transport === "unix"
          ? () => Deno.connect({ transport: "unix", path: `${dir.path}/qmgr` })
          : () => Deno.connect({ hostname: "127.0.0.1", port: Number(bound.slice(bound.lastIndexOf(":") + 1)) });

        // The silent clients, from this process (its own limit is not the server's).
        const conns = await silentClients(connect, CLIENTS);
        try {
          // While they hold every slot: descriptors below the limit, little CPU.
          let most = 0;
          const cpuBefore = cpuSeconds(server.pid);
          const sampledFrom = performance.now();
          for (let i = 0; i < 10; i++) {
            most = Math.max(most, fdCount(server.pid));
            await delay(50);
          }
          const cpu = (cpuSeconds(server.pid) - cpuBefore) / ((performance.now() - sampledFrom) / 1000);
          console.log(
            `${transport}, ${label}: ${conns.length} connected, server holds at most ${most} descriptors ` +
              `(limit ${LIMIT}), CPU ${(cpu * 100).toFixed(1)}% while they are held`,
          );
          // By default the server keeps below the limit; beyond it is the caller's choice, and it survives.
          if (maxConnections === undefined) assert.ok(most < LIMIT, `${most} descriptors open, limit ${LIMIT}`);
          assert.ok(cpu < 0.15, `CPU ${(cpu * 100).toFixed(1)}% while clients hold every slot`);
          assert.equal(server.hasExited, false, `the server died: ${server.errors.join("\n")}`);
          // The server closes the silent ones at readTimeout.
          const closed = await closedBy(conns, READ_TIMEOUT * 3);
          assert.ok(closed > 0, "the server closed silent clients at readTimeout");
        } finally {
          for (const conn of conns) conn.close();
        }

        // Once they are gone, real triggers are served: all 20.
        await delay(READ_TIMEOUT);
        const target = transport === "unix" ? `${dir.path}/qmgr` : bound.slice("inet:".length);
        const outcomes: string[] = [];
        for (let i = 0; i < 20; i++) {
          const result = transport === "unix"
            ? await unixTrigger(target, "I", { timeout: 10_000 })
            : await inetTrigger(target, "I", { timeout: 10_000 });
          outcomes.push(result.outcome);
        }
        assert.deepEqual(outcomes, Array(20).fill("closed"));
        await server.waitFor((lines) => lines.filter((l) => l.startsWith("T 2 ")).length >= 20, 10_000, "20 triggers");
        assert.equal(server.hasExited, false);
        const reports = server.lines.filter((line) => line.startsWith("E "));
        console.log(`${transport}, ${label}: ${reports.length} errors reported: ${reports.slice(0, 2).join(" | ")}`);
        if (maxConnections === undefined) {
          // Within its descriptors by default: nothing ever failed to accept.
          assert.deepEqual(reports, []);
        } else {
          // Beyond them by the caller's choice: exhaustion reported once per episode, not per retry.
          // An episode ends when an accept succeeds (a slot freed), so under load a few may start; never one per retry.
          assert.ok(reports.length >= 1 && reports.length <= 10, `${reports.length} reports`);
          for (const report of reports) {
            const message = JSON.parse(report.slice(report.indexOf(" ", 2) + 1));
            assert.match(message, /^Cannot accept on ".+": too many open files; new connections wait/);
          }
        }
      },
    });
  }
}

Deno.test({
  name: "a trigger client out of descriptors fails with an error naming its endpoint",
  ignore: !prlimit || Deno.build.os !== "linux",
  async fn() {
    await using dir = await tempDir();
    using _listener = Deno.listen({ transport: "unix", path: `${dir.path}/qmgr` });
    const library = new URL("../../trigger/trigger.ts", import.meta.url).href;
    const script = `
      import { trigger } from "${library}";
      const held = [];
      try {
        for (let i = 0; i < 200; i++) held.push(Deno.openSync("/dev/null"));
      } catch { /* the limit is reached */ }
      try {
        await trigger("unix:${dir.path}/qmgr", "I", { timeout: 5_000 });
        console.log("delivered");
      } catch (error) {
        console.log(error.constructor.name + ": " + error.message);
      }
    `;
    await Deno.writeTextFile(`${dir.path}/client.ts`, script);
    const args = ["--nofile=64:64", Deno.execPath(), "run", "-q", "-A", `${dir.path}/client.ts`];
    await using client = new Child("prlimit", args, { lifetime: 30_000 });
    const status = await within(client.exited, 30_000, "the client's exit");
    await client.waitFor((lines) => lines.length > 0, 5_000, "the client's line");
    assert.equal(status.code, 0, client.errors.join("\n"));
    assert.match(
      client.lines[0],
      new RegExp(`^Error: Cannot (trigger|connect to) "unix:${dir.path}/qmgr": too many open files`),
    );
  },
});
