import assert from "node:assert/strict";
import { type AddressSide, formatHostPort, type HostPort, parseHostPort } from "../../connect/_host_port.ts";

/* Inputs that parse, with the expected result on each side. */
const VALID: [address: string, client: HostPort, server: HostPort][] = [
  // host:port
  ["example.com:25", h("example.com", 25), h("example.com", 25)],
  ["127.0.0.1:25", h("127.0.0.1", 25), h("127.0.0.1", 25)],
  [
    "mail_1.example-host.org.:587",
    h("mail_1.example-host.org.", 587),
    h(
      "mail_1.example-host.org.",
      587,
    ),
  ],
  ["a.123:25", h("a.123", 25), h("a.123", 25)],
  [`${"a".repeat(63)}:25`, h("a".repeat(63), 25), h("a".repeat(63), 25)],
  [
    `${"a.".repeat(126)}abc:25`,
    h(`${"a.".repeat(126)}abc`, 25),
    h(
      `${"a.".repeat(126)}abc`,
      25,
    ),
  ],
  ["_dmarc.example:25", h("_dmarc.example", 25), h("_dmarc.example", 25)],
  ["localhost:025", h("localhost", 25), h("localhost", 25)],
  // [host]:port
  ["[example.com]:25", h("example.com", 25), h("example.com", 25)],
  ["[127.0.0.1]:10025", h("127.0.0.1", 10025), h("127.0.0.1", 10025)],
  ["[::1]:25", h("::1", 25), h("::1", 25)],
  ["[ipv6:::1]:25", h("::1", 25), h("::1", 25)],
  ["[IPv6:2001:db8::1]:25", h("2001:db8::1", 25), h("2001:db8::1", 25)],
  [
    "[::ffff:192.0.2.1]:25",
    h("::ffff:192.0.2.1", 25),
    h(
      "::ffff:192.0.2.1",
      25,
    ),
  ],
  // Unbracketed IPv6 splits at the right-most colon.
  ["::1:25", h("::1", 25), h("::1", 25)],
  ["fe80::1:24", h("fe80::1", 24), h("fe80::1", 24)],
  // Host omitted.
  [":25", h("localhost", 25), h("", 25)],
  ["25", h("localhost", 25), h("", 25)],
  ["smtp", h("localhost", 25), h("", 25)],
  // Symbolic services.
  ["host:lmtp", h("host", 24), h("host", 24)],
  ["host:smtp", h("host", 25), h("host", 25)],
  ["host:smtps", h("host", 465), h("host", 465)],
  ["host:submissions", h("host", 465), h("host", 465)],
  ["[::1]:submission", h("::1", 587), h("::1", 587)],
  // Port bounds.
  ["host:1", h("host", 1), h("host", 1)],
  ["host:65535", h("host", 65535), h("host", 65535)],
];

Deno.test("parseHostPort() parses every address form on both sides", () => {
  for (const [address, client, server] of VALID) {
    assert.deepEqual(parseHostPort(address, "client"), client, address);
    assert.deepEqual(parseHostPort(address, "server"), server, address);
  }
});

Deno.test("parseHostPort() splits at the right-most colon", () => {
  assert.deepEqual(parseHostPort("::1:25", "client"), h("::1", 25));
  assert.deepEqual(
    parseHostPort("2001:db8::25:587", "server"),
    h("2001:db8::25", 587),
  );
  // "a:b" is then the host, not "a" with garbage after the port.
  assert.match(
    assertThrows(() => parseHostPort("a:b:25", "client"), SyntaxError).message,
    /valid hostname or network address required$/,
  );
});

Deno.test("parseHostPort() takes a bare word as a port", () => {
  assert.deepEqual(parseHostPort("587", "client"), h("localhost", 587));
  assert.deepEqual(parseHostPort("submission", "server"), h("", 587));
});

Deno.test("parseHostPort() accepts port 0 on the server side only", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:0", "server"), h("127.0.0.1", 0));
  assert.deepEqual(parseHostPort(":0", "server"), h("", 0));
  assert.deepEqual(parseHostPort("0", "server"), h("", 0));
  assertThrows(() => parseHostPort("127.0.0.1:0", "client"), RangeError);
  assertThrows(() => parseHostPort("0", "client"), RangeError);
});

