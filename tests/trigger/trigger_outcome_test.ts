/**
 * A trigger's result tells a confirmed receipt from a dropped connection and
 * from no answer; limits on request size are said before any I/O or named
 * when the server cuts.
 */
import assert from "node:assert/strict";
import { fifoTrigger } from "../../trigger/fifo_trigger.ts";
import { inetTrigger } from "../../trigger/inet_trigger.ts";
import { trigger } from "../../trigger/trigger.ts";
import { serveTriggers } from "../../trigger/trigger_server.ts";
import { unixTrigger } from "../../trigger/unix_trigger.ts";
import { fifoReader, mkfifo, tempDir, within } from "../_util.ts";

Deno.test("unixTrigger() and inetTrigger() report outcome closed when a server read the request and closed", async () => {
  await using dir = await tempDir();
  let handled = 0;
  await using unix = await serveTriggers(`unix:${dir.path}/qmgr`, () => void handled++);
  await using inet = await serveTriggers("inet:127.0.0.1:0", () => void handled++);
  const a = await within(unixTrigger(`${dir.path}/qmgr`, "I"), 5_000, "unix trigger");
  const b = await within(inetTrigger(inet.endpoint.slice("inet:".length), "I"), 5_000, "inet trigger");
  assert.deepEqual([a.outcome, a.peerClosed, b.outcome, b.peerClosed], ["closed", true, "closed", true]);
  await unix.close();
  await inet.close();
  assert.equal(handled, 2);
});

Deno.test("fifoTrigger() reports outcome written", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  const result = await fifoTrigger(path, "W");
  assert.equal(result.outcome, "written");
  assert.deepEqual([...fifo.take()], [0x57]);
});

/** A raw listener that never accepts, and its endpoint. */
function rawListener(transport: "unix" | "inet", dir: string): { listener: Deno.Listener; endpoint: string } {
  if (transport === "unix") {
    return { listener: Deno.listen({ transport: "unix", path: `${dir}/qmgr` }), endpoint: `unix:${dir}/qmgr` };
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return { listener, endpoint: `inet:127.0.0.1:${listener.addr.port}` };
}

for (const transport of ["unix", "inet"] as const) {
  Deno.test(`${transport} trigger to a listener that closes without accepting reports outcome reset, not closed`, async () => {
    await using dir = await tempDir();
    const { listener, endpoint } = rawListener(transport, dir.path);
    // The connection waits in the backlog with the request unread; the listener then goes away.
    const sent = trigger(endpoint, "I", { timeout: 5_000 });
    setTimeout(() => listener.close(), 200);
    const result = await within(sent, 5_000, "trigger");
    assert.equal(result.outcome, "reset");
    assert.equal(result.bytes, 2);
  });

  Deno.test(`${transport} trigger to a listener that never accepts reports outcome timeout at its timeout`, async () => {
    await using dir = await tempDir();
    const { listener, endpoint } = rawListener(transport, dir.path);
    using _listener = listener;
    const result = await within(trigger(endpoint, "I", { timeout: 300 }), 5_000, "trigger");
    assert.equal(result.outcome, "timeout");
    assert.equal(result.peerClosed, false);
  });
}

Deno.test("triggers in flight when a server closes early: only those it handled are confirmed", async () => {
  await using dir = await tempDir();
  let handled = 0;
  const server = await serveTriggers(`unix:${dir.path}/qmgr`, () => void handled++, { maxConnections: 1 });
  const results = Array.from(
    { length: 200 },
    () => unixTrigger(`${dir.path}/qmgr`, "D", { timeout: 5_000 }).catch((error) => error),
  );
  // Close once the server has served a few: the rest are queued or not yet connected.
  setTimeout(() => void server.close(), 5);
  const settled = await within(Promise.all(results), 10_000, "200 triggers");
  await within(server.close(), 5_000, "close");
  const confirmed = settled.filter((r) => !(r instanceof Error) && r.outcome === "closed").length;
  const others = settled.filter((r) => r instanceof Error || r.outcome !== "closed");
  assert.ok(confirmed <= handled, `${confirmed} confirmed, ${handled} handled`);
  assert.ok(others.length > 0, "some triggers were cut off by the close");
  for (const other of others) {
    if (other instanceof Error) {
      assert.ok(
        other instanceof Deno.errors.ConnectionRefused || other instanceof Deno.errors.NotFound ||
          other instanceof Deno.errors.BrokenPipe || other instanceof Deno.errors.ConnectionReset,
        String(other),
      );
    } else assert.equal(other.outcome, "reset");
  }
});

Deno.test("fifoTrigger() rejects a request over 4096 bytes with RangeError, writing nothing", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pickup`;
  await mkfifo(path);
  using fifo = fifoReader(path);
  await assert.rejects(fifoTrigger(path, new Uint8Array(4097).fill(0x41)), (error: Error) => {
    assert.ok(error instanceof RangeError, String(error));
    assert.match(error.message, /4097 bytes.*4096 \(PIPE_BUF\)/);
    return true;
  });
  assert.equal(fifo.take().length, 0);
  // 4096 bytes are one atomic write, taken whole.
  assert.equal((await fifoTrigger(path, new Uint8Array(4096).fill(0x41))).bytes, 4096);
  assert.equal(fifo.take().length, 4096);
});

Deno.test("a stream request longer than the server takes fails saying the server cut it after part of it", async () => {
  await using dir = await tempDir();
  const seen: number[] = [];
  await using server = await serveTriggers(`unix:${dir.path}/qmgr`, (t) => void seen.push(t.data.length));
  const error = await within(
    unixTrigger(`${dir.path}/qmgr`, new Uint8Array(300_000).fill(0x41), { timeout: 5_000 }).catch((e) => e),
    10_000,
    "trigger",
  );
  assert.ok(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset, String(error));
  assert.match(
    error.message,
    /^Cannot trigger "unix:[^"]+": the server closed the connection after \d+ of the request's 300001 bytes/,
  );
  await server.close();
  // The server handled what it takes: its limit, 1024 bytes.
  assert.deepEqual(seen, [1024]);
});
