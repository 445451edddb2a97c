// Stats are plain numbers: a counter is a field that gets `++`. Rendering (admin
// /stats, /stats/prometheus) happens only when someone scrapes, using Envoy's names.
//
// Usage on the hot path: resolve the Counter object once (at config compile time,
// per cluster / per listener / per HCM), keep a reference, then `c.value++`.

export class Counter {
  value = 0;
  /** true once the counter was ever incremented (for ?usedonly). */
  get used(): boolean { return this.value !== 0; }
  constructor(readonly name: string) {}
  inc(): void { this.value++; }
  add(n: number): void { this.value += n; }
}

export type GaugeImportMode = 'Accumulate' | 'NeverImport';

export class Gauge {
  value = 0;
  used = false;
  constructor(readonly name: string, readonly importMode: GaugeImportMode = 'Accumulate') {}
  inc(): void { this.value++; this.used = true; }
  dec(): void { this.value--; this.used = true; }
  add(n: number): void { this.value += n; this.used = true; }
  sub(n: number): void { this.value -= n; this.used = true; }
  set(n: number): void { this.value = n; this.used = true; }
}

export type HistogramUnit = 'Unspecified' | 'Bytes' | 'Microseconds' | 'Milliseconds' | 'Percent';

/** Envoy's default histogram bucket bounds (ms-ish units). */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/**
 * A cumulative histogram with fixed buckets plus a bounded reservoir of recent
 * samples for quantiles. record() is O(buckets) with no allocation.
 */
export class Histogram {
  readonly buckets: readonly number[];
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  private readonly recent = new Float64Array(1024);
  private recentLen = 0;
  private recentPos = 0;
  get used(): boolean { return this.count !== 0; }
  constructor(readonly name: string, readonly unit: HistogramUnit = 'Unspecified', buckets: readonly number[] = DEFAULT_BUCKETS) {
    this.buckets = buckets;
    this.counts = new Float64Array(buckets.length);
  }
  record(v: number): void {
    this.count++;
    this.sum += v;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) if (v <= b[i]) { this.counts[i]++; break; }
    this.recent[this.recentPos] = v;
    this.recentPos = (this.recentPos + 1) & 1023;
    if (this.recentLen < 1024) this.recentLen++;
  }
  /** Cumulative count of samples <= buckets[i]. */
  cumulative(): number[] {
    const out: number[] = new Array(this.buckets.length);
    let acc = 0;
    for (let i = 0; i < this.buckets.length; i++) { acc += this.counts[i]; out[i] = acc; }
    return out;
  }
  /** Quantile q in [0,1] over the recent-sample reservoir; NaN when empty. */
  quantile(q: number): number {
    if (this.recentLen === 0) return NaN;
    const a = Array.from(this.recent.subarray(0, this.recentLen)).sort((x, y) => x - y);
    const idx = Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1));
    return a[idx];
  }
}

/** A named prefix inside the store; `scope('cluster.foo.')` etc. */
export class Scope {
  constructor(readonly store: Store, readonly prefix: string) {}
  counter(name: string): Counter { return this.store.counter(this.prefix + name); }
  gauge(name: string, mode?: GaugeImportMode): Gauge { return this.store.gauge(this.prefix + name, mode); }
  histogram(name: string, unit?: HistogramUnit): Histogram { return this.store.histogram(this.prefix + name, unit); }
  scope(sub: string): Scope { return new Scope(this.store, this.prefix + sub); }
}

export class Store {
  readonly counters = new Map<string, Counter>();
  readonly gauges = new Map<string, Gauge>();
  readonly histograms = new Map<string, Histogram>();
  /** Text-readout stats (Envoy "text readouts"), e.g. control_plane.identifier. */
  readonly textReadouts = new Map<string, string>();

  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (!c) { c = new Counter(name); this.counters.set(name, c); }
    return c;
  }
  gauge(name: string, mode?: GaugeImportMode): Gauge {
    let g = this.gauges.get(name);
    if (!g) { g = new Gauge(name, mode); this.gauges.set(name, g); }
    return g;
  }
  histogram(name: string, unit?: HistogramUnit): Histogram {
    let h = this.histograms.get(name);
    if (!h) { h = new Histogram(name, unit); this.histograms.set(name, h); }
    return h;
  }
  scope(prefix: string): Scope { return new Scope(this, prefix); }
  /** Drop every stat whose name starts with prefix (a removed cluster/listener). */
  removeScope(prefix: string): void {
    for (const m of [this.counters, this.gauges, this.histograms] as Map<string, unknown>[]) {
      for (const k of m.keys()) if (k.startsWith(prefix)) m.delete(k);
    }
  }
  resetCounters(): void { for (const c of this.counters.values()) c.value = 0; }
}

/** The process-wide store. Workers (issue 4) roll their numbers up into it. */
export const rootStore = new Store();
