/**
 * The main.cf reader behind mailTrigger(): unit tests of each rule, and a
 * property test with the real `postconf -c DIR -xh queue_directory` as the
 * oracle on generated files (skipped with a reason where Postfix is absent;
 * failing when POSTNET_REQUIRE_POSTFIX=1). `-x` because `postconf -h` alone
 * prints the value as written, `$` references unexpanded; postkick expands
 * them.
 */
import assert from "node:assert/strict";
import fc from "../_property.ts";
import { parseMainCf, queueDirectoryOf } from "../../trigger/_main_cf.ts";
import { postconfPath, skipUnlessPostfix } from "../interop/_postfix.ts";
import { tempDir } from "../_util.ts";

const FILE = "/etc/postfix-test/main.cf";
const q = (text: string) => queueDirectoryOf(text, FILE);

Deno.test("queueDirectoryOf() reads name = value, trimming around both; the last setting wins", () => {
  assert.equal(q("queue_directory = /a\n"), "/a");
  assert.equal(q("queue_directory=/a   \t\r\n"), "/a");
  assert.equal(q("queue_directory = /a\nqueue_directory = /b\n"), "/b");
  assert.equal(q("queue_directory = /a # not a comment\n"), "/a # not a comment");
  assert.equal(q('queue_directory = "/a"'), '"/a"');
});

Deno.test("queueDirectoryOf() is /var/spool/postfix when main.cf does not set queue_directory", () => {
  assert.equal(q(""), "/var/spool/postfix");
  assert.equal(q("# queue_directory = /a\nmyhostname = x\n"), "/var/spool/postfix");
  assert.equal(q("Queue_directory = /a\n"), "/var/spool/postfix");
  // A line that starts with whitespace and continues nothing is dropped, as postconf drops it.
  assert.equal(q(" queue_directory = /a\n"), "/var/spool/postfix");
});

Deno.test("queueDirectoryOf() joins continuation lines and skips comments and blank lines, even between them", () => {
  assert.equal(q("queue_directory = /a\n  /b\n"), "/a /b");
  assert.equal(q("queue_directory =\n\t/b\n"), "/b");
  assert.equal(q("queue_directory = /a\n  # c\n\n  /b\n"), "/a /b");
  assert.equal(q("  # c\nqueue_directory = /a\n# x\n\n   more\n"), "/a more");
  assert.equal(q("pn_a = /x\nqueue_directory = $pn_a\n  /y\n"), "/x /y");
});

Deno.test("queueDirectoryOf() expands $name, ${name} and $(name) recursively, and $$ to $", () => {
  const base = "pn_x = 1\npn_y = $pn_x/2\n";
  assert.equal(q(`${base}queue_directory = /q/$pn_x.bar/\${pn_x}/$(pn_x)/$pn_y`), "/q/1.bar/1/1/1/2");
  assert.equal(q(`${base}queue_directory = /q/\${ pn_x }`), "/q/1");
  assert.equal(q("queue_directory = /a/$$/b"), "/a/$/b");
  assert.equal(q("pn_d = $$\nqueue_directory = /a/$pn_d"), "/a/$");
  // A name continues over letters, digits and "_" only.
  assert.equal(q("pn_x_y = 1\nqueue_directory = /a/$pn_x_y-z"), "/a/1-z");
  // A parameter defined after its use is still found.
  assert.equal(q("queue_directory = $pn_x\npn_x = $pn_y\npn_y = /z\n"), "/z");
});

Deno.test("queueDirectoryOf() expands a name main.cf does not set to nothing, as postconf does", () => {
  assert.equal(q("queue_directory = /a/$pn_undefined/b"), "/a//b");
  assert.equal(q("queue_directory = /a/${pn_undefined}/b"), "/a//b");
  assert.equal(q("queue_directory = $pn_undefined.bar"), ".bar");
});