/* Inputs that fail the same way on both sides, with the error and reason. */
const INVALID: [address: string, error: ErrorClass, reason: string][] = [
  ["", SyntaxError, "empty address"],
  ["host:", SyntaxError, "missing service information"],
  ["[::1]:", SyntaxError, "missing service information"],
  ["[h]", SyntaxError, "missing service information"],
  [":", SyntaxError, "missing service information"],
  ["[h]x", SyntaxError, "garbage after ]"],
  ["[h]]:25", SyntaxError, "garbage after ]"],
  ["[h:25", SyntaxError, "missing ]"],
  ["[", SyntaxError, "missing ]"],
  ["25x", SyntaxError, "garbage after numerical service"],
  ["127.0.0.1", SyntaxError, "garbage after numerical service"],
  ["host:25x", SyntaxError, "garbage after numerical service"],
  ["host:-1", SyntaxError, 'unknown service "-1"'],
  ["*:25", SyntaxError, "valid hostname or network address required"],
  ["bad host!:25", SyntaxError, "valid hostname or network address required"],
  ["-a:25", SyntaxError, "valid hostname or network address required"],
  ["a-:25", SyntaxError, "valid hostname or network address required"],
  ["a..b:25", SyntaxError, "valid hostname or network address required"],
  [".a:25", SyntaxError, "valid hostname or network address required"],
  [
    `${"a".repeat(64)}:25`,
    SyntaxError,
    "valid hostname or network address required",
  ],
  [
    `${"a.".repeat(127)}ab:25`,
    SyntaxError,
    "valid hostname or network address required",
  ],
  ["123:25", SyntaxError, "valid hostname or network address required"],
  ["1.2.3:25", SyntaxError, "valid hostname or network address required"],
  ["1.2.3.256:25", SyntaxError, "valid hostname or network address required"],
  ["1.2.3.4.:25", SyntaxError, "valid hostname or network address required"],
  ["[]:25", SyntaxError, "valid hostname or network address required"],
  ["[*]:25", SyntaxError, "valid hostname or network address required"],
  ["[1.2.3]:25", SyntaxError, "valid hostname or network address required"],
  ["::1", SyntaxError, "valid hostname or network address required"],
  // Zone ids are refused, bracketed or not.
  [
    "[fe80::1%lo]:25",
    SyntaxError,
    "valid hostname or network address required",
  ],
  ["fe80::1%lo:25", SyntaxError, "valid hostname or network address required"],
  ["[ipv6:fe80::1%lo]:25", SyntaxError, "malformed IPv6 address"],
  ["[ipv6:127.0.0.1]:25", SyntaxError, "malformed IPv6 address"],
  ["[ipv6:example.com]:25", SyntaxError, "malformed IPv6 address"],
  ["[ipv6:]:25", SyntaxError, "malformed IPv6 address"],
  ["host:bogus", SyntaxError, 'unknown service "bogus"'],
  ["host:SMTP", SyntaxError, 'unknown service "SMTP"'],
  ["toString", SyntaxError, 'unknown service "toString"'],
  ["host:__proto__", SyntaxError, 'unknown service "__proto__"'],
  ["host:65536", RangeError, "port 65536 is out of range"],
  [
    "99999999999999999999",
    RangeError,
    "port 99999999999999999999 is out of range",
  ],
];

Deno.test("parseHostPort() throws the documented error for each bad address", () => {
  for (const [address, error, reason] of INVALID) {
    for (const side of ["client", "server"] as const) {
      const err = assertThrows(() => parseHostPort(address, side), error);
      const expected = `Invalid address "${address}": ${reason}`;
      assert.ok(
        err.message.startsWith(expected),
        `${side} ${address}: ${err.message}`,
      );
    }
  }
});

