/**
 * Internal: a small memory of recent answers, for work a program repeats
 * with the same few inputs (the endpoints it triggers, the requests it
 * sends). Bounded: once full it starts over, so a program that never
 * repeats itself holds at most `max` entries.
 *
 * @module
 */

/** Remembers up to `max` answers by key; forgets them all when full. */
export class Recent<K, V> {
  readonly #answers = new Map<K, V>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** The answer remembered for `key`, if any. */
  get(key: K): V | undefined {
    return this.#answers.get(key);
  }

  /** Remembers `value` for `key` and returns it. */
  remember(key: K, value: V): V {
    if (this.#answers.size >= this.#max) this.#answers.clear();
    this.#answers.set(key, value);
    return value;
  }
}