Deno.test("queueDirectoryOf() supports ${name?value} and ${name:value}, braced or not, value expanded", () => {
  const base = "pn_x = y\npn_e =\npn_u = $pn_undefined\n";
  assert.equal(q(`${base}queue_directory = /a/\${pn_x?yes}/\${pn_z?no}/b`), "/a/yes//b");
  assert.equal(q(`${base}queue_directory = /a/\${pn_x:yes}/\${pn_z:no}/b`), "/a//no/b");
  assert.equal(q(`${base}queue_directory = /a/\${pn_e?yes}/\${pn_e:no}`), "/a//no");
  assert.equal(q(`${base}queue_directory = /a/\${pn_x?{yes}}/\${pn_z:{n o}}`), "/a/yes/n o");
  assert.equal(q(`${base}queue_directory = \${pn_x? {a} }`), "a");
  assert.equal(q(`${base}queue_directory = \${pn_x?a{b}c}`), "a{b}c");
  assert.equal(q(`${base}queue_directory = /a/\${pn_x?$pn_x$(pn_x)}`), "/a/yy");
  assert.equal(q(`${base}queue_directory = $(pn_x?(a))/\${pn_x?a)}`), "(a)/a)");
  // Set means a non-empty text BEFORE expansion (pn_u expands to nothing, but is set).
  assert.equal(q(`${base}queue_directory = \${pn_u?yes}/\${pn_u:no}`), "yes/");
});

Deno.test("queueDirectoryOf() rejects a loop and malformed references with a SyntaxError naming the file", () => {
  const cases: [string, RegExp][] = [
    ["queue_directory = $queue_directory", /refers to itself \(queue_directory -> queue_directory\)/],
    ["pn_a = $pn_b\npn_b = ${pn_a}\nqueue_directory = /a/$pn_a", /refers to itself/],
    ["queue_directory = /a/$", /"\$" with no parameter name/],
    ["queue_directory = /a/$-", /"\$" with no parameter name/],
    ["queue_directory = /a/${pn_x", /unclosed reference/],
    ["queue_directory = /a/$(pn_x}", /unclosed reference/],
    ["queue_directory = ${pn_x{a}}", /unexpected "\{a\}"/],
    ["pn_x = 1\nqueue_directory = ${pn_x?{a}b}", /text after/],
    ["queue_directory /a", /line 1: missing "=" after parameter name/],
    ["# c\npn a = b\nqueue_directory = /a", /line 2: missing "="/],
    ["= /a", /line 1: missing parameter name/],
  ];
  for (const [text, reason] of cases) {
    assert.throws(() => q(text), (error: unknown) => {
      assert.ok(error instanceof SyntaxError, `${text}: ${error}`);
      assert.ok(error.message.startsWith(`Cannot read "${FILE}": `), error.message);
      assert.match(error.message, reason);
      return true;
    }, text);
  }
  // A loop that queue_directory does not reach does not matter, as in postconf.
  assert.equal(q("pn_a = $pn_b\npn_b = $pn_a\nqueue_directory = /a/b"), "/a/b");
});

Deno.test("parseMainCf() keeps values unexpanded, one entry per name", () => {
  const params = parseMainCf("pn_a = $pn_b\n  more\npn_b=1\npn_a = $pn_b/x\n", FILE);
  assert.deepEqual([...params], [["pn_a", "$pn_b/x"], ["pn_b", "1"]]);
});

// ---------------------------------------------------------------------------
// postconf as the oracle.

/** The names the generated files use: none is a Postfix parameter, so postconf knows no default for them. */
const NAMES = ["queue_directory", "pn_a", "pn_b", "pn_c"];
const UNSET = "pn_unset";

const literal = fc.stringMatching(/^[a-z0-9/._-]{1,6}$/);