Deno.test("parseHostPort() reports the allowed port range of the side", () => {
  assert.equal(
    assertThrows(() => parseHostPort("h:65536", "client"), RangeError).message,
    'Invalid address "h:65536": port 65536 is out of range 1..65535',
  );
  assert.equal(
    assertThrows(() => parseHostPort("h:65536", "server"), RangeError).message,
    'Invalid address "h:65536": port 65536 is out of range 0..65535',
  );
});

Deno.test("parseHostPort() checks the host before the service", () => {
  const err = assertThrows(() => parseHostPort("*:25x", "client"), SyntaxError);
  assert.match(err.message, /valid hostname or network address required$/);
});

Deno.test("parseHostPort() throws TypeError for a non-string address", () => {
  for (
    const [value, type] of [[25, "number"], [null, "object"], [
      undefined,
      "undefined",
    ], [Symbol("a"), "symbol"]] as const
  ) {
    const err = assertThrows(
      () => parseHostPort(value as unknown as string, "client"),
      TypeError,
    );
    assert.equal(err.message, `address must be a string, got ${type}`);
  }
});

Deno.test("parseHostPort() throws TypeError for an unknown side", () => {
  const cases: [unknown, string][] = [["peer", '"peer"'], [
    undefined,
    "undefined",
  ], [1, "number"]];
  for (const [side, got] of cases) {
    const err = assertThrows(
      () => parseHostPort(":25", side as AddressSide),
      TypeError,
    );
    assert.equal(err.message, `side must be "client" or "server", got ${got}`);
  }
});

Deno.test("formatHostPort() brackets IPv6 and leaves other hosts bare", () => {
  assert.equal(formatHostPort("::1", 25), "[::1]:25");
  assert.equal(formatHostPort("fe80::1", 0), "[fe80::1]:0");
  assert.equal(formatHostPort("127.0.0.1", 25), "127.0.0.1:25");
  assert.equal(formatHostPort("example.com", 587), "example.com:587");
  assert.equal(formatHostPort("", 25), ":25");
});

Deno.test("formatHostPort() round-trips through parseHostPort()", () => {
  const sides: AddressSide[] = ["client", "server"];
  for (const [address, client, server] of VALID) {
    for (
      const [side, expected] of [[sides[0], client], [
        sides[1],
        server,
      ]] as const
    ) {
      const parsed = parseHostPort(address, side);
      assert.deepEqual(
        parseHostPort(formatHostPort(parsed.host, parsed.port), side),
        expected,
      );
    }
  }
  assert.deepEqual(parseHostPort(formatHostPort("", 0), "server"), h("", 0));
});

Deno.test("parseHostPort() answers a repeated address with the same frozen result, and stays right past its memory", () => {
  const first = parseHostPort("127.0.0.1:10025", "client");
  assert.equal(parseHostPort("127.0.0.1:10025", "client"), first);
  assert.ok(Object.isFrozen(first));
  // The sides differ for an omitted host: each side remembers its own answer.
  assert.deepEqual(parseHostPort(":25", "client"), h("localhost", 25));
  assert.deepEqual(parseHostPort(":25", "server"), h("", 25));
  // Far more addresses than it keeps: every answer is still the parse of its own input.
  for (let port = 1; port <= 500; port++) {
    assert.deepEqual(parseHostPort(`10.0.0.1:${port}`, "client"), h("10.0.0.1", port));
  }
  assert.deepEqual(parseHostPort("127.0.0.1:10025", "client"), first);
  // A refused address is refused every time: errors are not remembered as answers.
  for (let i = 0; i < 2; i++) assertThrows(() => parseHostPort("host:99999", "client"), RangeError);
});

type ErrorClass = typeof SyntaxError | typeof RangeError | typeof TypeError;

function h(host: string, port: number): HostPort {
  return { host, port };
}

/* assert.throws() returns nothing; we also want the error to check its message. */
function assertThrows(fn: () => unknown, error: ErrorClass): Error {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof error, `expected ${error.name}, got ${err}`);
    // Subclasses would pass instanceof; the spec names the exact class.
    assert.equal(err.constructor, error);
    return err;
  }
  assert.fail(`expected ${error.name}, nothing was thrown`);
}
