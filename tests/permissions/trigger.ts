/**
 * Fixture for the `trigger` permission set: sends triggers with each
 * function of trigger/ to servers the test runs, and serves triggers of its
 * own in DIR.
 *
 * Usage: deno run -P=trigger tests/permissions/trigger.ts INET_ADDRESS UNIX_PATH FIFO_PATH DIR [CONFIG_DIR]
 *
 * Requests: inetTrigger "I", unixTrigger "D", fifoTrigger "W", trigger()
 * "A" (inet), "F" (a bare socket path) and "I" (a bare FIFO path); with
 * CONFIG_DIR, whose main.cf names the directory above UNIX_PATH's as the
 * queue, mailTrigger() "I" to CLASS/qmgr (CLASS: UNIX_PATH's directory) by
 * `configDirectory`, then "A" by `$MAIL_CONFIG`.
 *
 * @module
 */
import { fifoTrigger, inetTrigger, mailTrigger, serveTriggers, trigger, unixTrigger } from "../../trigger/mod.ts";
import { finish, step } from "./_steps.ts";

const [address, unixPath, fifoPath, dir, configDirectory] = Deno.args;
const options = { timeout: 5_000 };

await step("inetTrigger", async () => (await inetTrigger(address, "I", options)).bytes);
await step("unixTrigger", async () => (await unixTrigger(unixPath, "D", options)).bytes);
await step("fifoTrigger", async () => (await fifoTrigger(fifoPath, "W", options)).bytes);
await step("trigger inet", async () => (await trigger(`inet:${address}`, "A", options)).transport);
await step("trigger socket path", async () => (await trigger(unixPath, "F", options)).transport);
await step("trigger FIFO path", async () => (await trigger(fifoPath, "I", options)).transport);
if (configDirectory !== undefined) {
  const cls = unixPath.split("/").at(-2)!;
  await step("mailTrigger configDirectory", async () => {
    return (await mailTrigger(cls, "qmgr", "I", { ...options, configDirectory })).transport;
  });
  await step("mailTrigger MAIL_CONFIG", async () => (await mailTrigger(cls, "qmgr", "A", options)).transport);
}

/** Serves `endpoint`, triggers it once and returns what the handler received. */
async function serveOnce(endpoint: string): Promise<string> {
  const arrived = Promise.withResolvers<string>();
  await using server = await serveTriggers(endpoint, ({ request }) => {
    arrived.resolve(new TextDecoder().decode(request));
  }, { onError: (error) => arrived.reject(error) });
  await trigger(server.endpoint, "W", options);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nothing arrived at ${endpoint} in 5 s`)), 5_000);
  });
  try {
    return await Promise.race([arrived.promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

await step("serveTriggers unix", () => serveOnce(`unix:${dir}/own.sock`));
await step("serveTriggers fifo", () => serveOnce(`fifo:${dir}/own.fifo`));
finish();
