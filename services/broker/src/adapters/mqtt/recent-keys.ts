/** The last `capacity` keys seen, for duplicate checks: O(1) add and lookup, bounded memory. */
export class RecentKeys {
  private readonly set = new Set<string>();
  private readonly ring: (string | undefined)[];
  private next = 0;

  constructor(capacity: number) {
    this.ring = new Array<string | undefined>(capacity);
  }

  has(key: string): boolean {
    return this.set.has(key);
  }

  /** Remembers `key`, forgetting the oldest once full. */
  add(key: string): void {
    const old = this.ring[this.next];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.next] = key;
    this.set.add(key);
    this.next = (this.next + 1) % this.ring.length;
  }
}
