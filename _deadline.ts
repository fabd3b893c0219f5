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
 * The deadlines of one duration, in the order they expire (which is the
 * order they began), behind one armed timer: an `AbortSignal.timeout`
 * that fires at or before the head's expiry.
 *
 * Why not a timer per deadline: in Deno 2.9 `setTimeout` is Node's
 * `Timeout` (an object, an async id, several ops), about 8% of a trigger;
 * adding and removing a deadline here costs a clock read and two links.
 * The armed timer has the lane's listener only while the lane holds a
 * deadline: with a listener Deno keeps the process alive for it; without
 * one it is unref'd, so a script whose work is done exits at once, and the
 * spent timer is a runtime timer that the test sanitizers do not count.
 */
interface Lane {
  readonly ms: number;
  head: Deadline | undefined;
  tail: Deadline | undefined;
  /** Fires at or before the head's expiry; undefined or aborted when spent. */
  timer: AbortSignal | undefined;
  /** Runs the lane's expiries; attached to `timer` only while the lane is not empty. */
  readonly fire: () => void;
}

/** One lane per duration in use; a lane that empties is dropped once there are many. */
const LANES = new Map<number, Lane>();
const MAX_IDLE_LANES = 32;

/**
 * A caller's signal plus a timeout, as one deadline, released with `using`.
 *
 * Cheap on the hot path: no timer of its own (see {@linkcode Lane}: one
 * shared, armed timer per duration, O(1) to enter and leave), a listener on
 * the caller's signal only when there is one, and an AbortSignal only when
 * something asks for {@linkcode signal}. Code that holds a resource (a
 * socket to close) hands {@linkcode onExpire} a callback instead of
 * listening on a signal. A deadline fires within a few milliseconds of its
 * timeout.
 */
export class Deadline implements Disposable {
  readonly #what: string;
  readonly #timeout: number;
  readonly #caller: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #onExpire: (() => void) | undefined;
  #onCallerAbort: (() => void) | undefined;
  #expired = false;
  #timedOut = false;
  #reason: unknown;
  /* Place in its lane, while it waits there. */
  #lane: Lane | undefined;
  #expiry = 0;
  #prev: Deadline | undefined;
  #next: Deadline | undefined;

  /**
   * @param what The endpoint or action, for the timeout message.
   * @param timeout Milliseconds; `Infinity` waits for the caller's signal only; 0 has passed already.
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
    if (timeout <= MAX_TIMER) Deadline.#enter(this, timeout);
  }

  /** Appends `deadline` to the lane of `ms`, arming or listening on its timer as needed. */
  static #enter(deadline: Deadline, ms: number): void {
    let lane = LANES.get(ms);
    if (lane === undefined) {
      const made: Lane = { ms, head: undefined, tail: undefined, timer: undefined, fire: () => Deadline.#fire(made) };
      LANES.set(ms, made);
      lane = made;
    }
    deadline.#lane = lane;
    deadline.#expiry = performance.now() + ms;
    const tail = lane.tail;
    deadline.#prev = tail;
    lane.tail = deadline;
    if (tail !== undefined) {
      tail.#next = deadline;
      return;
    }
    // The lane was empty: its timer, if still armed, fires before this expiry and re-arms.
    lane.head = deadline;
    if (lane.timer === undefined || lane.timer.aborted) lane.timer = AbortSignal.timeout(ms);
    lane.timer.addEventListener("abort", lane.fire);
  }

  /** Takes `deadline` out of its lane; an empty lane stops listening (its timer no longer holds the process). */
  static #leave(deadline: Deadline): void {
    const lane = deadline.#lane;
    if (lane === undefined) return;
    deadline.#lane = undefined;
    const prev = deadline.#prev;
    const next = deadline.#next;
    if (prev === undefined) lane.head = next;
    else prev.#next = next;
    if (next === undefined) lane.tail = prev;
    else next.#prev = prev;
    deadline.#prev = deadline.#next = undefined;
    if (lane.head !== undefined) return;
    lane.timer?.removeEventListener("abort", lane.fire);
    if (LANES.size > MAX_IDLE_LANES) LANES.delete(lane.ms);
  }

  /** The lane's timer fired: expire what is due, re-arm for the next. */
  static #fire(lane: Lane): void {
    lane.timer?.removeEventListener("abort", lane.fire);
    lane.timer = undefined;
    // A timer may fire a fraction of a millisecond before the clock says so.
    const now = performance.now() + 1;
    for (let head = lane.head; head !== undefined && head.#expiry <= now; head = lane.head) {
      Deadline.#leave(head);
      head.#timedOut = true;
      head.#expire(head.timeoutError());
    }
    // Re-arm for the new head, unless an expiry above entered the lane and armed it already.
    if (lane.head !== undefined && lane.timer === undefined) {
      lane.timer = AbortSignal.timeout(Math.max(1, lane.head.#expiry - performance.now()));
      lane.timer.addEventListener("abort", lane.fire);
    }
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

  /** Leaves the shared timer's lane and the caller's signal; the deadline no longer fires. */
  [Symbol.dispose](): void {
    Deadline.#leave(this);
    this.#onExpire = undefined;
    if (this.#onCallerAbort) this.#caller?.removeEventListener("abort", this.#onCallerAbort);
  }
}
