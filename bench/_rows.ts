/**
 * Internal: how bench/compare.ts turns timed rounds into one row of its
 * table. Every row has raw Deno (unbounded) as its baseline, "bounded" raw
 * Deno (raw plus a `setTimeout` per operation, and whatever else postnet
 * must do to never hang) beside it, postnet, and Node.js where it has the
 * same workload.
 *
 * The implementations take turns within a round (each goes first in some
 * round); round 0 is a warm-up. A figure is the median over the rounds; a
 * ratio is the median of the rounds' own ratios, so that load from the rest
 * of a shared machine, which comes and goes between rounds, weighs on both
 * sides of it.
 *
 * @module
 */
import type { Transport } from "./_harness.ts";
import { fmt, median } from "./_stats.ts";

/** Who does the work in a row's column. */
export type Impl = "raw" | "bounded" | "postnet" | "node";

/** One implementation's figures in one row. */
export interface Figure {
  /** Median time per operation (trigger or exchange), microseconds. */
  us: number;
  /** Operations per second at that median. */
  perSecond: number;
  /** Microseconds per operation of every measured round. */
  rounds: number[];
  failures: number;
}

/** What a row must reach: postnet against raw or bounded, at most or at least a ratio. */
export interface Target {
  /** The column the ratio is taken against. */
  against: "raw" | "bounded";
  /** `<=`: a time ratio, lower is better; `>=`: a throughput ratio, higher is better. */
  op: "<=" | ">=";
  limit: number;
}

/** One line of the table. */
export interface Row {
  /** client: clients to one raw server; server: servers driven by one raw client; io: request-reply exchanges. */
  side: "client" | "server" | "io";
  transport: Transport;
  mode: string;
  /** Operations per round. */
  n: number;
  raw: Figure;
  /** Raw plus a timer per operation (and, client side, a TCP connect signal or the FIFO's safe-open checks). */
  bounded: Figure | null;
  postnet: Figure;
  node: Figure | null;
  /** Time ratio postnet/raw (client, io); throughput ratio postnet/raw (server). */
  postnetVsRaw: number;
  /** The same against bounded raw: what postnet adds over the bounded raw code. */
  postnetVsBounded: number | null;
  /** node time / postnet time: above 1, postnet is faster. */
  nodeVsPostnet: number | null;
  /** The target as text, e.g. `<= 1.05x raw`. */
  target: string;
  /** The ratio the target is about meets it. */
  meetsTarget: boolean;
  /** postnet is faster than Node (null without Node). */
  beatsNode: boolean | null;
  /** Both, and no operation failed. */
  pass: boolean;
}

/** One round of one implementation: microseconds per operation, and how many failed. */
export type RoundResult = { us: number; failed: number };

/** What {@linkcode measureRow} measures. */
export interface RowSpec {
  side: Row["side"];
  transport: Transport;
  mode: string;
  n: number;
  /** The columns this row has; raw and postnet always. */
  impls: Impl[];
  target: Target;
  /** Runs one round of `impl`. */
  round(impl: Impl): Promise<RoundResult>;
}

/** Runs the spec's rounds (one warm-up, then `rounds`), prints a progress line, returns the row. */
export async function measureRow(spec: RowSpec, rounds: number): Promise<Row> {
  const { side, transport, mode, n, impls, target } = spec;
  const times: Record<Impl, number[]> = { raw: [], bounded: [], postnet: [], node: [] };
  const failures: Record<Impl, number> = { raw: 0, bounded: 0, postnet: 0, node: 0 };
  for (let round = 0; round <= rounds; round++) {
    // Take turns: each implementation goes first in some round.
    const order = impls.map((_, i) => impls[(i + round) % impls.length]);
    for (const impl of order) {
      const { us, failed } = await spec.round(impl);
      // Round 0 warms up the JIT, the sockets and the servers.
      if (round > 0) times[impl].push(us);
      failures[impl] += failed;
    }
  }
  const figure = (impl: Impl): Figure | null => {
    if (!impls.includes(impl)) return null;
    const us = median(times[impl]);
    return { us, perSecond: 1e6 / us, rounds: times[impl], failures: failures[impl] };
  };
  const raw = figure("raw")!;
  const bounded = figure("bounded");
  const postnet = figure("postnet")!;
  const node = figure("node");
  // Pair the implementations within each round (they ran back to back, under the same load), then take the median.
  const ratio = (a: Impl, b: Impl) => median(times[a].map((t, i) => t / times[b][i]));
  // Time ratios for clients and exchanges; throughput ratios (the inverse) for servers.
  const versus = (other: Impl) => side === "server" ? ratio(other, "postnet") : ratio("postnet", other);
  const postnetVsRaw = versus("raw");
  const postnetVsBounded = bounded ? versus("bounded") : null;
  const nodeVsPostnet = node ? ratio("node", "postnet") : null;
  const measured = target.against === "raw" ? postnetVsRaw : postnetVsBounded!;
  const meetsTarget = target.op === "<=" ? measured <= target.limit : measured >= target.limit;
  const beatsNode = nodeVsPostnet === null ? null : nodeVsPostnet > 1;
  const failed = impls.reduce((sum, impl) => sum + failures[impl], 0);
  console.log(
    `${side.padEnd(6)} ${transport.padEnd(4)} ${mode.padEnd(14)}` +
      impls.map((impl) => `  ${impl} ${fmt(median(times[impl]))} us`).join(""),
  );
  return {
    side,
    transport,
    mode,
    n,
    raw,
    bounded,
    postnet,
    node,
    postnetVsRaw,
    postnetVsBounded,
    nodeVsPostnet,
    target: `${target.op} ${target.limit.toFixed(2)}x ${target.against}`,
    meetsTarget,
    beatsNode,
    pass: meetsTarget && beatsNode !== false && failed === 0,
  };
}

/** The two modes of the trigger rows: `n` one at a time, `2n` from 64 concurrent loops. */
export function modes(n: number): { mode: string; concurrency: number; n: number }[] {
  return [
    { mode: "sequential", concurrency: 1, n },
    { mode: "64 concurrent", concurrency: 64, n: 2 * n },
  ];
}
