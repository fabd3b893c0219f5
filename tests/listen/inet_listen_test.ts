import assert from "node:assert/strict";
import { inetListen, type InetListenOptions } from "../../listen/inet_listen.ts";
import { probeIpv6, runScript, tempDir, within } from "../_util.ts";

const LIBRARY = new URL("../../listen/inet_listen.ts", import.meta.url).href;

/* Whether this machine can bind the IPv6 loopback address, and why not. */
const IPV6 = probeIpv6();
if (!IPV6.ok) console.log(`IPv6 tests skipped: cannot listen on [::1]: ${IPV6.reason}`);

/* Proves a listener works: one connection over loopback, bytes both ways. */
async function assertAccepts(listener: Deno.TcpListener, hostname: string): Promise<void> {
  using client = await Deno.connect({ hostname, port: listener.addr.port });
  using peer = await within(listener.accept(), 5_000, "accept");
  await client.write(new TextEncoder().encode("ping"));
  const buffer = new Uint8Array(16);
  const n = await within(peer.read(buffer), 5_000, "read");
  assert.equal(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), "ping");
}

Deno.test("inetListen() listens on 127.0.0.1:0 and accepts a connection", async () => {
  using listener = inetListen("127.0.0.1:0");
  assert.equal(listener.addr.transport, "tcp");
  assert.equal(listener.addr.hostname, "127.0.0.1");
  assert.ok(listener.addr.port > 0 && listener.addr.port <= 65535);
  await assertAccepts(listener, "127.0.0.1");
});

Deno.test("inetListen() accepts the bracketed form [127.0.0.1]:0 and a host name", async () => {
  using bracketed = inetListen("[127.0.0.1]:0");
  assert.equal(bracketed.addr.hostname, "127.0.0.1");
  await assertAccepts(bracketed, "127.0.0.1");
  // /etc/hosts decides the family of localhost; either loopback is fine.
  using named = inetListen("localhost:0");
  assert.ok(["127.0.0.1", "::1"].includes(named.addr.hostname), named.addr.hostname);
  await assertAccepts(named, named.addr.hostname);
});

Deno.test({
  name: "inetListen() listens on [::1]:0, [ipv6:::1]:0 and ::1:0",
  ignore: !IPV6.ok,
  async fn() {
    for (const address of ["[::1]:0", "[ipv6:::1]:0", "::1:0"]) {
      using listener = inetListen(address);
      assert.equal(listener.addr.hostname, "::1", address);
      assert.ok(listener.addr.port > 0, address);
      await assertAccepts(listener, "::1");
    }
  },
});

Deno.test({
  name: "inetListen() binds the wildcard address for ':0' and '0' by protocols",
  async fn() {
    const cases: [string, InetListenOptions["protocols"], string][] = [
      [":0", "ipv4", "0.0.0.0"],
      ["0", "ipv4", "0.0.0.0"],
    ];
    if (IPV6.ok) {
      cases.push([":0", undefined, "::"], ["0", "all", "::"], [":0", "ipv6", "::"], ["0", "ipv6", "::"]);
    }
    for (const [address, protocols, wildcard] of cases) {
      using listener = inetListen(address, { protocols });
      assert.equal(listener.addr.hostname, wildcard, `${address} ${protocols}`);
      // Both 0.0.0.0 and the dual-stack "::" take IPv4 loopback connections.
      await assertAccepts(listener, "127.0.0.1");
    }
  },
});

Deno.test({
  name: "inetListen() with protocols ipv4 refuses [::1]:0 with AddrNotAvailable before any I/O",
  // No net permission at all: the refusal must come before the permission check and the bind.
  permissions: { net: false },
  fn() {
    for (const address of ["[::1]:0", "::1:0", "[ipv6:::1]:0"]) {
      assert.throws(
        () => inetListen(address, { protocols: "ipv4" }),
        (error: unknown) => {
          assert.ok(error instanceof Deno.errors.AddrNotAvailable, String(error));
          assert.match(error.message, /IPv6/);
          assert.ok(error.message.includes(address), error.message);
          return true;
        },
      );
    }
    assert.throws(() => inetListen("127.0.0.1:0", { protocols: "ipv6" }), Deno.errors.AddrNotAvailable);
  },
});

