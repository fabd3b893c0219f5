/**
 * Subprocess fixture: a trigger server, as an application would run it.
 *
 * deno run -A _serve.ts ENDPOINT [--read-timeout MS] [--max-connections N] [--on-error log|default]
 *
 * Prints `ready ENDPOINT` once serving, then one line per trigger:
 * `T BYTES REQUEST-AS-JSON`, and with `--on-error log` one line per
 * reported error: `E NAME MESSAGE-AS-JSON`. With `--on-error default` no
 * `onError` is passed: the library's default applies. Stops (exit 0,
 * printing `closed`) when stdin closes or on SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { serveTriggers, type ServeTriggersOptions } from "../../trigger/trigger_server.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    "read-timeout": { type: "string" },
    "max-connections": { type: "string" },
    "on-error": { type: "string", default: "log" },
  },
  allowPositionals: true,
});
const decoder = new TextDecoder();
const options: ServeTriggersOptions = {};
if (values["read-timeout"]) options.readTimeout = Number(values["read-timeout"]);
if (values["max-connections"]) options.maxConnections = Number(values["max-connections"]);
if (values["on-error"] === "log") {
  options.onError = (error) => {
    const name = (error as Error)?.name ?? typeof error;
    console.log(`E ${name} ${JSON.stringify(String((error as Error)?.message ?? error))}`);
  };
}

const stop = new AbortController();
options.signal = stop.signal;
Deno.addSignalListener("SIGTERM", () => stop.abort());
const server = await serveTriggers(positionals[0], ({ data, request }) => {
  console.log(`T ${data.length} ${JSON.stringify(decoder.decode(request.subarray(0, 64)))}`);
}, options);
console.log(`ready ${server.endpoint}`);
// Stdin closing (the test ending) stops the server too.
(async () => {
  for await (const _ of Deno.stdin.readable);
  stop.abort();
})();
await server.finished;
console.log("closed");
Deno.exit(0);
