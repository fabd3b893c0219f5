import assert from "node:assert/strict";
import { mailTrigger } from "../../trigger/mail_trigger.ts";
import { fifoListen } from "../../listen/fifo_listen.ts";
import { acceptRequest, runScript, tempDir, within } from "../_util.ts";

const decoder = new TextDecoder();

/** A config dir and a queue dir with public/, in one fresh temp dir; main.cf names the queue by reference. */
async function postfixDirs(): Promise<{ path: string; etc: string; queue: string } & AsyncDisposable> {
  const dir = await tempDir("postnet-mail-trigger-");
  const etc = `${dir.path}/etc`;
  const queue = `${dir.path}/spool/queue`;
  await Deno.mkdir(etc);
  await Deno.mkdir(`${queue}/public`, { recursive: true });
  await Deno.writeTextFile(
    `${etc}/main.cf`,
    `# a private instance\nspool = ${dir.path}/spool\nqueue_directory =\n  $spool/queue\n`,
  );
  return { ...dir, etc, queue, [Symbol.asyncDispose]: dir[Symbol.asyncDispose] };
}

Deno.test("mailTrigger() reads queue_directory from configDirectory/main.cf and triggers the socket CLASS/SERVICE", async () => {
  await using dirs = await postfixDirs();
  const path = `${dirs.queue}/public/qmgr`;
  using listener = Deno.listen({ transport: "unix", path });
  const [received, result] = await Promise.all([
    acceptRequest(listener),
    mailTrigger("public", "qmgr", "D", { configDirectory: dirs.etc, timeout: 5_000 }),
  ]);
  assert.deepEqual([...received], [0x44, 0]);
  assert.equal(result.endpoint, `unix:${path}`);
  assert.equal(result.transport, "unix");
  assert.equal(result.bytes, 2);
});

Deno.test("mailTrigger() triggers a FIFO at CLASS/SERVICE, chosen by stat", async () => {
  await using dirs = await postfixDirs();
  await using fifo = await fifoListen(`${dirs.queue}/public/pickup`);
  const result = await mailTrigger("public", "pickup", "W", { configDirectory: `${dirs.etc}/`, timeout: 5_000 });
  assert.equal(result.transport, "fifo");
  assert.equal(result.outcome, "written");
  assert.equal(decoder.decode((await within(fifo.read(), 5_000, "fifo read"))!), "W");
});

Deno.test("mailTrigger() takes queueDirectory over main.cf, which it then does not read", async () => {
  await using dirs = await postfixDirs();
  using listener = Deno.listen({ transport: "unix", path: `${dirs.queue}/public/qmgr` });
  const [received, result] = await Promise.all([
    acceptRequest(listener),
    mailTrigger("public", "qmgr", "I", { configDirectory: `${dirs.path}/none`, queueDirectory: dirs.queue }),
  ]);
  assert.deepEqual([...received], [0x49, 0]);
  assert.equal(result.outcome, "closed");
});

Deno.test("mailTrigger() uses $MAIL_CONFIG when no configDirectory is given", async () => {
  await using dirs = await postfixDirs();
  using listener = Deno.listen({ transport: "unix", path: `${dirs.queue}/public/qmgr` });
  Deno.env.set("MAIL_CONFIG", dirs.etc);
  try {
    const [received] = await Promise.all([acceptRequest(listener), mailTrigger("public", "qmgr", "A")]);
    assert.deepEqual([...received], [0x41, 0]);
  } finally {
    Deno.env.delete("MAIL_CONFIG");
  }
});

Deno.test("mailTrigger() reads /etc/postfix/main.cf when MAIL_CONFIG may not be read, and names the flag it needs", async () => {
  await using dirs = await postfixDirs();
  const module = new URL("../../trigger/mail_trigger.ts", import.meta.url).href;
  const script = `
    import { mailTrigger } from "${module}";
    try {
      await mailTrigger("public", "qmgr", "I");
    } catch (error) {
      console.log(error.name + ": " + error.message);
    }
  `;
  // MAIL_CONFIG is set (the child inherits it), but without --allow-env it is not looked at, and nothing prompts.
  Deno.env.set("MAIL_CONFIG", dirs.etc);
  let result;
  try {
    result = await runScript(dirs.path, script, [`--allow-read=${dirs.path}`], []);
  } finally {
    Deno.env.delete("MAIL_CONFIG");
  }
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout.trim(),
    'NotCapable: Cannot read "/etc/postfix/main.cf": requires --allow-read=/etc/postfix/main.cf; ' +
      "run again with --allow-read=/etc/postfix/main.cf",
  );
});

