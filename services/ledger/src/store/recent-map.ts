/**
 * A bounded map that forgets the oldest entries first, in two generations: entries go into the newer
 * one, and when it holds `generation` entries the older generation is dropped whole and the newer takes
 * its place. Between `generation` and twice that many entries are remembered.
 *
 * Evicting one entry at a time from a JavaScript `Map` (`delete(keys().next().value)`) is not O(1): V8
 * leaves a hole for each deleted entry until the table is rebuilt, and the iterator walks past every hole
 * from the start, which cost the ledger 5 % of its CPU at full rate.
 */
export class RecentMap<K, V> {
  readonly #generation: number;
  #newer = new Map<K, V>();
  #older = new Map<K, V>();

  constructor(generation: number) {
    if (!Number.isInteger(generation) || generation < 1) throw new RangeError("generation must be a positive integer");
    this.#generation = generation;
  }

  get(key: K): V | undefined {
    return this.#newer.get(key) ?? this.#older.get(key);
  }

  has(key: K): boolean {
    return this.#newer.has(key) || this.#older.has(key);
  }

  delete(key: K): void {
    this.#newer.delete(key);
    this.#older.delete(key);
  }

  set(key: K, value: V): void {
    if (!this.#newer.has(key) && this.#newer.size >= this.#generation) {
      this.#older = this.#newer;
      this.#newer = new Map();
    }
    this.#newer.set(key, value);
  }
}
