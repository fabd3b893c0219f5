/**
 * Our clients wake the REAL Postfix: `trigger()` and `cli.ts kick` against
 * a private instance's qmgr and pickup, declared as `unix` (Postfix >= 2.10)
 * and as `fifo` (Postfix <= 2.9) services. Proof is in the maillog: qmgr
 * (run with -v) logs each request byte, `request: 68 (D)`; pickup and qmgr
 * log `trigger_server_accept_local` (socket) or `trigger_server_accept_fifo`
 * (FIFO) `: trigger arrived`.
 */
import assert from "node:assert/strict";
import { trigger } from "../../mod.ts";
import { kick } from "./_cli.ts";
import { skipUnlessPostfix, startPostfix } from "./_postfix.ts";

const ignore = skipUnlessPostfix();
const QMGR_D = /postfix\/qmgr\[\d+\]: request: 68 \(D\)$/;

/** The maillog line a trigger server writes when a trigger arrives over `transport`. */
function arrived(service: "qmgr" | "pickup", transport: "unix" | "fifo"): RegExp {
  const how = transport === "unix" ? "local" : "fifo";
  return new RegExp(`postfix/${service}\\[\\d+\\]: trigger_server_accept_${how}: trigger arrived$`);
}

for (const transport of ["unix", "fifo"] as const) {
  Deno.test({
    name: `trigger() wakes the real qmgr and pickup by bare path and by ${transport}: endpoint (${transport})`,
    ignore,
    async fn() {
      await using postfix = await startPostfix({ transport });
      const qmgr = postfix.publicPath("qmgr");
      const wire = transport === "unix" ? 2 : 1; // a stream trigger ends with a NUL; a FIFO one does not

      // A bare path: stat picks the transport, as postkick does.
      const bare = await trigger(qmgr, "D", { timeout: 5_000 });
      assert.equal(bare.transport, transport);
      assert.equal(bare.endpoint, `${transport}:${qmgr}`);
      assert.equal(bare.bytes, wire);
      // qmgr closes the connection once it has read: the trigger saw that close.
      assert.equal(bare.peerClosed, transport === "unix");
      await postfix.waitForLog(QMGR_D, 5_000, 1);

      // The transport named explicitly.
      const prefixed = await trigger(`${transport}:${qmgr}`, "D", { timeout: 5_000 });
      assert.equal(prefixed.transport, transport);
      assert.equal(prefixed.bytes, wire);
      await postfix.waitForLog(QMGR_D, 5_000, 2);
      await postfix.waitForLog(arrived("qmgr", transport), 5_000, 2);

      // pickup: the master starts it on demand when its first trigger arrives.
      const pickup = await trigger(postfix.publicPath("pickup"), "W", { timeout: 5_000 });
      assert.equal(pickup.transport, transport);
      await postfix.waitForLog(arrived("pickup", transport), 5_000, 1);
      await trigger(`${transport}:${postfix.publicPath("pickup")}`, "W", { timeout: 5_000 });
      await postfix.waitForLog(arrived("pickup", transport), 5_000, 2);
    },
  });

  Deno.test({
    name: `cli.ts kick wakes the real qmgr and pickup in postkick form and ENDPOINT form (${transport})`,
    ignore,
    async fn() {
      await using postfix = await startPostfix({ transport });
      const queue = ["--queue-directory", postfix.queueDir];
      const steps: [string[], RegExp, number][] = [
        // postkick's form: CLASS SERVICE REQUEST under the queue directory.
        [[...queue, "public", "qmgr", "D"], QMGR_D, 1],
        // ENDPOINT REQUEST, with the transport named, then as a bare path.
        [[`${transport}:${postfix.publicPath("qmgr")}`, "D"], QMGR_D, 2],
        [[postfix.publicPath("qmgr"), "D"], QMGR_D, 3],
        [[...queue, "public", "pickup", "W"], arrived("pickup", transport), 1],
        [[`${transport}:${postfix.publicPath("pickup")}`, "W"], arrived("pickup", transport), 2],
      ];
      for (const [args, logged, count] of steps) {
        const result = await kick(args);
        assert.deepEqual(
          { code: result.code, stdout: result.stdout, lines: result.lines },
          { code: 0, stdout: "", lines: [] },
          `kick ${args.join(" ")}: ${result.stderr}`,
        );
        await postfix.waitForLog(logged, 5_000, count);
      }
      assert.equal((await postfix.log()).match(new RegExp(arrived("qmgr", transport).source, "gm"))?.length, 3);
    },
  });
}