Deno.test("mailTrigger() uses /var/spool/postfix when main.cf does not set queue_directory", async () => {
  await using dir = await tempDir("postnet-mail-trigger-");
  await Deno.writeTextFile(`${dir.path}/main.cf`, "myhostname = example.invalid\n");
  // A class no Postfix has: the error names the path under the default queue, nothing is triggered.
  await assert.rejects(
    mailTrigger("postnet-no-such-class", "qmgr", "I", { configDirectory: dir.path }),
    (error: unknown) => {
      assert.ok(error instanceof Deno.errors.NotFound, `${error}`);
      assert.match(error.message, /^Cannot trigger "\/var\/spool\/postfix\/postnet-no-such-class\/qmgr": /);
      return true;
    },
  );
});

Deno.test("mailTrigger() rejects with NotFound naming main.cf when it is missing, InvalidData when it is not a file", async () => {
  await using dirs = await postfixDirs();
  await assert.rejects(
    mailTrigger("public", "qmgr", "I", { configDirectory: `${dirs.path}/none` }),
    (error: unknown) => {
      assert.ok(error instanceof Deno.errors.NotFound, `${error}`);
      assert.equal(error.message, `Cannot read "${dirs.path}/none/main.cf": no such file or directory`);
      return true;
    },
  );
  await Deno.mkdir(`${dirs.path}/odd/main.cf`, { recursive: true });
  await assert.rejects(
    mailTrigger("public", "qmgr", "I", { configDirectory: `${dirs.path}/odd` }),
    (error: unknown) => {
      assert.ok(error instanceof Deno.errors.InvalidData, `${error}`);
      assert.equal(error.message, `Cannot read "${dirs.path}/odd/main.cf": it is not a regular file`);
      return true;
    },
  );
  await Deno.writeTextFile(`${dirs.etc}/main.cf`, "queue_directory = $queue_directory\n");
  await assert.rejects(mailTrigger("public", "qmgr", "I", { configDirectory: dirs.etc }), SyntaxError);
  await Deno.writeTextFile(`${dirs.etc}/main.cf`, "queue_directory =\n");
  await assert.rejects(mailTrigger("public", "qmgr", "I", { configDirectory: dirs.etc }), {
    name: "SyntaxError",
    message: `Cannot read "${dirs.etc}/main.cf": queue_directory is empty`,
  });
});

Deno.test("mailTrigger() rejects a CLASS or SERVICE that is not one path name, and bad options, before any I/O", async () => {
  await using dirs = await postfixDirs();
  // A socket that would take the trigger, were anything sent.
  using listener = Deno.listen({ transport: "unix", path: `${dirs.queue}/public/qmgr` });
  const options = { configDirectory: dirs.etc };
  for (
    const [cls, service] of [["", "qmgr"], [".", "qmgr"], ["..", "qmgr"], ["public", "../public/qmgr"], ["a/b", "c"], [
      "public",
      "",
    ], ["public", ".."]]
  ) {
    await assert.rejects(mailTrigger(cls, service, "I", options), SyntaxError, `${cls} ${service}`);
  }
  await assert.rejects(mailTrigger(1 as unknown as string, "qmgr", "I", options), TypeError);
  await assert.rejects(mailTrigger("public", "qmgr", "I", { configDirectory: "" }), TypeError);
  await assert.rejects(mailTrigger("public", "qmgr", "I", { queueDirectory: "" }), TypeError);
  await assert.rejects(mailTrigger("public", "qmgr", "I", { ...options, bogus: 1 } as never), TypeError);
  await assert.rejects(mailTrigger("public", "qmgr", "I", { ...options, timeout: -1 }), RangeError);
  const reason = new Error("stop");
  await assert.rejects(mailTrigger("public", "qmgr", "I", { ...options, signal: AbortSignal.abort(reason) }), reason);
  // Nothing reached the socket: the next connection is a trigger we send now.
  const [received] = await Promise.all([acceptRequest(listener), mailTrigger("public", "qmgr", "F", options)]);
  assert.deepEqual([...received], [0x46, 0]);
});

Deno.test("mailTrigger() names the endpoint without a doubled slash when main.cf's queue_directory ends in /", async () => {
  await using dirs = await postfixDirs();
  await Deno.writeTextFile(`${dirs.etc}/main.cf`, `queue_directory = ${dirs.queue}//\n`);
  const path = `${dirs.queue}/public/qmgr`;
  using listener = Deno.listen({ transport: "unix", path });
  const [, result] = await Promise.all([
    acceptRequest(listener),
    mailTrigger("public", "qmgr", "I", { configDirectory: `${dirs.etc}//` }),
  ]);
  assert.equal(result.endpoint, `unix:${path}`);
});
