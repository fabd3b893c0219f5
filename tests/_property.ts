/**
 * The run settings of the property tests (fast-check), shared so a failure
 * can be replayed. Each run draws a fresh seed, unless POSTNET_FC_SEED gives
 * one; a failing property prints its seed and path (fast-check's own
 * message: `{ seed: S, path: "P", ... }`), and replays with
 *
 *     POSTNET_FC_SEED=S POSTNET_FC_PATH=P deno test -A tests/FILE
 *
 * Import it before the first property runs: `import fc from "./_property.ts";`.
 *
 * @module
 */
import fc from "npm:fast-check@4.11.0";

const given = Deno.env.get("POSTNET_FC_SEED");
/** This run's seed. */
export const SEED: number = given === undefined ? (Math.random() * 2 ** 31) | 0 : Number(given);
if (!Number.isInteger(SEED)) throw new RangeError(`POSTNET_FC_SEED must be an integer, got "${given}"`);
const path = Deno.env.get("POSTNET_FC_PATH");
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: SEED, ...(path ? { path } : {}) });

export default fc;
