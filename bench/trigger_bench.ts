/**
 * Trigger clients against the raw Deno calls that do the same work, one
 * group per transport, against the same raw server (in a Worker).
 *
 * ```sh
 * deno bench -A bench/trigger_bench.ts
 * ```
 *
 * @module
 */
import { fifoTrigger, inetTrigger, trigger, unixTrigger } from "../trigger/mod.ts";
import { Deadline } from "../_deadline.ts";
import {
  type Arm,
  boundedFifoTrigger,
  boundedStreamTrigger,
  rawFifoTrigger,
  rawStreamTrigger,
  startPeers,
} from "./_raw.ts";

// Every fn is an async function: deno bench awaits only those, it would
// start a plain function that returns a promise again without waiting.

// Setup, outside every timed region: the raw servers and the FIFO reader run
// in a Worker for the whole file, so the timed region is client work only.
const { port, unixPath, fifoPath } = await startPeers();
const inetAddress = `127.0.0.1:${port}`;
const inetTarget: Deno.ConnectOptions = { hostname: "127.0.0.1", port };
const unixTarget: Deno.UnixConnectOptions = { transport: "unix", path: unixPath };

/** The bound postnet uses: a deadline in the shared list of its duration (_deadline.ts), no timer of its own. */
const sharedDeadline: Arm = (fire, ms) => {
  const deadline = new Deadline("bench", ms);
  deadline.onExpire(fire);
  return () => deadline[Symbol.dispose]();
};

Deno.bench({
  name: "raw Deno.connect + write W\\0 + read to EOF + close",
  group: "inet trigger round trip",
  baseline: true,
  fn: async () => await rawStreamTrigger(inetTarget),
});
Deno.bench({
  name: "raw, with the bounds postnet keeps (a timer, a connect signal)",
  group: "inet trigger round trip",
  fn: async () => await boundedStreamTrigger(inetTarget),
});
Deno.bench({
  name: "raw, with the same bounds on postnet's shared deadline instead of a timer",
  group: "inet trigger round trip",
  fn: async () => await boundedStreamTrigger(inetTarget, 10_000, sharedDeadline),
});
Deno.bench({
  name: "inetTrigger()",
  group: "inet trigger round trip",
  fn: async () => void await inetTrigger(inetAddress, "W"),
});
Deno.bench({
  name: 'trigger("inet:...")',
  group: "inet trigger round trip",
  fn: async () => void await trigger(`inet:${inetAddress}`, "W"),
});

Deno.bench({
  name: "raw Deno.connect unix + write W\\0 + read to EOF + close",
  group: "unix trigger round trip",
  baseline: true,
  fn: async () => await rawStreamTrigger(unixTarget),
});
Deno.bench({
  name: "raw, with the bounds postnet keeps (a timer)",
  group: "unix trigger round trip",
  fn: async () => await boundedStreamTrigger(unixTarget),
});
Deno.bench({
  name: "raw, with the timer swapped for postnet's shared deadline",
  group: "unix trigger round trip",
  fn: async () => await boundedStreamTrigger(unixTarget, 10_000, sharedDeadline),
});
Deno.bench({
  name: "unixTrigger()",
  group: "unix trigger round trip",
  fn: async () => void await unixTrigger(unixPath, "W"),
});
Deno.bench({
  name: 'trigger("unix:...")',
  group: "unix trigger round trip",
  fn: async () => void await trigger(`unix:${unixPath}`, "W"),
});

Deno.bench({
  name: "raw node:fs openSync(O_WRONLY|O_NONBLOCK) + writeSync + closeSync",
  group: "fifo trigger",
  baseline: true,
  fn: async () => await rawFifoTrigger(fifoPath),
});
Deno.bench({
  name: "raw, with safe_open's checks (lstat before, fstat after the open)",
  group: "fifo trigger",
  fn: async () => await boundedFifoTrigger(fifoPath),
});
Deno.bench({
  name: "fifoTrigger()",
  group: "fifo trigger",
  fn: async () => void await fifoTrigger(fifoPath, "W"),
});
Deno.bench({
  name: 'trigger("fifo:...")',
  group: "fifo trigger",
  fn: async () => void await trigger(`fifo:${fifoPath}`, "W"),
});
