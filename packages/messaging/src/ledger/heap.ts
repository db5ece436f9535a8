/** A binary min-heap ordered by (key, seq): the smallest key first, ties in insertion order. */
export interface HeapItem {
  readonly key: number;
  readonly seq: number;
}

export class MinHeap<T extends HeapItem> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** Every item, in no particular order (read-only use). */
  items(): readonly T[] {
    return this.heap;
  }

  peek(): T | undefined {
    return this.heap[0];
  }

  push(item: T): void {
    const a = this.heap;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.heap;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}

function less(a: HeapItem, b: HeapItem): boolean {
  return a.key < b.key || (a.key === b.key && a.seq < b.seq);
}
