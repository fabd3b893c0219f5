/**
 * Internal: the bounded wait every postnet operation runs under.
 *
 * A {@linkcode Deadline} merges the caller's `signal` with the operation's own
 * `timeout` and turns either into the error the operation rejects with: the
 * caller's `signal.reason` unchanged, or a `TimeoutError` DOMException that
 * names the endpoint.
 *
 * @module
 */

/**
 * Checks a timeout option: a non-negative finite number of milliseconds, or
 * `Infinity` for no timeout.
 *
 * @throws {TypeError} when `value` is not a number.
 * @throws {RangeError} when `value` is negative or NaN.
 */
export function checkTimeout(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  // Sanity check: a NaN or negative timeout would fire at once and hide the bug.
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number of milliseconds, got ${typeof value}`);
  }
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number of milliseconds, got ${value}`);
  }
  return value;
}

/**
 * Checks that `signal`, when given, is an AbortSignal.
 *
 * @throws {TypeError} when it is something else.
 */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw new TypeError(`signal must be an AbortSignal, got ${typeof signal}`);
}

/** Largest delay setTimeout accepts; longer timeouts mean "no timeout". */
const MAX_TIMER = 2 ** 31 - 1;

/**
 * `setTimeout`, except that a delay beyond what timers take (`Infinity`,
 * more than ~24.8 days) sets no timer at all: setTimeout would clamp such a
 * delay to 1 ms and fire at once.
 */
export function startTimer(fn: () => void, ms: number): ReturnType<typeof setTimeout> | undefined {
  return ms <= MAX_TIMER ? setTimeout(fn, ms) : undefined;
}

/**
 * A caller's signal plus a timeout, as one deadline, released with `using`.
 *
 * Cheap on the hot path: one timer, a listener on the caller's signal only
 * when there is one, and an AbortSignal only when something asks for
 * {@linkcode signal}. Code that holds a resource (a socket to close) hands
 * {@linkcode onExpire} a callback instead of listening on a signal.
 */
export class Deadline implements Disposable {
  readonly #what: string;
  readonly #timeout: number;
  readonly #caller: AbortSignal | undefined;
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  #controller: AbortController | undefined;
  #onExpire: (() => void) | undefined;
  #onCallerAbort: (() => void) | undefined;
  #expired = false;
  #timedOut = false;
  #reason: unknown;

  /**
   * @param what The endpoint or action, for the timeout message.
   * @param timeout Milliseconds; `Infinity` waits for the caller's signal only.
   * @param signal The caller's signal.
   */
  constructor(what: string, timeout: number, signal?: AbortSignal) {
    this.#what = what;
    this.#timeout = timeout;
    this.#caller = signal;
    if (signal?.aborted) {
      this.#expired = true;
      this.#reason = signal.reason;
      return;
    }
    if (timeout === 0) {
      // Timeout 0 gives up at once, before any I/O: a timer of 0 ms would let a fast operation through.
      this.#expired = true;
      this.#timedOut = true;
      this.#reason = this.timeoutError();
      return;
    }
    if (signal) {
      this.#onCallerAbort = () => this.#expire(signal.reason);
      signal.addEventListener("abort", this.#onCallerAbort, { once: true });
    }
    this.#timer = startTimer(() => {
      this.#timedOut = true;
      this.#expire(this.timeoutError());
    }, timeout);
  }

  #expire(reason: unknown): void {
    if (this.#expired) return;
    this.#expired = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#onExpire?.();
  }

  /** Aborts when the caller aborts or the timeout passes; made on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#expired) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether the deadline has passed or the caller has aborted. */
  get aborted(): boolean {
    return this.#expired;
  }

  /** Whether the timeout (not the caller) ended the wait. */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** The error to reject with once {@linkcode aborted}: the caller's reason or a TimeoutError. */
  get reason(): unknown {
    return this.#reason;
  }

  /**
   * Sets the one callback run when the deadline passes (at once if it has
   * passed already), or clears it with `undefined`; e.g. to close the socket
   * a read or write is pending on: Deno takes no signal for those.
   */
  onExpire(callback: (() => void) | undefined): void {
    this.#onExpire = callback;
    if (this.#expired) callback?.();
  }

  /** A TimeoutError naming the endpoint and the timeout. */
  timeoutError(): DOMException {
    return new DOMException(
      `${this.#what}: timed out after ${this.#timeout} ms`,
      "TimeoutError",
    );
  }

  /** Throws the abort reason if the deadline has already passed. */
  throwIfAborted(): void {
    if (this.#expired) throw this.#reason;
  }

  /** Releases the timer and the listener on the caller's signal. */
  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
    this.#onExpire = undefined;
    if (this.#onCallerAbort) this.#caller?.removeEventListener("abort", this.#onCallerAbort);
  }
}
