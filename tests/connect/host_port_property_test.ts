import assert from "node:assert/strict";
import fc from "../_property.ts";
import { type AddressSide, formatHostPort, parseHostPort } from "../../connect/_host_port.ts";

const side: fc.Arbitrary<AddressSide> = fc.constantFrom("client", "server");

/* Strings made of the characters the parser branches on reach deeper than random text. */
const addressLike: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(..."[]:.%-_ 0123456789abfsmtpv6IP*"),
    maxLength: 40,
  }),
);

/* Host names the parser must accept: labels of 1..63 characters, not all numeric. */
const label: fc.Arbitrary<string> = fc.stringMatching(
  /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/,
);
const hostname: fc.Arbitrary<string> = fc.oneof(
  fc.domain(),
  fc.tuple(fc.array(label, { minLength: 1, maxLength: 6 }), fc.boolean())
    .map(([labels, dot]) => labels.join(".") + (dot ? "." : ""))
    .filter((name) => name.length <= 255 && !/^[0-9.]+$/.test(name)),
);
const host: fc.Arbitrary<string> = fc.oneof(hostname, fc.ipV4(), fc.ipV6());

Deno.test("parseHostPort() throws only SyntaxError or RangeError on any string", () => {
  fc.assert(
    fc.property(addressLike, side, (address, side) => {
      let result;
      try {
        result = parseHostPort(address, side);
      } catch (err) {
        // A string is the right type, so TypeError is not expected either.
        assert.ok(
          err instanceof SyntaxError || err instanceof RangeError,
          `${address}: ${err}`,
        );
        assert.ok(err.message.startsWith(`Invalid address "${address}": `));
        return;
      }
      assert.equal(typeof result.host, "string");
      assert.ok(Number.isInteger(result.port));
      assert.ok(
        result.port >= (side === "client" ? 1 : 0) && result.port <= 65535,
      );
      assert.ok(result.host !== "" || side === "server");
    }),
  );
});

Deno.test("parseHostPort() reads back what formatHostPort() writes (client)", () => {
  fc.assert(
    fc.property(host, fc.integer({ min: 1, max: 65535 }), (host, port) => {
      assert.deepEqual(parseHostPort(formatHostPort(host, port), "client"), {
        host,
        port,
      });
    }),
  );
});

Deno.test("parseHostPort() reads back what formatHostPort() writes (server)", () => {
  fc.assert(
    fc.property(
      fc.oneof(host, fc.constant("")),
      fc.integer({ min: 0, max: 65535 }),
      (host, port) => {
        assert.deepEqual(parseHostPort(formatHostPort(host, port), "server"), {
          host,
          port,
        });
      },
    ),
  );
});

Deno.test("parseHostPort() throws TypeError on any non-string address", () => {
  const nonString = fc.oneof(
    fc.anything().filter((value) => typeof value !== "string"),
    fc.bigInt(),
    fc.func(fc.string()),
    fc.string().map((description) => Symbol(description)),
  );
  fc.assert(
    fc.property(nonString, side, (value, side) => {
      assert.throws(
        () => parseHostPort(value as unknown as string, side),
        (err: unknown) =>
          err instanceof TypeError &&
          err.message === `address must be a string, got ${typeof value}`,
      );
    }),
  );
});
