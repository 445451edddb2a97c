// Earliest Deadline First scheduler (Envoy EdfScheduler): each entry's next deadline is
// (time it was added) + k / weight after its k-th pick, so an entry of weight w is picked w times
// per unit of virtual time and picks of different weights interleave smoothly.
// A binary min-heap of reusable entry objects: picking allocates nothing.
//
// Deadlines are computed as start + k / weight rather than accumulated, so equal rational
// deadlines compare equal exactly and fixed weights give exact counts over whole cycles.
// Ties go to the entry (re)inserted first, like Envoy's order_offset.

interface Entry<T> {
  item: T;
  weight: number;
  start: number;
  k: number;
  deadline: number;
  order: number;
}

export class EdfScheduler<T> {
  private readonly heap: Entry<T>[] = [];
  private now = 0;
  private seq = 0;

  get size(): number { return this.heap.length; }

  /** Remove every entry and reset virtual time. */
  clear(): void {
    this.heap.length = 0;
    this.now = 0;
    this.seq = 0;
  }

  /** Add an item with weight > 0 (entries with weight <= 0 are never scheduled and are ignored). */
  add(weight: number, item: T): void {
    if (!(weight > 0)) return;
    const e: Entry<T> = { item, weight, start: this.now, k: 1, deadline: this.now + 1 / weight, order: this.seq++ };
    this.heap.push(e);
    this.siftUp(this.heap.length - 1);
  }

  /** The item that pick() would return, without picking it. */
  peek(): T | undefined {
    return this.heap.length ? this.heap[0].item : undefined;
  }

  /** Pick the earliest deadline and reschedule it with its (unchanged) weight. */
  pick(): T | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const e = heap[0];
    this.now = e.deadline;
    e.k++;
    e.deadline = e.start + e.k / e.weight;
    e.order = this.seq++;
    this.siftDown(0);
    return e.item;
  }

  /**
   * Pick the earliest deadline, then reschedule it with weightOf(item) (Envoy pickAndAdd):
   * weights that change between picks (least request) take effect from now on.
   */
  pickAndAdd(weightOf: (item: T) => number): T | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const e = heap[0];
    this.now = e.deadline;
    let w = weightOf(e.item);
    if (!(w > 0)) w = Number.MIN_VALUE;
    if (w === e.weight) {
      e.k++;
      e.deadline = e.start + e.k / w;
    } else {
      e.weight = w;
      e.start = this.now;
      e.k = 1;
      e.deadline = this.now + 1 / w;
    }
    e.order = this.seq++;
    this.siftDown(0);
    return e.item;
  }

  private less(a: Entry<T>, b: Entry<T>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const e = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent];
      if (!this.less(e, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = e;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const e = heap[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(heap[r], heap[l]) ? r : l;
      if (!this.less(heap[c], e)) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = e;
  }
}
