/**
 * Property: whatever the pattern of timeouts, timedRead() loses, duplicates
 * and reorders nothing. A peer writes random chunks with random pauses over
 * a real loopback TCP or UNIX-domain connection and then closes; the reader
 * reads with random short timeouts into buffers of random sizes until
 * end-of-file. What the reads returned, concatenated, is what was sent, and
 * at least one read timed out in every run (else the run proved nothing).
 *
 * A failure prints fast-check's report with the seed and path; replay it
 * with `POSTNET_FC_SEED=<seed> deno test -A tests/io/timed_read_property_test.ts`.
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { timedRead, writeBuf } from "../../io/mod.ts";
import { delay, within } from "../_util.ts";
import { pair, TRANSPORTS } from "./_pair.ts";

/** Runs per transport: the whole file stays under ~5 s. */
const NUM_RUNS = 20;
/** The longest timeout a read uses; the peer's first pause is longer, so the first read always times out. */
const MAX_TIMEOUT_MS = 15;
const FIRST_PAUSE_MS = MAX_TIMEOUT_MS + 25;

const chunks: fc.Arbitrary<Uint8Array[]> = fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), {
  minLength: 1,
  maxLength: 6,
});
/** Pauses after each write, in ms: often none, sometimes longer than any timeout. */
const pauses: fc.Arbitrary<number[]> = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 30 })), {
  minLength: 6,
  maxLength: 6,
});
/** The reader's timeouts and buffer sizes, used in turn. */
const timeouts: fc.Arbitrary<number[]> = fc.array(fc.integer({ min: 1, max: MAX_TIMEOUT_MS }), {
  minLength: 1,
  maxLength: 8,
});
const sizes: fc.Arbitrary<number[]> = fc.array(
  fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 8192 })),
  {
    minLength: 1,
    maxLength: 8,
  },
);

function seed(): number | undefined {
  const value = Deno.env.get("POSTNET_FC_SEED");
  return value === undefined ? undefined : Number(value);
}

for (const transport of TRANSPORTS) {
  Deno.test(`timedRead() with random timeouts returns exactly what a pausing peer sent (${transport})`, async () => {
    await fc.assert(
      fc.asyncProperty(chunks, pauses, timeouts, sizes, async (sent, pauseList, timeoutList, sizeList) => {
        await using p = await pair(transport);
        const writer = (async () => {
          await delay(FIRST_PAUSE_MS);
          for (const [i, chunk] of sent.entries()) {
            await writeBuf(p.peer, chunk, { timeout: 5_000 });
            if (pauseList[i] > 0) await delay(pauseList[i]);
          }
          p.peer.close();
        })();
        const reader = (async () => {
          const got: number[] = [];
          let timedOut = 0;
          for (let i = 0; i < 100_000; i++) {
            const buffer = new Uint8Array(sizeList[i % sizeList.length]);
            const timeout = timeoutList[i % timeoutList.length];
            let n: number | null;
            try {
              n = await timedRead(p.conn, buffer, { timeout });
            } catch (error) {
              if (!(error instanceof DOMException && error.name === "TimeoutError")) throw error;
              timedOut++;
              continue;
            }
            if (n === null) return { got: Uint8Array.from(got), timedOut };
            assert.ok(n > 0 && n <= buffer.length, `read ${n} into ${buffer.length}`);
            got.push(...buffer.subarray(0, n));
          }
          throw new Error("no end-of-file after 100000 reads");
        })();
        const [, { got, timedOut }] = await within(Promise.all([writer, reader]), 10_000, "the exchange");
        assert.ok(timedOut >= 1, "no read timed out: the run proved nothing");
        const expected = new Uint8Array(sent.reduce((sum, chunk) => sum + chunk.length, 0));
        let at = 0;
        for (const chunk of sent) {
          expected.set(chunk, at);
          at += chunk.length;
        }
        assert.deepEqual(got, expected);
      }),
      { numRuns: NUM_RUNS, seed: seed() },
    );
  });
}
