/**
 * postkick's command line and mail_trigger() against a private Postfix
 * (DESIGN.md section 6): `cli.ts kick -c DIR`, `MAIL_CONFIG=DIR cli.ts kick`
 * and `mailTrigger({ configDirectory })` find the queue through the
 * instance's main.cf and wake its qmgr (`qmgr: request: ...` in the maillog);
 * and the other way round, with the instance stopped, `cli.ts watch` on its
 * `public/pickup` and `public/qmgr` receives what the real `sendmail -C DIR`
 * (through postdrop) and `postqueue -c DIR -f` send.
 */
import assert from "node:assert/strict";
import { mailTrigger } from "../../mod.ts";
import { CliWatch, kick } from "./_cli.ts";
import { postconfPath, skipUnlessPostfix, startPostfix } from "./_postfix.ts";

const ignore = skipUnlessPostfix();
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The maillog line qmgr -v writes for a request byte. */
function request(code: string): RegExp {
  return new RegExp(`postfix/qmgr\\[\\d+\\]: request: ${code.charCodeAt(0)} \\(${code}\\)$`);
}

for (const transport of ["unix", "fifo"] as const) {
  Deno.test({
    name: `kick -c DIR, MAIL_CONFIG=DIR kick and mailTrigger() reach the qmgr that DIR/main.cf names (${transport})`,
    ignore,
    async fn() {
      await using postfix = await startPostfix({ transport });
      const dir = postfix.configDir;

      const byFlag = await kick(["-c", dir, "public", "qmgr", "D"], { quiet: true });
      assert.deepEqual({ code: byFlag.code, stderr: byFlag.stderr }, { code: 0, stderr: "" });
      await postfix.waitForLog(request("D"), 5_000, 1);

      const byEnv = await kick(["public", "qmgr", "A"], { quiet: true, env: { MAIL_CONFIG: dir } });
      assert.deepEqual({ code: byEnv.code, stderr: byEnv.stderr }, { code: 0, stderr: "" });
      await postfix.waitForLog(request("A"), 5_000, 1);

      const verbose = await kick(["-v", "-c", dir, "public", "qmgr", "I"], { quiet: true });
      assert.equal(verbose.code, 0, verbose.stderr);
      assert.deepEqual(verbose.lines.slice(0, 3), [
        `postnet kick: main.cf: ${dir}/main.cf`,
        `postnet kick: queue directory: ${postfix.queueDir}`,
        `postnet kick: endpoint: ${transport}:${postfix.publicPath("qmgr")} (transport ${transport})`,
      ]);
      await postfix.waitForLog(request("I"), 5_000, 1);

      const result = await mailTrigger("public", "qmgr", "F", { configDirectory: dir, timeout: 5_000 });
      assert.equal(result.endpoint, `${transport}:${postfix.publicPath("qmgr")}`);
      assert.equal(result.outcome, transport === "unix" ? "closed" : "written");
      await postfix.waitForLog(request("F"), 5_000, 1);
    },
  });
}

Deno.test({
  name: "kick -c DIR exits 1 naming DIR/main.cf when the configuration directory has none",
  ignore,
  async fn() {
    await using postfix = await startPostfix({ transport: "unix" });
    const empty = `${postfix.configDir}/empty`;
    await Deno.mkdir(empty);
    const result = await kick(["-c", empty, "public", "qmgr", "D"], { quiet: true });
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(result.lines, [`postnet kick: Cannot read "${empty}/main.cf": no such file or directory`]);
    assert.doesNotMatch(await postfix.log(), request("D"));
  },
});

/** Runs a Postfix command to its end, killed after 15 s. */
async function runPostfix(command: string, args: string[], input?: string): Promise<Deno.CommandOutput> {
  const child = new Deno.Command(command, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(15_000),
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(input));
    await writer.close();
  }
  return await child.output();
}

for (const transport of ["unix", "fifo"] as const) {
  Deno.test({
    name:
      `watch on a stopped Postfix's public/pickup and public/qmgr receives sendmail's and postqueue -f's triggers (${transport})`,
    ignore,
    async fn() {
      await using postfix = await startPostfix({ transport });
      await postfix.stopMaster();
      const out = decoder.decode(
        (await runPostfix(postconfPath(), ["-dh", "sendmail_path", "command_directory"])).stdout,
      );
      const [sendmail, commandDir] = out.trim().split("\n");
      const pickup = `${transport}:${postfix.publicPath("pickup")}`;
      const qmgr = `${transport}:${postfix.publicPath("qmgr")}`;
      // pickup hears from sendmail (postdrop), then from postqueue -f, which also wakes qmgr.
      await using pickupWatch = new CliWatch(["--count", "2", pickup], { quiet: true });
      await using qmgrWatch = new CliWatch(["--count", "1", qmgr], { quiet: true });
      assert.equal(await pickupWatch.ready(), pickup);
      assert.equal(await qmgrWatch.ready(), qmgr);
      const wire = (request: string) => ({
        transport,
        request,
        bytes: request.length + (transport === "unix" ? 1 : 0),
      });
      const line = (json: string) => {
        const { transport, request, bytes } = JSON.parse(json);
        return { transport, request, bytes };
      };

      const sent = await runPostfix(
        sendmail,
        ["-C", postfix.configDir, "-f", "sender@example.invalid", "rcpt@example.invalid"],
        "Subject: postnet\n\nhello\n",
      );
      assert.equal(sent.code, 0, decoder.decode(sent.stderr));
      assert.deepEqual(line(await pickupWatch.nextLine()), wire("W"));

      const flushed = await runPostfix(`${commandDir}/postqueue`, ["-c", postfix.configDir, "-f"]);
      assert.equal(flushed.code, 0, decoder.decode(flushed.stderr));
      const qmgrLine = line(await qmgrWatch.nextLine());
      assert.deepEqual(line(await pickupWatch.nextLine()), wire("W"));
      // postqueue -f asks qmgr to flush dead destinations (F), ignore time stamps (A), scan deferred and incoming (D, I).
      assert.deepEqual(qmgrLine, wire("FADI"));
      for (const watch of [pickupWatch, qmgrWatch]) {
        const end = await watch.finished();
        assert.deepEqual({ code: end.code, timedOut: end.timedOut }, { code: 0, timedOut: false }, end.stderr);
      }
      console.log(`stopped Postfix (${transport}): sendmail -> pickup "W", postqueue -f -> qmgr "FADI" and pickup "W"`);
    },
  });
}
