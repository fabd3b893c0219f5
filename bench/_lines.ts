/**
 * Internal: newline-delimited JSON over a byte stream, for the agents that
 * bench/compare.ts drives (std's TextLineStream is on JSR, which we cannot reach).
 *
 * @module
 */

/** Yields the lines of `readable`, without their `\n`. */
export async function* readLines(readable: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of readable.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let newline: number;
    while ((newline = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
    }
  }
  if (rest !== "") yield rest;
}

const encoder = new TextEncoder();

/** Writes `value` as one JSON line to a synchronous writer, looping over short writes. */
export function writeJsonLine(writer: { writeSync(p: Uint8Array): number }, value: unknown): void {
  const bytes = encoder.encode(JSON.stringify(value) + "\n");
  for (let written = 0; written < bytes.length;) written += writer.writeSync(bytes.subarray(written));
}
