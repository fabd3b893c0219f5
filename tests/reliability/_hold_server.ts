/**
 * Subprocess fixture: a raw server that takes a trigger and never closes.
 * Accepts, reads once (unless `--no-read`), prints `read N`, and keeps every
 * connection open until it is killed.
 *
 * deno run -A _hold_server.ts unix:PATH|inet:127.0.0.1:0 [--no-read]
 *
 * Prints `ready ENDPOINT` (with the real port) once listening.
 *
 * @module
 */
const [endpoint, flag] = Deno.args;
const listener = endpoint.startsWith("unix:")
  ? Deno.listen({ transport: "unix", path: endpoint.slice("unix:".length) })
  : Deno.listen({ hostname: "127.0.0.1", port: Number(endpoint.slice(endpoint.lastIndexOf(":") + 1)) });
const addr = listener.addr;
console.log(
  `ready ${addr.transport === "unix" ? `unix:${addr.path}` : `inet:127.0.0.1:${(addr as Deno.NetAddr).port}`}`,
);
const held: Deno.Conn[] = [];
for await (const conn of listener) {
  held.push(conn);
  if (flag === "--no-read") {
    console.log("accepted");
    continue;
  }
  const n = await conn.read(new Uint8Array(1024));
  console.log(`read ${n}`);
}