/** One piece of a value that may refer to `names`: text, `$$`, or a reference in one of its forms. */
function piece(names: string[]): fc.Arbitrary<string> {
  const name = fc.constantFrom(...names, UNSET);
  // A conditional's value: no "{" "}" of its own, so no unbalanced brace.
  const value = fc.array(fc.oneof(literal, name.map((n) => `$${n}`), name.map((n) => `$(${n})`)), { maxLength: 3 })
    .map((parts) => parts.join(""));
  return fc.oneof(
    { weight: 4, arbitrary: literal },
    { weight: 1, arbitrary: fc.constant("$$") },
    { weight: 2, arbitrary: name.map((n) => `$${n}`) },
    { weight: 2, arbitrary: name.map((n) => `\${${n}}`) },
    { weight: 2, arbitrary: name.map((n) => `$(${n})`) },
    {
      weight: 2,
      arbitrary: fc.tuple(name, fc.constantFrom("?", ":"), fc.boolean(), value).map(([n, op, braced, v]) =>
        `\${${n}${op}${braced ? `{${v}}` : v}}`
      ),
    },
  );
}

/** A `name = value` setting, split over a continuation line between two pieces when `split` says so. */
function setting(names: string[], index: number, cyclic: boolean): fc.Arbitrary<string> {
  // Acyclic files refer only to names after their own; one file in 20 may refer to any (loops).
  const reachable = cyclic ? names : names.slice(index + 1);
  return fc.tuple(fc.array(piece(reachable), { maxLength: 4 }), fc.nat(4)).map(([pieces, split]) => {
    const at = Math.min(split, pieces.length);
    const head = `${names[index]} = ${pieces.slice(0, at).join("")}`;
    return split > 0 && at < pieces.length ? `${head}\n\t${pieces.slice(at).join("")}` : `${head}${pieces.join("")}`;
  });
}

/** A main.cf: settings, comments and blank lines, in any order. postconf takes 1 s to fail, so loops are rare. */
const mainCf = fc.integer({ min: 0, max: 19 }).chain((dice) =>
  fc.array(
    fc.oneof(
      { weight: 5, arbitrary: fc.nat(NAMES.length - 1).chain((index) => setting(NAMES, index, dice === 0)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom("# a comment", "", "   ", "  # indented comment", "#queue_directory = /c"),
      },
    ),
    { maxLength: 7 },
  ).map((lines) => lines.join("\n") + "\n")
);

/** postconf prints a value as words: runs of whitespace become one space. */
const words = (text: string) => text.trim().replace(/\s+/g, " ");

const ignore = skipUnlessPostfix();

Deno.test({
  name: "queueDirectoryOf() agrees with postconf -xh queue_directory on generated main.cf files",
  ignore,
  async fn() {
    const postconf = postconfPath();
    await using dir = await tempDir("postnet-maincf-");
    const file = `${dir.path}/main.cf`;
    const past = new Date(Date.now() - 60_000);
    let failures = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(mainCf, async (text) => {
        runs++;
        await Deno.writeTextFile(file, text);
        // postconf waits for a main.cf younger than a second to settle: backdate it.
        await Deno.utime(file, past, past);
        const out = await new Deno.Command(postconf, {
          args: ["-c", dir.path, "-xh", "queue_directory"],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        let ours: string | SyntaxError;
        try {
          ours = queueDirectoryOf(text, file);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          ours = error;
        }
        const theirs = new TextDecoder().decode(out.stdout);
        const why = `main.cf:\n${text}\npostconf exit ${out.code}: ${theirs}${new TextDecoder().decode(out.stderr)}`;
        if (!out.success) {
          failures++;
          assert.ok(ours instanceof SyntaxError, `postconf failed, we read "${ours}"; ${why}`);
        } else {
          assert.ok(typeof ours === "string", `we threw ${ours}; ${why}`);
          assert.equal(words(ours), words(theirs), why);
        }
      }),
      { numRuns: 150 },
    );
    console.log(`main.cf vs postconf: ${runs} files, ${failures} that postconf rejects (loops), all agreed`);
  },
});
