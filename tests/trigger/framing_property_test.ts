import assert from "node:assert/strict";
import fc, { SEED } from "../_property.ts";
import { serveTriggers, type TriggerServer } from "../../trigger/trigger_server.ts";
import { delay, within } from "../_util.ts";

/** The server's request size limit in these properties. */
const MAX_REQUEST_BYTES = 1024;
const NUM_RUNS = 50;

/** Requests the handler received, in order, taken one at a time. */
class Received {
  readonly #queue: Uint8Array[] = [];
  #waiter: PromiseWithResolvers<void> | undefined;

  readonly handler = ({ request }: { request: Uint8Array }): void => {
    this.#queue.push(request.slice());
    this.#waiter?.resolve();
  };

  get pending(): number {
    return this.#queue.length;
  }

  /** The next request, waiting at most `ms` for it. */
  async next(ms: number): Promise<Uint8Array> {
    if (this.#queue.length === 0) {
      this.#waiter = Promise.withResolvers<void>();
      try {
        await within(this.#waiter.promise, ms, "the handler call");
      } finally {
        this.#waiter = undefined;
      }
    }
    return this.#queue.shift()!;
  }
}

/**
 * A payload: bytes 1..255 (no NUL), 0 to MAX_REQUEST_BYTES - 1 of them;
 * short ones (fast-check's default bias) and lengths spread over the range.
 */
const payload: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ min: 1, max: 255, maxLength: MAX_REQUEST_BYTES - 1 }),
  fc.uint8Array({ min: 1, max: 255, maxLength: MAX_REQUEST_BYTES - 1, size: "max" }),
);
/** Up to 3 cut points (taken modulo the wire's length + 1) and the pause after each write. */
const cuts: fc.Arbitrary<number[]> = fc.array(fc.nat({ max: MAX_REQUEST_BYTES }), { maxLength: 3, size: "max" });
const gaps: fc.Arbitrary<number[]> = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 });

/** Splits `wire` at the cut points: up to 4 non-empty pieces. */
function split(wire: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (wire.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, wire.length]) {
    if (point > from) pieces.push(wire.subarray(from, point));
    from = Math.max(from, point);
  }
  return pieces;
}

/** Writes each piece completely, with a short await after each. */
async function send(conn: Deno.Conn, pieces: Uint8Array[], pauses: number[]): Promise<void> {
  for (const [i, piece] of pieces.entries()) {
    for (let written = 0, n = 0; written < piece.length && n < 1_000; n++) {
      written += await conn.write(piece.subarray(written));
    }
    await delay(pauses[i]);
  }
}

/** Waits for the server to close the connection (end-of-file), at most 64 reads. */
async function awaitClose(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64);
  for (let i = 0; i < 64; i++) if ((await conn.read(buffer)) === null) return;
  throw new Error("the server sent data instead of closing");
}

interface Transport {
  name: string;
  endpoint(dir: string): string;
  connect(server: TriggerServer): Promise<Deno.Conn>;
}

const TRANSPORTS: Transport[] = [
  {
    name: "unix",
    endpoint: (dir) => `unix:${dir}/qmgr`,
    connect: (server) => Deno.connect({ transport: "unix", path: server.endpoint.slice("unix:".length) }),
  },
  {
    name: "inet",
    endpoint: () => "inet:127.0.0.1:0",
    connect: (server) =>
      Deno.connect({
        hostname: "127.0.0.1",
        port: Number(server.endpoint.slice(server.endpoint.lastIndexOf(":") + 1)),
      }),
  },
];

/** Runs `property` against one server per transport, with fast-check's run settings. */
async function checkOnEachTransport(
  property: (
    transport: Transport,
    server: TriggerServer,
    received: Received,
  ) => fc.IAsyncProperty<[Uint8Array, number[], number[]]>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "postnet-framing-" });
  try {
    for (const transport of TRANSPORTS) {
      const received = new Received();
      const errors: unknown[] = [];
      await using server = await serveTriggers(transport.endpoint(dir), received.handler, {
        maxRequestBytes: MAX_REQUEST_BYTES,
        onError: (error) => void errors.push(error),
      });
      await fc.assert(property(transport, server, received), {
        numRuns: NUM_RUNS,
        interruptAfterTimeLimit: 60_000,
        markInterruptAsFailure: true,
      });
      // Checked after the property's runs: the seed goes in the message, as fast-check puts it in its own.
      assert.deepEqual(errors, [], `${transport.name}: no errors reported (seed ${SEED})`);
      assert.equal(received.pending, 0, `${transport.name}: no stray handler calls (seed ${SEED})`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("serveTriggers() gives the handler exactly the payload sent with a NUL, however the writes split it", async () => {
  await checkOnEachTransport((transport, server, received) =>
    fc.asyncProperty(payload, cuts, gaps, async (bytes, points, pauses) => {
      assert.equal(received.pending, 0, "no handler call is left over from an earlier run");
      const wire = new Uint8Array(bytes.length + 1);
      wire.set(bytes);
      {
        using conn = await transport.connect(server);
        await send(conn, split(wire, points), pauses);
        await within(awaitClose(conn), 5_000, "the server's close");
      }
      const request = await received.next(5_000);
      assert.deepEqual(request, bytes);
    })
  );
});

Deno.test("serveTriggers() gives the handler exactly the payload sent without a NUL when the client closes", async () => {
  await checkOnEachTransport((transport, server, received) =>
    fc.asyncProperty(payload, cuts, gaps, async (bytes, points, pauses) => {
      assert.equal(received.pending, 0, "no handler call is left over from an earlier run");
      {
        using conn = await transport.connect(server);
        await send(conn, split(bytes, points), pauses);
      }
      const request = await received.next(5_000);
      assert.deepEqual(request, bytes);
    })
  );
});

Deno.test("split() cuts a wire into at most 4 non-empty pieces that join back to it", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), cuts, (wire, points) => {
      const pieces = split(wire, points);
      assert.ok(pieces.length <= 4);
      assert.ok(pieces.every((piece) => piece.length > 0));
      assert.deepEqual(Uint8Array.from(pieces.flatMap((piece) => [...piece])), wire);
    }),
  );
});
