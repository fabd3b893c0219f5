/**
 * Internal: the two trigger server loops, one for stream listeners (TCP and
 * UNIX-domain) and one for FIFOs, and what they share: bounded handler calls.
 *
 * @module
 */
import { formatHostPort } from "../connect/_host_port.ts";
import { Deadline, startTimer } from "../_deadline.ts";
import type { FifoListener } from "../listen/fifo_listen.ts";
import { readRequest } from "./_read_request.ts";
import { isOutOfDescriptors } from "./_limits.ts";
import { cannot, withEndpoint } from "../_errors.ts";
import type { TriggerTransport } from "./_request.ts";
import type { TriggerHandler, TriggerRequest, TriggerServer } from "./trigger_server.ts";

/** The checked options a server runs with. */
export interface Settings {
  readTimeout: number;
  pause: number;
  maxRequestBytes: number;
  maxConnections: number;
  handlerTimeout: number;
  onError: (error: unknown) => void;
  handler: TriggerHandler;
}

/**
 * What a handler receives. `request` and `signal` are made on first use:
 * most handlers look at one of them, or at neither.
 */
class Trigger implements TriggerRequest {
  readonly data: Uint8Array;
  readonly transport: TriggerTransport;
  readonly endpoint: string;
  #request: Uint8Array | undefined;
  #controller: AbortController | undefined;

  constructor(transport: TriggerTransport, endpoint: string, data: Uint8Array) {
    this.transport = transport;
    this.endpoint = endpoint;
    this.data = data;
  }

  get request(): Uint8Array {
    // A stream request ends with its NUL; a FIFO's bytes are the request as they are.
    const stream = this.transport !== "fifo";
    this.#request ??= stream && this.data[this.data.length - 1] === 0 ? this.data.subarray(0, -1) : this.data;
    return this.#request;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** Aborts `signal`, if a handler has asked for it; not a property the handler sees. */
  static abort(trigger: Trigger, reason: unknown): void {
    trigger.#controller?.abort(reason);
  }
}

/**
 * Calls the handler; never throws. A handler that returns a promise is
 * bounded by `handlerTimeout`; a synchronous one needs no timer (the hot
 * path: most handlers just note the request).
 */
function callHandler(
  settings: Settings,
  transport: TriggerTransport,
  endpoint: string,
  data: Uint8Array,
): Promise<void> | undefined {
  const trigger = new Trigger(transport, endpoint, data);
  let result: unknown;
  try {
    result = settings.handler(trigger);
  } catch (error) {
    settings.onError(error);
    return undefined;
  }
  if (typeof (result as PromiseLike<void> | undefined)?.then !== "function") return undefined;
  const running = Promise.resolve(result as PromiseLike<void>);
  return new Promise<void>((resolve) => {
    const deadline = new Deadline(`Trigger handler for "${endpoint}"`, settings.handlerTimeout);
    deadline.onExpire(() => {
      const error = new DOMException(
        `Trigger handler for "${endpoint}" did not settle within ${settings.handlerTimeout} ms`,
        "TimeoutError",
      );
      Trigger.abort(trigger, error);
      settings.onError(error);
      resolve();
    });
    running.catch(settings.onError).finally(() => {
      deadline[Symbol.dispose]();
      resolve();
    });
  });
}

/** The one report of an episode without descriptors: names the endpoint and what happens next. */
function outOfDescriptors(error: unknown, endpoint: string): unknown {
  const named = withEndpoint(error, cannot("accept on", endpoint));
  if (named instanceof Error) {
    named.message += "; new connections wait in the listen queue until descriptors free (reported once)";
  }
  return named;
}

/** A client that reset or went away: no fault of the server's, so not reported. */
function isClientGone(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected || error instanceof Deno.errors.BrokenPipe;
}

/** Serves a TCP or UNIX-domain listener: one trigger per connection. */
export class StreamServer implements TriggerServer {
  readonly endpoint: string;
  readonly transport: TriggerTransport;
  readonly finished: Promise<void>;
  readonly #listener: Deno.TcpListener | Deno.UnixListener;
  readonly #settings: Settings;
  /** Connections being served; `#drained` resolves when it drops to 0 while closing. */
  #running = 0;
  #drained: PromiseWithResolvers<void> | undefined;
  readonly #stops = new Set<() => void>();
  #closing = false;
  #slotFree: PromiseWithResolvers<void> | undefined;

