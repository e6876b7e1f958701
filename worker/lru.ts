// A bounded least-recently-used map: a Map keeps insertion order, so re-inserting on every hit
// moves an entry to the back and the front is always the coldest. Bounded twice: by entry count,
// and by an estimated byte weight, because one entry's size depends on what a caller sent us.

export interface LruLimits {
  readonly maxEntries: number;
  /** Sum of the entries' `weight` (estimated bytes) never exceeds this. */
  readonly maxWeight: number;
}

export class BoundedLru<K, V> {
  readonly #limits: LruLimits;
  readonly #entries = new Map<K, { value: V; weight: number }>();
  #weight = 0;

  constructor(limits: LruLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#entries.size;
  }

  get weight(): number {
    return this.#weight;
  }

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V, weight: number): void {
    this.delete(key);
    if (weight > this.#limits.maxWeight) return; // would evict everything else: not worth keeping
    this.#entries.set(key, { value, weight });
    this.#weight += weight;
    while (this.#entries.size > this.#limits.maxEntries || this.#weight > this.#limits.maxWeight) {
      this.delete(this.#entries.keys().next().value as K);
    }
  }

  delete(key: K): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#weight -= entry.weight;
  }
}
