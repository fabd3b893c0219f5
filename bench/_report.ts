/**
 * Internal: how bench/compare.ts shows its results: the table and the
 * scenario lines on stdout, and the chart written to `latest.svg`.
 *
 * @module
 */
import type { Answer } from "./_harness.ts";
import type { Impl, Row } from "./_rows.ts";
import { fmt, kib, type Stats } from "./_stats.ts";

/** What the "bounded" column is, row by row: printed under the table. */
const BOUNDED = [
  "bounded: raw Deno plus what bounding it with plain timers costs: client: a setTimeout per trigger that closes",
  "         the socket and a signal on the TCP connect, and for a FIFO the safe-open checks instead (lstat,",
  "         open O_NONBLOCK|O_NOFOLLOW, fstat: same file, a FIFO, one link); server: a setTimeout per",
  "         connection (the read timeout); io: a setTimeout per write and per read. The FIFO client's target",
  "         is against bounded, every other target against raw",
];

/** The heading of each side in the chart. */
const SIDES: Record<Row["side"], string> = {
  client: "client side (clients to one raw Deno server)",
  server: "server side (servers driven by one raw Deno client)",
  io: "io/ ping-pong (16 bytes each way over one connection to a raw Deno echo peer)",
};

/** Prints the table of rows, with what its columns and ratios mean. */
export function printTable(rows: Row[], n: number, rounds: number): void {
  const head = [
    "side",
    "transport",
    "mode",
    "raw us",
    "bounded us",
    "postnet us",
    "node us",
    "raw ops/s",
    "postnet ops/s",
    "node ops/s",
    "postnet/raw",
    "postnet/bounded",
    "node/postnet",
    "target",
    "met",
    "beats node",
  ];
  const body = rows.map((r) => [
    r.side,
    r.transport,
    r.mode,
    fmt(r.raw.us),
    r.bounded ? fmt(r.bounded.us) : "-",
    fmt(r.postnet.us),
    r.node ? fmt(r.node.us) : "-",
    Math.round(r.raw.perSecond).toString(),
    Math.round(r.postnet.perSecond).toString(),
    r.node ? Math.round(r.node.perSecond).toString() : "-",
    `${r.postnetVsRaw.toFixed(2)}x`,
    r.postnetVsBounded === null ? "-" : `${r.postnetVsBounded.toFixed(2)}x`,
    r.nodeVsPostnet === null ? "-" : `${r.nodeVsPostnet.toFixed(2)}x`,
    r.target,
    r.meetsTarget ? "yes" : "NO",
    r.beatsNode === null ? "-" : r.beatsNode ? "yes" : "NO",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(`\nmedian of ${rounds} rounds; n = ${n} sequential, ${2 * n} from 64 concurrent loops, ${n} ping-pongs`);
  console.log("ratios: the median over the rounds of each round's ratio (the implementations run back to back)");
  console.log("client and io: time ratios (postnet/raw, postnet/bounded); server: triggers/s ratios");
  for (const text of BOUNDED) console.log(text);
  console.log(line(head));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const b of body) console.log(line(b));
}

/** Prints the scenario figures and whether each met its target. */
export function printScenarios(s: Answer): void {
  console.log("\nscenarios");
  const he = s.happyEyeballs as Answer | undefined;
  if (he) {
    const eyeballs = he.happyEyeballsMs as Stats;
    const serial = he.serialMs as Stats;
    console.log(
      `  Happy Eyeballs, first address black-holed: median ${fmt(eyeballs.p50)} ms, max ${fmt(eyeballs.max)} ms` +
        ` (target <= 280) ${he.pass ? "ok" : "MISSED"}; serial with attemptTimeout 500: median ${fmt(serial.p50)} ms`,
    );
  }
  const deadline = (name: string, d: Answer | undefined) => {
    if (!d) return;
    const o = d.overshootMs as Stats;
    console.log(
      `  ${name}: settled ${fmt(o.p50)} ms (median), ${fmt(o.max)} ms (max) after the 200 ms timeout` +
        ` (target <= 30) ${d.pass ? "ok" : "MISSED"}`,
    );
  };
  deadline("trigger to an inet peer that never closes", (s.triggerDeadline as Answer).inet as Answer);
  deadline("trigger to a unix peer that never closes", (s.triggerDeadline as Answer).unix as Answer);
  deadline("connect to a black hole", s.connectDeadline as Answer | undefined);
  for (const [transport, b] of Object.entries(s.burst as Record<string, Answer>)) {
    const l = b.latencyMs as Stats;
    console.log(
      `  1,000 concurrent ${transport} triggers to one serveTriggers: ${b.delivered}/1000 delivered,` +
        ` ${b.failures} failed, p50 ${fmt(l.p50)} ms, p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms` +
        ` ${b.pass ? "ok" : "MISSED"}${b.firstError ? ` (${b.firstError})` : ""}`,
    );
  }
  const silent = s.silent as Record<string, Answer>;
  if (silent.skipped) return;
  for (const [name, r] of Object.entries(silent)) {
    const l = r.realLatencyMs as Stats;
    const c = r.silentClosedAfterMs as Stats;
    const o = r.options as Answer;
    console.log(
      `  1,000 silent connections (readTimeout ${o.readTimeout}, maxConnections ${o.maxConnections}, ${name}):` +
        ` ${r.silentOpened} opened in ${fmt(r.silentOpenMs as number)} ms; real triggers p50 ${fmt(l.p50)} ms,` +
        ` p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms (target p99 < 50) ${r.pass ? "ok" : "MISSED"};` +
        ` silent closed after ${fmt(c.min)}..${fmt(c.max)} ms (median ${fmt(c.p50)}), ${r.silentStillOpen} still open`,
    );
  }
  const m = s.memory as Record<string, Answer>;
  const per = (impl: string) => m[impl] ? `${kib(m[impl].bytesPerConnection as number)} KiB` : "-";
  console.log(
    `  RSS per idle connection (server side, fresh process each): postnet ${per("postnet")}, raw Deno ${
      per("raw")
    }, Node ${per("node")}`,
  );
}

/** A grouped horizontal bar chart of microseconds per operation, hand-written SVG. */
export function chart(rows: Row[], rounds: number): string {
  const colors: Record<Impl, string> = { raw: "#7f8c8d", bounded: "#bdc3c7", postnet: "#2e86de", node: "#27ae60" };
  const names: Record<Impl, string> = {
    raw: "raw Deno",
    bounded: "bounded raw Deno (a timer per operation; FIFO client: safe-open checks)",
    postnet: "postnet",
    node: "Node.js",
  };
  const impls: Impl[] = rows.some((r) => r.node)
    ? ["raw", "bounded", "postnet", "node"]
    : ["raw", "bounded", "postnet"];
  const bar = 12;
  const rowHeight = impls.length * bar + 14;
  const left = 300;
  const width = 900;
  const plot = width - left - 90;
  const top = 60;
  const max = Math.max(...rows.flatMap((r) => impls.map((i) => r[i]?.us ?? 0)));
  const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const parts: string[] = [];
  let y = top;
  let side = "";
  for (const r of rows) {
    if (r.side !== side) {
      side = r.side;
      y += 18;
      parts.push(`<text x="10" y="${y}" font-weight="bold">${escape(SIDES[r.side])}</text>`);
      y += 10;
    }
    const middle = y + (impls.length * bar) / 2;
    parts.push(
      `<text x="${left - 8}" y="${middle - 2}" text-anchor="end">${escape(`${r.transport}, ${r.mode}`)}</text>`,
      `<text x="${left - 8}" y="${middle + 11}" text-anchor="end" font-size="10" fill="${
        r.pass ? "#555" : "#c0392b"
      }">${
        escape(
          `postnet/raw ${r.postnetVsRaw.toFixed(2)}x (${r.target})` +
            (r.postnetVsBounded === null ? "" : `, /bounded ${r.postnetVsBounded.toFixed(2)}x`),
        )
      }</text>`,
    );
    impls.forEach((impl, i) => {
      const figure = r[impl];
      if (!figure) return;
      const w = Math.max(1, (figure.us / max) * plot);
      const by = y + i * bar;
      parts.push(`<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${bar - 2}" fill="${colors[impl]}"/>`);
      parts.push(
        `<text x="${(left + w + 4).toFixed(1)}" y="${by + bar - 3}" font-size="10">${fmt(figure.us)} us</text>`,
      );
    });
    y += rowHeight;
  }
  // Each legend entry as wide as its name (about 6.5 px a character at 12 px).
  let x = 10;
  const legend = impls.map((impl) => {
    const entry = `<rect x="${x}" y="32" width="12" height="12" fill="${colors[impl]}"/>` +
      `<text x="${x + 16}" y="42">${escape(names[impl])}</text>`;
    x += 16 + names[impl].length * 6.5 + 24;
    return entry;
  });
  const height = y + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="15" font-weight="bold">postnet vs raw Deno vs Node.js: microseconds per trigger or exchange (median of ${rounds} rounds, lower is better)</text>
${legend.join("\n")}
${parts.join("\n")}
</svg>
`;
}