Deno.test("inetListen() refuses a host name that resolves to a family protocols forbids, and releases the port", () => {
  // Find the family localhost resolves to here, then forbid it.
  let family: "ipv4" | "ipv6";
  {
    using probe = Deno.listen({ hostname: "localhost", port: 0 });
    family = probe.addr.hostname.includes(":") ? "ipv6" : "ipv4";
  }
  const forbidding = family === "ipv4" ? "ipv6" : "ipv4";
  assert.throws(
    () => inetListen("localhost:0", { protocols: forbidding }),
    (error: unknown) => {
      assert.ok(error instanceof Deno.errors.AddrNotAvailable, String(error));
      assert.ok(error.message.includes(`protocols "${forbidding}"`), error.message);
      return true;
    },
  );
  // The resource sanitizer proves the listener bound on the way was closed.
});

Deno.test("inetListen() throws AddrInUse naming the address when the port is taken", async () => {
  using taken = inetListen("127.0.0.1:0");
  const address = `127.0.0.1:${taken.addr.port}`;
  assert.throws(
    () => inetListen(address),
    (error: unknown) => {
      assert.ok(error instanceof Deno.errors.AddrInUse, String(error));
      assert.ok(error.message.includes(`"inet:${address}"`), error.message);
      assert.ok(error.cause instanceof Deno.errors.AddrInUse);
      return true;
    },
  );
  // The wildcard address overlaps it too.
  assert.throws(() => inetListen(`:${taken.addr.port}`, { protocols: "ipv4" }), Deno.errors.AddrInUse);
  // The refusal left the first listener working.
  await assertAccepts(taken, "127.0.0.1");
});

Deno.test("inetListen() throws AddrNotAvailable for an address that is not local", () => {
  // 192.0.2.1 is TEST-NET-1: binding it fails locally, nothing is sent.
  assert.throws(
    () => inetListen("192.0.2.1:0"),
    (error: unknown) => {
      assert.ok(error instanceof Deno.errors.AddrNotAvailable, String(error));
      assert.ok(error.message.includes(`"inet:192.0.2.1:0"`), error.message);
      return true;
    },
  );
});

Deno.test("inetListen() close() releases the port for a new listener", async () => {
  const first = inetListen("127.0.0.1:0");
  const port = first.addr.port;
  first.close();
  using second = inetListen(`127.0.0.1:${port}`);
  assert.equal(second.addr.port, port);
  await assertAccepts(second, "127.0.0.1");
});

Deno.test({
  name: "inetListen() throws SyntaxError for an unparsable address before any I/O",
  permissions: { net: false },
  fn() {
    for (
      const address of [
        "",
        "127.0.0.1",
        "127.0.0.1:",
        "[127.0.0.1]",
        "[127.0.0.1]x:0",
        "[::1:0",
        "25x",
        "*:25",
        "h:nope",
      ]
    ) {
      assert.throws(() => inetListen(address), SyntaxError, JSON.stringify(address));
    }
  },
});

Deno.test({
  name: "inetListen() throws RangeError for a port or backlog out of range before any I/O",
  permissions: { net: false },
  fn() {
    for (const address of ["127.0.0.1:65536", ":99999", "[::1]:100000"]) {
      assert.throws(() => inetListen(address), RangeError, address);
    }
    for (const backlog of [-1, 65536, 1.5, NaN, Infinity]) {
      assert.throws(
        () => inetListen("127.0.0.1:0", { backlog }),
        (error: unknown) => {
          assert.ok(error instanceof RangeError, String(error));
          assert.match(error.message, /backlog/);
          return true;
        },
        String(backlog),
      );
    }
  },
});

Deno.test("inetListen() accepts backlog 0, 1 and 65535", async () => {
  for (const backlog of [0, 1, 65535]) {
    using listener = inetListen("127.0.0.1:0", { backlog });
    await assertAccepts(listener, "127.0.0.1");
  }
});

