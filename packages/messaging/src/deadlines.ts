export interface Deadline {
  readonly at: number;
  expire: (() => void) | undefined;
}

/**
 * Deadlines `now + ms` (one `ms` per queue) in the order they were added, with one timer for the
 * oldest unsettled one: the budget of thousands of operations per second without a timer (and a
 * raced promise) each. `add` returns the entry; `settle` it when the operation finished in time,
 * otherwise its `expire` callback runs once the deadline passed.
 */
export class DeadlineQueue {
  private items: Deadline[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(private readonly ms: number) {}

  add(expire: () => void): Deadline {
    const d: Deadline = { at: performance.now() + this.ms, expire };
    this.items.push(d);
    if (this.timer === undefined) this.arm(d.at);
    return d;
  }

  settle(d: Deadline): void {
    d.expire = undefined;
    this.skipSettled();
    if (this.head === this.items.length) this.disarm();
  }

  private skipSettled(): void {
    const items = this.items;
    while (this.head < items.length && items[this.head]!.expire === undefined) this.head++;
    if (this.head === items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
  }

  private arm(at: number): void {
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - performance.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    // Bounded by the queue length: each step expires or skips one entry.
    while (this.head < this.items.length) {
      const d = this.items[this.head]!;
      if (d.expire !== undefined && d.at > now) break;
      this.head++;
      const expire = d.expire;
      d.expire = undefined;
      expire?.();
    }
    this.skipSettled();
    const first = this.items[this.head];
    if (first && first.at < this.timerAt) this.arm(first.at);
  }
}
