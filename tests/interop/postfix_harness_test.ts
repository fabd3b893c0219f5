import assert from "node:assert/strict";
import { makeClientConfig, postkick, skipUnlessPostfix, startPostfix } from "./_postfix.ts";

const ignore = skipUnlessPostfix();

async function masterPid(queueDir: string): Promise<number> {
  const text = await Deno.readTextFile(`${queueDir}/pid/master.pid`);
  return parseInt(text.trim(), 10);
}

async function isGone(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
}

for (const transport of ["unix", "fifo"] as const) {
  Deno.test({
    name: `startPostfix() runs a private instance that logs qmgr requests (${transport})`,
    ignore,
    async fn() {
      const postfix = await startPostfix({ transport });
      let pid = 0;
      try {
        pid = await masterPid(postfix.queueDir);
        const info = await Deno.lstat(postfix.publicPath("qmgr"));
        assert.equal(
          transport === "unix" ? info.isSocket : info.isFifo,
          true,
          `public/qmgr is not a ${transport}`,
        );
        const kick = await postkick(postfix.configDir, "public", "qmgr", "D");
        // unix: qmgr may close after reading "D" alone, so the NUL that
        // follows kills postkick with SIGPIPE although D was delivered.
        assert.ok(
          kick.code === 0 || (transport === "unix" && kick.signal === "SIGPIPE"),
          `postkick: ${JSON.stringify(kick)}`,
        );
        const line = await postfix.waitForLog(
          /postfix\/qmgr\[\d+\]: request: 68 \(D\)$/,
        );
        assert.match(line, /request: 68 \(D\)/);
      } finally {
        await postfix.stop();
      }
      assert.equal(await isGone(pid), true, `master ${pid} still running`);
      await assert.rejects(Deno.lstat(postfix.configDir), Deno.errors.NotFound);
    },
  });
}

Deno.test({
  name: "makeClientConfig() points the real postkick at our unix listener",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${dir}/public`);
      const configDir = await makeClientConfig(dir);
      using listener = Deno.listen({
        transport: "unix",
        path: `${dir}/public/qmgr`,
      });
      const kick = postkick(configDir, "public", "qmgr", "I");
      const received: number[] = [];
      {
        using conn = await listener.accept();
        const buf = new Uint8Array(64);
        // Read until the NUL that ends a unix trigger, so postkick never
        // writes to a closed socket.
        while (!received.includes(0)) {
          const n = await conn.read(buf);
          if (n === null) break;
          received.push(...buf.subarray(0, n));
        }
      }
      const result = await kick;
      assert.deepEqual(received, [..."I\0"].map((c) => c.charCodeAt(0)));
      assert.deepEqual(result, {
        code: 0,
        signal: null,
        stderr: "",
        timedOut: false,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "stopMaster() keeps the queue dir and startMaster() runs a new master on it",
  ignore,
  async fn() {
    await using postfix = await startPostfix({ transport: "unix" });
    const first = await masterPid(postfix.queueDir);
    await postfix.stopMaster();
    assert.equal(await isGone(first), true, `master ${first} still running`);
    // The queue stays, with the socket that nothing serves now.
    assert.equal((await Deno.lstat(postfix.publicPath("qmgr"))).isSocket, true);
    await postfix.stopMaster(); // nothing runs: a no-op

    await postfix.startMaster();
    const second = await masterPid(postfix.queueDir);
    assert.notEqual(second, first);
    assert.equal(await isGone(second), false);
    await assert.rejects(postfix.startMaster(), /already running/);
    await postfix.waitForLog(/postfix\/master\[\d+\]: daemon started/, 5_000, 2);

    await postfix.stop();
    assert.equal(await isGone(second), true, `master ${second} still running`);
    await assert.rejects(Deno.lstat(postfix.configDir), Deno.errors.NotFound);
    await assert.rejects(postfix.startMaster(), /instance was stopped/);
  },
});
