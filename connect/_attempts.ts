/**
 * Internal: connection attempts to a list of addresses, one at a time
 * (Postfix's serial mode) or staggered (Happy Eyeballs, RFC 8305).
 *
 * @module
 */
import type { LookupAddress } from "./_resolve.ts";
import { formatHostPort } from "./_host_port.ts";
import { startTimer } from "../_deadline.ts";

/** How the attempts are spaced. */
export interface AttemptPlan {
  /** Milliseconds before the next address is tried while one is pending; Infinity for serial. */
  attemptDelay: number;
  /** Milliseconds each address may take; Infinity for no limit. */
  attemptTimeout: number;
}

/** One failed attempt: the address and its error. */
export interface AttemptFailure {
  address: string;
  error: unknown;
}

/**
 * Connects to the first address that answers. Starts the next address when
 * an attempt fails, or when `attemptDelay` passes with the others pending.
 * The first success wins; every other attempt is aborted, and a connection
 * that arrives late is closed, before the promise settles.
 *
 * Rejects with `signal.reason` when `signal` aborts, otherwise with the
 * failures in the order they happened.
 */
export function connectFirst(
  addresses: LookupAddress[],
  port: number,
  plan: AttemptPlan,
  signal: AbortSignal,
): Promise<Deno.TcpConn> {
  const losers = new AbortController();
  const pending = new Set<Promise<void>>();
  const failures: AttemptFailure[] = [];
  const { promise, resolve, reject } = Promise.withResolvers<Deno.TcpConn>();
  let winner: Deno.TcpConn | undefined;
  let next = 0;
  let staggered: ReturnType<typeof setTimeout> | undefined;
  let settling = false;

  // Settle only after every attempt has ended: nothing outlives the call.
  async function settle(): Promise<void> {
    if (settling) return;
    settling = true;
    clearTimeout(staggered);
    // abort() builds a DOMException (~10 us): only when there is someone to stop.
    if (pending.size > 0) losers.abort();
    while (pending.size > 0) await Promise.allSettled([...pending]);
    signal.removeEventListener("abort", settle);
    if (winner) resolve(winner);
    else if (signal.aborted) reject(signal.reason);
    else reject(failures);
  }

  function start(): void {
    clearTimeout(staggered);
    if (settling) return;
    const address = formatHostPort(addresses[next].address, port);
    const hostname = addresses[next++].address;
    const timer = new AbortController();
    const timeout = startTimer(
      () => timer.abort(new DOMException(`timed out after ${plan.attemptTimeout} ms`, "TimeoutError")),
      plan.attemptTimeout,
    );
    const attemptSignal = AbortSignal.any([signal, losers.signal, timer.signal]);
    const attempt = Deno.connect({ hostname, port, signal: attemptSignal, autoSelectFamily: false })
      .then((conn) => {
        // Safety net: an attempt that connects after the winner is closed at once.
        if (winner || settling) conn.close();
        else winner = conn;
      }, (error) => {
        if (!settling) failures.push({ address, error: timer.signal.reason ?? error });
      })
      .finally(() => {
        clearTimeout(timeout);
        pending.delete(attempt);
        if (winner || settling) void settle();
        else if (next < addresses.length) start();
        else if (pending.size === 0) void settle();
      });
    pending.add(attempt);
    if (next < addresses.length) {
      staggered = startTimer(start, plan.attemptDelay);
    }
  }

  signal.addEventListener("abort", settle, { once: true });
  start();
  return promise;
}
