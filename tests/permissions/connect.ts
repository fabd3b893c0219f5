/**
 * Fixture for the `connect` permission set: connects with each function of
 * connect/ to listeners the test opened, and reads what they send.
 *
 * Usage: deno run -P=connect tests/permissions/connect.ts INET_ADDRESS UNIX_PATH
 *
 * @module
 */
import { inetConnect, unixConnect } from "../../connect/mod.ts";
import { finish, readAll, step } from "./_steps.ts";

const [address, path] = Deno.args;

await step("inetConnect", async () => {
  using conn = await inetConnect(address, { timeout: 5_000 });
  return await readAll(conn);
});
await step("unixConnect", async () => {
  using conn = await unixConnect(path, { timeout: 5_000 });
  return await readAll(conn);
});
finish();
