/**
 * Fixture for the narrowest grants: runs ONE function of the library, named
 * on the command line, so the test can give it exactly the flags it claims
 * to need and nothing else.
 *
 * Usage: deno run --no-prompt FLAGS tests/permissions/narrow.ts OPERATION ARGUMENT [CLASS]
 *
 * OPERATION is inetConnect, unixConnect, inetListen, unixListen, fifoListen,
 * fifoTrigger, trigger or mailTrigger (ARGUMENT: the configuration
 * directory, or "-" for the default; it triggers CLASS/qmgr); the triggers
 * send "N".
 *
 * @module
 */
import { inetConnect, unixConnect } from "../../connect/mod.ts";
import { fifoListen, inetListen, unixListen } from "../../listen/mod.ts";
import { fifoTrigger, mailTrigger, trigger } from "../../trigger/mod.ts";
import { finish, readAll, step } from "./_steps.ts";

const [operation, argument, cls] = Deno.args;
const operations: Record<string, () => Promise<unknown>> = {
  async inetConnect() {
    using conn = await inetConnect(argument, { timeout: 5_000 });
    return await readAll(conn);
  },
  async unixConnect() {
    using conn = await unixConnect(argument, { timeout: 5_000 });
    return await readAll(conn);
  },
  inetListen() {
    using listener = inetListen(argument);
    return Promise.resolve(listener.addr.hostname);
  },
  async unixListen() {
    using listener = await unixListen(argument);
    return listener.addr.path;
  },
  async fifoListen() {
    await using fifo = await fifoListen(argument);
    return fifo.created;
  },
  async fifoTrigger() {
    return (await fifoTrigger(argument, "N", { timeout: 5_000 })).transport;
  },
  async trigger() {
    return (await trigger(argument, "N", { timeout: 5_000 })).transport;
  },
  async mailTrigger() {
    const configDirectory = argument === "-" ? undefined : argument;
    return (await mailTrigger(cls, "qmgr", "N", { configDirectory, timeout: 5_000 })).transport;
  },
};

const run = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
if (!run) throw new TypeError(`unknown operation "${operation}"`);
await step(operation, run);
finish();
