/**
 * Properties of the endpoint syntax shared by trigger(), serveTriggers()
 * and the command line (trigger/_endpoint.ts): hostile input only ever
 * fails with the documented classes, and every well-formed endpoint comes
 * back in the same parts. (The host:port grammar itself is covered by
 * tests/connect/host_port_property_test.ts.)
 */
import assert from "node:assert/strict";
import fc from "../_property.ts";
import { type Endpoint, formatEndpoint, parseEndpoint } from "../../trigger/_endpoint.ts";
import { parseHostPort } from "../../connect/_host_port.ts";
import { utf8Length } from "../../_path.ts";

const NUM_RUNS = 2_000;
const side = fc.constantFrom("client" as const, "server" as const);
const encoder = new TextEncoder();

/** Strings that reach every branch: any code units, prefixes, colons, brackets, NULs, long paths. */
const hostile: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc.tuple(
    fc.constantFrom("inet:", "unix:", "fifo:", "INET:", "tcp:", "x1:", "", ":", "unix:/", "fifo:./", "inet:["),
    fc.string({ unit: fc.constantFrom(..."[]:/.%\0 \u00e9\ud83d\ude00\ud800aZ09-_*"), maxLength: 150 }),
  ).map(([prefix, rest]) => prefix + rest),
  fc.nat({ max: 300 }).map((n) => `unix:/${"a".repeat(n)}`),
);

/** Non-strings a JavaScript caller might pass. */
const notAString: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.object(),
  fc.constant(Symbol("s")),
  fc.uint8Array({ maxLength: 8 }),
);

/** A path segment: any text without "/" or NUL (lone surrogates included). */
const segment: fc.Arbitrary<string> = fc.string({ unit: "binary", minLength: 1, maxLength: 20 })
  .map((text) => text.replaceAll("/", "_").replaceAll("\0", "_"));
const absolutePath: fc.Arbitrary<string> = fc.array(segment, { minLength: 1, maxLength: 6 })
  .map((parts) => `/${parts.join("/")}`);

/** UTF-8 byte length, as the kernel counts a socket path (lone surrogates become 3 bytes of U+FFFD). */
function bytes(text: string): number {
  return encoder.encode(text).length;
}

/** Well-formed inet addresses: host and port, in every Postfix form, with the parts they stand for. */
const inetAddress = (sideName: "client" | "server") =>
  fc.tuple(
    fc.oneof(
      fc.ipV4().map((host) => ({ text: host, host })),
      fc.ipV6().map((host) => ({ text: `[${host}]`, host })),
      fc.ipV6().map((host) => ({ text: `[ipv6:${host}]`, host })),
      fc.domain().filter((host) => !/^[0-9.]+$/.test(host)).map((host) => ({ text: host, host })),
      fc.constant({ text: "", host: sideName === "client" ? "localhost" : "" }),
    ),
    fc.oneof(
      fc.integer({ min: sideName === "client" ? 1 : 0, max: 65535 }).map((port) => ({ text: String(port), port })),
      fc.constantFrom(["smtp", 25], ["lmtp", 24], ["submission", 587], ["smtps", 465]).map(([text, port]) => ({
        text: text as string,
        port: port as number,
      })),
    ),
  ).map(([host, port]) => ({ address: `${host.text}:${port.text}`, host: host.host, port: port.port }));

Deno.test("parseEndpoint() fails only with SyntaxError, RangeError or TypeError, on any input", () => {
  fc.assert(
    fc.property(hostile, side, (endpoint, side) => {
      let parsed: Endpoint;
      try {
        parsed = parseEndpoint(endpoint, side);
      } catch (error) {
        assert.ok(
          error instanceof SyntaxError || error instanceof RangeError || error instanceof TypeError,
          `${JSON.stringify(endpoint)}: ${error}`,
        );
        assert.ok(error.message.length > 0);
        return;
      }
      // Whatever is accepted is a path without NUL, or an address the host:port parser takes.
      if (parsed.transport === "inet") {
        assert.doesNotThrow(() => parseHostPort(parsed.address, side));
      } else {
        assert.ok(parsed.path.length > 0 && !parsed.path.includes("\0"), JSON.stringify(parsed));
        if (parsed.transport === "unix") assert.ok(bytes(parsed.path) < 108, JSON.stringify(parsed));
      }
      assert.equal(formatEndpoint(parsed), endpoint, "it formats back to the input");
    }),
    { numRuns: NUM_RUNS },
  );
  fc.assert(
    fc.property(notAString, side, (endpoint, side) => {
      assert.throws(() => parseEndpoint(endpoint, side), TypeError);
    }),
    { numRuns: 200 },
  );
});

