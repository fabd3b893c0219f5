/**
 * Subprocess fixture: a client that dies mid-request. Opens COUNT
 * connections to a trigger server, prints `dripping`, then writes one byte
 * ("d", never the NUL that ends a request) on each every INTERVAL ms, until
 * it is killed (or, bounded, after 400 rounds).
 *
 * deno run -A _dripper.ts unix:PATH|inet:HOST:PORT COUNT INTERVAL
 *
 * @module
 */
const [endpoint, countText, intervalText] = Deno.args;
const count = Number(countText);
const interval = Number(intervalText);
const colon = endpoint.lastIndexOf(":");
const conns: Deno.Conn[] = [];
for (let i = 0; i < count; i++) {
  conns.push(
    endpoint.startsWith("unix:")
      ? await Deno.connect({ transport: "unix", path: endpoint.slice("unix:".length) })
      : await Deno.connect({
        hostname: endpoint.slice("inet:".length, colon),
        port: Number(endpoint.slice(colon + 1)),
      }),
  );
}
const byte = new TextEncoder().encode("d");
for (const conn of conns) await conn.write(byte);
console.log("dripping");
for (let round = 0; round < 400; round++) {
  await new Promise((resolve) => setTimeout(resolve, interval));
  for (const conn of conns) await conn.write(byte);
}
for (const conn of conns) conn.close();