Deno.test({
  name: "inetListen() throws TypeError for arguments of the wrong type before any I/O",
  permissions: { net: false },
  fn() {
    const call = inetListen as (address: unknown, options?: unknown) => Deno.TcpListener;
    for (const address of [25, null, undefined, {}, ["127.0.0.1:0"]]) {
      assert.throws(() => call(address), TypeError, String(address));
    }
    for (const protocols of ["ipv5", "IPv4", "", 4, null]) {
      assert.throws(
        () => call("127.0.0.1:0", { protocols }),
        (error: unknown) => error instanceof TypeError && /protocols/.test(error.message),
        String(protocols),
      );
    }
    for (const reusePort of ["yes", 1, "false"]) {
      assert.throws(
        () => call("127.0.0.1:0", { reusePort }),
        (error: unknown) => error instanceof TypeError && /reusePort/.test(error.message),
        String(reusePort),
      );
    }
  },
});

Deno.test({
  name: "inetListen() throws NotCapable naming --allow-net=HOST:PORT without net permission",
  permissions: { net: false },
  fn() {
    const cases: [string, InetListenOptions, string][] = [
      ["127.0.0.1:0", {}, "--allow-net=127.0.0.1:0"],
      [":0", { protocols: "ipv4" }, "--allow-net=0.0.0.0:0"],
      [":0", {}, "--allow-net=[::]:0"],
      ["[::1]:0", {}, "--allow-net=[::1]:0"],
    ];
    for (const [address, options, flag] of cases) {
      assert.throws(
        () => inetListen(address, options),
        (error: unknown) => {
          assert.ok(error instanceof Deno.errors.NotCapable, String(error));
          assert.ok(error.message.includes(flag), error.message);
          assert.ok(error.message.includes(`"inet:${address}"`), error.message);
          return true;
        },
      );
    }
  },
});

Deno.test({
  name: "inetListen() works with net permission narrowed to the host",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    using listener = inetListen("127.0.0.1:0");
    await assertAccepts(listener, "127.0.0.1");
    assert.throws(() => inetListen(":0", { protocols: "ipv4" }), Deno.errors.NotCapable);
  },
});

Deno.test("inetListen() with reusePort and no --unstable-net throws NotSupported and the process lives on", async () => {
  const script = `
import { inetListen } from ${JSON.stringify(LIBRARY)};
try {
  const listener = inetListen("127.0.0.1:0", { reusePort: true });
  listener.close();
  console.log("listened");
} catch (error) {
  console.log(JSON.stringify({ name: error.constructor.name, message: error.message }));
}
console.log("alive");
`;
  await using dir = await tempDir();
  const result = await runScript(dir.path, script, ["--allow-net=127.0.0.1"]);
  assert.equal(result.timedOut, false);
  assert.equal(result.code, 0, result.stderr);
  const [first, second] = result.stdout.trim().split("\n");
  const error = JSON.parse(first);
  assert.equal(error.name, "NotSupported");
  assert.match(error.message, /reusePort requires --unstable-net/);
  assert.match(error.message, /"inet:127\.0\.0\.1:0"/);
  assert.equal(second, "alive");
});

Deno.test("inetListen() with reusePort and --unstable-net lets two listeners share a port", async () => {
  const script = `
import { inetListen } from ${JSON.stringify(LIBRARY)};
using first = inetListen("127.0.0.1:0", { reusePort: true });
using second = inetListen(\`127.0.0.1:\${first.addr.port}\`, { reusePort: true });
console.log(JSON.stringify([first.addr.port, second.addr.port]));
`;
  await using dir = await tempDir();
  const result = await runScript(dir.path, script, ["--unstable-net", "--allow-net=127.0.0.1"]);
  assert.equal(result.timedOut, false);
  assert.equal(result.code, 0, result.stderr);
  const [a, b] = JSON.parse(result.stdout.trim());
  assert.ok(a > 0);
  assert.equal(a, b);
});
