/**
 * Subprocess fixture: an adversary that swaps files under a path, as fast
 * as it can. Each step exchanges two names atomically with
 * renameat2(RENAME_EXCHANGE) (through FFI: Deno has no binding), so the
 * swapper itself never removes or replaces anything: every name it was
 * given stays linked to some file, and a file that loses a link lost it to
 * the code under test.
 *
 * deno run --allow-ffi _swapper.ts '[["a","b"], ...]'
 *
 * Reads commands from stdin, one a line:
 * - `swap MS`: prints `go`, then runs the exchanges in order, round after
 *   round, for MS milliseconds (at most 10 s), then prints
 *   `done ROUNDS MISSES` (MISSES: exchanges that failed, as when one of
 *   the names is missing).
 * - `quit`, or stdin closing: exits 0.
 *
 * @module
 */
const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;
const libc = Deno.dlopen("libc.so.6", {
  renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
});
const encoder = new TextEncoder();
const steps = (JSON.parse(Deno.args[0]) as [string, string][]).map(([a, b]) =>
  [encoder.encode(`${a}\0`), encoder.encode(`${b}\0`)] as const
);
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(`${line}\n`));

let rest = "";
for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  rest += text;
  const lines = rest.split("\n");
  rest = lines.pop()!;
  for (const line of lines) {
    const [command, arg] = line.trim().split(" ");
    if (command === "quit") {
      libc.close();
      Deno.exit(0);
    }
    if (command !== "swap") throw new Error(`unknown command ${line}`);
    const until = performance.now() + Math.min(Number(arg), 10_000);
    let rounds = 0;
    let misses = 0;
    say("go");
    // Bounded: by time, and by a round count no machine reaches in 10 s.
    while (performance.now() < until && rounds < 10_000_000) {
      for (const [a, b] of steps) {
        if (libc.symbols.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) !== 0) misses++;
      }
      rounds++;
    }
    say(`done ${rounds} ${misses}`);
  }
}
libc.close();