  constructor(listener: Deno.TcpListener | Deno.UnixListener, settings: Settings) {
    this.#listener = listener;
    this.#settings = settings;
    const addr = listener.addr;
    this.transport = addr.transport === "tcp" ? "inet" : "unix";
    this.endpoint = addr.transport === "tcp"
      ? `inet:${formatHostPort(addr.hostname, addr.port)}`
      : `unix:${(addr as Deno.UnixAddr).path}`;
    this.finished = this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    const { maxConnections } = this.#settings;
    // Milliseconds of the current back-off while accept finds no descriptor; 0 outside such an episode.
    let starvedFor = 0;
    while (!this.#closing) {
      // Flow control: beyond maxConnections, new connections wait in the listen queue.
      if (this.#running >= maxConnections) {
        this.#slotFree = Promise.withResolvers<void>();
        await this.#slotFree.promise;
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing) break;
        // A client that went away while queued: its business, not the server's.
        if (isClientGone(error)) continue;
        // No descriptor left (something else in the process holds them): say
        // so once per episode, not once per retry, and retry less and less
        // often (10 ms doubling to 1 s) or as soon as a slot frees.
        const starved = isOutOfDescriptors(error);
        if (!starved) this.#settings.onError(error);
        else if (starvedFor === 0) this.#settings.onError(outOfDescriptors(error, this.endpoint));
        starvedFor = starved ? Math.min(1_000, Math.max(10, starvedFor * 2)) : 0;
        // Any other accept error: back off 100 ms the same way; only close() ends the loop.
        this.#slotFree = Promise.withResolvers<void>();
        const backoff = startTimer(() => this.#slotFree?.resolve(), starved ? starvedFor : 100);
        await this.#slotFree.promise;
        clearTimeout(backoff);
        continue;
      }
      // The episode, if any, is over: descriptors are free again.
      starvedFor = 0;
      this.#running++;
      void this.#serve(conn);
    }
    if (this.#running > 0) {
      this.#drained = Promise.withResolvers<void>();
      await this.#drained.promise;
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    try {
      const settings = this.#settings;
      const { data, error, cut } = await readRequest(conn, settings, this.#stops);
      // A client that reset mid-request is not the server's error; its bytes are still served.
      if (error !== undefined && !isClientGone(error)) settings.onError(error);
      // A silent connection cut short by close() is not a trigger.
      if (cut && data.length === 0) return;
      await callHandler(settings, this.transport, this.endpoint, data);
    } finally {
      this.#running--;
      this.#slotFree?.resolve();
      if (this.#running === 0) this.#drained?.resolve();
    }
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      // Closing the listener ends the pending accept; Deno unlinks a UNIX-domain socket's path.
      this.#listener.close();
      for (const stop of this.#stops) stop();
      this.#slotFree?.resolve();
    }
    return this.finished;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Serves a FIFO: one trigger per chunk read, handlers one at a time, as Postfix. */
export class FifoServer implements TriggerServer {
  readonly endpoint: string;
  readonly transport: TriggerTransport = "fifo";
  readonly finished: Promise<void>;
  readonly #fifo: FifoListener;
  readonly #settings: Settings;

  constructor(fifo: FifoListener, settings: Settings) {
    this.#fifo = fifo;
    this.#settings = settings;
    this.endpoint = `fifo:${fifo.path}`;
    this.finished = this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    try {
      for await (const chunk of this.#fifo) {
        await callHandler(this.#settings, "fifo", this.endpoint, chunk);
      }
    } catch (error) {
      this.#settings.onError(error);
    }
    // The loop ends as soon as close() starts: finish the close (the FIFO's
    // removal) before `finished` resolves, so a caller that awaits only
    // `finished` (a signal-stopped server) finds the FIFO gone.
    await this.#fifo.close();
  }

  async close(): Promise<void> {
    await this.#fifo.close();
    await this.finished;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
