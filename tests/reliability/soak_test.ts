/**
 * The soak script at CI size: 10,000 sequential and 10,000 concurrent
 * triggers per transport, run as a user runs it (`deno run -A soak.ts`),
 * in a subprocess killed by its PID if it outlives 120 s.
 */
import assert from "node:assert/strict";
import { Child, HERE, within } from "./_util.ts";

const COUNT = 10_000;

Deno.test(`soak.ts --count ${COUNT}: every trigger delivered exactly once on inet, unix and fifo, nothing leaked`, async () => {
  const start = performance.now();
  await using soak = Child.deno(`${HERE}soak.ts`, ["--count", String(COUNT), "--max-seconds", "100"], {
    lifetime: 120_000,
  });
  const status = await within(soak.exited, 125_000, "soak.ts");
  await soak[Symbol.asyncDispose]();
  const seconds = (performance.now() - start) / 1000;
  console.log(soak.lines.join("\n"));
  console.log(`soak.ts --count ${COUNT} took ${seconds.toFixed(1)} s`);
  assert.equal(status.code, 0, `soak.ts failed:\n${soak.lines.join("\n")}\n${soak.errors.join("\n")}`);
  assert.match(soak.lines.at(-1) ?? "", /^soak: OK /);
  for (const transport of ["inet", "unix", "fifo"]) {
    assert.ok(
      soak.lines.some((line) => line.startsWith(`${transport}: client successes ${2 * COUNT}, server `)),
      `${transport} summary`,
    );
  }
});
