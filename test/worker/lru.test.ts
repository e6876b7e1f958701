import { describe, expect, it } from "vitest";
import { BoundedLru } from "../../worker/lru.ts";

// worker/lru.ts

describe("BoundedLru", () => {
  it("evicts the least recently used entry by count and by weight", () => {
    const lru = new BoundedLru<string, number>({ maxEntries: 2, maxWeight: 10 });
    lru.set("a", 1, 1);
    lru.set("b", 2, 1);
    lru.get("a");
    lru.set("c", 3, 1);
    expect([lru.get("a"), lru.get("b"), lru.get("c")]).toEqual([1, undefined, 3]);
    lru.set("d", 4, 9);
    expect(lru.get("a")).toBeUndefined();
    expect(lru.weight).toBeLessThanOrEqual(10);
    lru.set("huge", 5, 11);
    expect(lru.get("huge")).toBeUndefined();
  });
});