Deno.test("parseEndpoint() takes every well-formed inet:HOST:PORT and returns the same address", () => {
  for (const sideName of ["client", "server"] as const) {
    fc.assert(
      fc.property(inetAddress(sideName), ({ address, host, port }) => {
        const parsed = parseEndpoint(`inet:${address}`, sideName);
        assert.deepEqual(parsed, { transport: "inet", address });
        assert.deepEqual(parseHostPort(address, sideName), { host, port });
      }),
      { numRuns: NUM_RUNS / 2 },
    );
  }
});

Deno.test("parseEndpoint() takes every unix:/abs/path under 108 bytes, and refuses longer ones with RangeError", () => {
  fc.assert(
    fc.property(absolutePath, side, (path, side) => {
      if (bytes(path) < 108) {
        assert.deepEqual(parseEndpoint(`unix:${path}`, side), { transport: "unix", path });
      } else {
        assert.throws(() => parseEndpoint(`unix:${path}`, side), RangeError);
      }
    }),
    { numRuns: NUM_RUNS },
  );
  // The boundary, in bytes: 107 is taken, 108 is not, whatever the characters.
  fc.assert(
    fc.property(fc.constantFrom("a", "\u00e9", "\u20ac", "\ud83d\ude00"), side, (char, side) => {
      const width = bytes(char);
      const fill = (n: number) => char.repeat(Math.floor(n / width)) + "x".repeat(n % width);
      const ok = `/${fill(106)}`;
      const tooLong = `/${fill(107)}`;
      assert.equal(bytes(ok), 107);
      assert.equal(bytes(tooLong), 108);
      assert.deepEqual(parseEndpoint(`unix:${ok}`, side), { transport: "unix", path: ok });
      assert.throws(() => parseEndpoint(`unix:${tooLong}`, side), RangeError);
    }),
  );
});

Deno.test("parseEndpoint() takes every fifo:PATH and every bare path, and returns the same path", () => {
  // Any non-empty path without NUL, absolute or relative, of any length.
  const anyPath = fc.oneof(
    absolutePath,
    fc.array(segment, { minLength: 1, maxLength: 40 }).map((parts) => parts.join("/")),
  );
  fc.assert(
    fc.property(anyPath, side, (path, side) => {
      assert.deepEqual(parseEndpoint(`fifo:${path}`, side), { transport: "fifo", path });
    }),
    { numRuns: NUM_RUNS },
  );
  // A bare path is one that does not start with a transport-like prefix ("word:").
  const barePath = fc.oneof(absolutePath, anyPath.map((path) => `./${path}`), anyPath)
    .filter((path) => !/^[A-Za-z][A-Za-z0-9]*:/.test(path));
  fc.assert(
    fc.property(barePath, side, (path, side) => {
      assert.deepEqual(parseEndpoint(path, side), { transport: undefined, path });
      assert.equal(formatEndpoint({ transport: undefined, path }), path);
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("parseEndpoint() refuses an unknown transport with SyntaxError naming it, and an empty or NUL path with RangeError", () => {
  const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,10}$/).filter((w) => !["inet", "unix", "fifo"].includes(w));
  fc.assert(
    fc.property(word, fc.string({ maxLength: 30 }), side, (prefix, rest, side) => {
      assert.throws(() => parseEndpoint(`${prefix}:${rest}`, side), (error: Error) => {
        assert.ok(error instanceof SyntaxError, `${error}`);
        assert.ok(error.message.includes(`"${prefix}"`), error.message);
        return true;
      });
    }),
    { numRuns: 500 },
  );
  for (const endpoint of ["", "unix:", "fifo:"]) assert.throws(() => parseEndpoint(endpoint, "client"), RangeError);
  fc.assert(
    fc.property(
      fc.constantFrom("", "unix:", "fifo:"),
      fc.string({ maxLength: 10 }),
      fc.string({ maxLength: 10 }),
      (prefix, a, b) => {
        const endpoint = `${prefix}${a}\0${b}`;
        if (/^[A-Za-z][A-Za-z0-9]*:/.test(endpoint) && prefix === "") return;
        assert.throws(() => parseEndpoint(endpoint, "client"), RangeError);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("utf8Length() counts what TextEncoder writes, for any code units (lone surrogates included)", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), fc.string({ unit: "grapheme" })), (text) => {
      assert.equal(utf8Length(text), bytes(text));
    }),
    { numRuns: NUM_RUNS },
  );
  for (const text of ["", "a", "\u00e9", "\u20ac", "\ud83d\ude00", "\ud800", "\udc00", "\udc00\ud800", "a\ud800b"]) {
    assert.equal(utf8Length(text), bytes(text), JSON.stringify(text));
  }
});
