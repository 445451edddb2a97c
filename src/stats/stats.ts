// Stats are plain numbers: a counter is a field that gets `++`. Rendering (admin
// /stats, /stats/prometheus) happens only when someone scrapes, using Envoy's names.
//
// Usage on the hot path: resolve the Counter object once (at config compile time,
// per cluster / per listener / per HCM), keep a reference, then `c.value++`.
import type { Plain } from '../config/plain';
import { NAN_KEY, binKey, sortedBins, countBelow, approxSum, approxQuantiles, type Bin } from './loglinear';
import { compileStatsMatcher, compileBucketSettings, type NameMatcher, type BucketSetting } from './matcher';
import { TagProducer } from './tag_extractor';

export class Counter {
  value = 0;
  /** Set by resetCounters() when a used counter is zeroed, so ?usedonly keeps showing it (as in Envoy). */
  latched = false;
  /** true once the counter was ever incremented (for ?usedonly). */
  get used(): boolean { return this.value !== 0 || this.latched; }
  constructor(readonly name: string) {}
  inc(): void { this.value++; }
  add(n: number): void { this.value += n; }
}

export type GaugeImportMode = 'Accumulate' | 'NeverImport';

export class Gauge {
  value = 0;
  /** Set by the mutators; a gauge whose value is non-zero also counts as used. */
  touched = false;
  get used(): boolean { return this.touched || this.value !== 0; }
  constructor(readonly name: string, readonly importMode: GaugeImportMode = 'Accumulate') {}
  inc(): void { this.value++; this.touched = true; }
  dec(): void { this.value--; this.touched = true; }
  add(n: number): void { this.value += n; this.touched = true; }
  sub(n: number): void { this.value -= n; this.touched = true; }
  set(n: number): void { this.value = n; this.touched = true; }
}

export type HistogramUnit = 'Unspecified' | 'Bytes' | 'Microseconds' | 'Milliseconds' | 'Percent';

/** Envoy's default histogram bucket bounds (ms-ish units). */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

/** Envoy's supported quantiles (HistogramStatisticsImpl::supportedQuantiles). */
export const SUPPORTED_QUANTILES: readonly number[] = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1];

/** What Envoy's HistogramStatistics exposes, computed on demand from the bins. */
export interface HistogramStatistics {
  /** Approximate quantiles for SUPPORTED_QUANTILES; NaN when there are no samples. */
  quantiles: number[];
  /** For each supported bucket bound, the samples in bins lying entirely at or below it. */
  computedBuckets: number[];
  sampleCount: number;
  /** Sum of the samples, each counted at its bin's midpoint (Envoy's hist_approx_sum). */
  sampleSum: number;
  /** The non-empty bins, ascending (for ?histogram_buckets=detailed). */
  bins: Bin[];
}

/**
 * A histogram with Envoy's (libcircllhist) log-linear bins. record() is a log10 plus
 * one Map update, no allocation. Like Envoy's ParentHistogram it keeps an interval view
 * (samples between the last two mergeHistograms() calls) and a cumulative view; the
 * cumulative view here also includes samples recorded since the last merge.
 */
export class Histogram {
  readonly buckets: readonly number[];
  /** Samples recorded (live). */
  count = 0;
  /** Exact sum of the recorded samples (live). */
  sum = 0;
  private current = new Map<number, number>();
  private merged = new Map<number, number>();
  private lastInterval = new Map<number, number>();
  get used(): boolean { return this.count !== 0; }
  constructor(readonly name: string, readonly unit: HistogramUnit = 'Unspecified', buckets: readonly number[] = DEFAULT_BUCKETS) {
    this.buckets = buckets;
  }
  record(v: number): void {
    this.count++;
    this.sum += v;
    const k = binKey(v);
    const c = this.current;
    c.set(k, (c.get(k) ?? 0) + 1);
  }
  /** Close the current interval: it becomes the interval view and is folded into the cumulative one. */
  merge(): void {
    const cur = this.current;
    const m = this.merged;
    for (const [k, n] of cur) m.set(k, (m.get(k) ?? 0) + n);
    const old = this.lastInterval;
    old.clear();
    this.lastInterval = cur;
    this.current = old;
  }
  /** Statistics over all samples ('cumulative') or over the last merged interval ('interval'). */
  statistics(view: 'cumulative' | 'interval' = 'cumulative'): HistogramStatistics {
    const maps = view === 'interval' ? [this.lastInterval] : [this.merged, this.current];
    const { bins, total } = sortedBins(maps);
    return {
      quantiles: approxQuantiles(bins, SUPPORTED_QUANTILES),
      computedBuckets: this.buckets.map((b) => countBelow(bins, b)),
      sampleCount: total,
      sampleSum: approxSum(bins),
      bins,
    };
  }
  /** Samples per bucket (disjoint), from the cumulative view. */
  get counts(): Float64Array {
    const cum = this.cumulative();
    const out = new Float64Array(cum.length);
    for (let i = 0; i < cum.length; i++) out[i] = cum[i] - (i > 0 ? cum[i - 1] : 0);
    return out;
  }
  /** Cumulative count of samples <= buckets[i] (bin-resolution, as Envoy computes it). */
  cumulative(): number[] {
    return this.statistics('cumulative').computedBuckets;
  }
  /** Quantile q in [0,1] over all samples; NaN when empty. */
  quantile(q: number): number {
    const { bins } = sortedBins([this.merged, this.current]);
    return approxQuantiles(bins, [Math.min(1, Math.max(0, q))])[0];
  }
  /** Forget every sample (used when a scope is recreated). */
  clear(): void {
    this.count = 0; this.sum = 0;
    this.current.clear(); this.merged.clear(); this.lastInterval.clear();
  }
  /** Number of samples that could not be binned (NaN / infinite). */
  get nanCount(): number {
    return (this.merged.get(NAN_KEY) ?? 0) + (this.current.get(NAN_KEY) ?? 0);
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
  /** Tag extraction used by /stats/prometheus (Envoy's default extractors unless configured). */
  tagProducer: TagProducer = new TagProducer();
  /** Stat-name prefixes registered as custom namespaces (rendered without the envoy_ prefix). */
  readonly customNamespaces = new Set<string>();
  private accept: NameMatcher | undefined;
  private bucketSettings: BucketSetting[] = [];

  /**
   * Apply envoy.config.metrics.v3.StatsConfig (plain form): stats_tags / use_all_default_tags,
   * stats_matcher and histogram_bucket_settings. Throws StatsConfigError / TagConfigError
   * naming the offending field. Stats created before this call are kept as they are.
   */
  configure(statsConfig: Plain): void {
    const cfg = statsConfig ?? {};
    const producer = new TagProducer(cfg);
    const accept = compileStatsMatcher(cfg.stats_matcher);
    const settings = compileBucketSettings(cfg.histogram_bucket_settings);
    this.tagProducer = producer;
    this.accept = accept;
    this.bucketSettings = settings;
  }

  /** Whether a stat with this name is instantiated (stats_matcher). Rejected stats still work but are not stored. */
  accepts(name: string): boolean { return this.accept === undefined || this.accept(name); }

  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter(name);
      if (this.accepts(name)) this.counters.set(name, c);
    }
    return c;
  }
  gauge(name: string, mode?: GaugeImportMode): Gauge {
    let g = this.gauges.get(name);
    if (!g) {
      g = new Gauge(name, mode);
      if (this.accepts(name)) this.gauges.set(name, g);
    }
    return g;
  }
  histogram(name: string, unit?: HistogramUnit): Histogram {
    let h = this.histograms.get(name);
    if (!h) {
      h = new Histogram(name, unit, this.bucketsFor(name));
      if (this.accepts(name)) this.histograms.set(name, h);
    }
    return h;
  }
  /** Set a text readout (ignored when the stats matcher rejects the name). */
  setTextReadout(name: string, value: string): void {
    if (this.textReadouts.has(name) || this.accepts(name)) this.textReadouts.set(name, value);
  }
  private bucketsFor(name: string): readonly number[] {
    for (const s of this.bucketSettings) if (s.match(name)) return s.buckets;
    return DEFAULT_BUCKETS;
  }
  scope(prefix: string): Scope { return new Scope(this, prefix); }
  /** Drop every stat whose name starts with prefix (a removed cluster/listener). */
  removeScope(prefix: string): void {
    for (const m of [this.counters, this.gauges, this.histograms, this.textReadouts] as Map<string, unknown>[]) {
      for (const k of m.keys()) if (k.startsWith(prefix)) m.delete(k);
    }
  }
  /** POST /reset_counters. */
  resetCounters(): void {
    for (const c of this.counters.values()) {
      if (c.value !== 0) c.latched = true;
      c.value = 0;
    }
  }
  /** Close the current histogram interval (Envoy does this every stats_flush_interval). */
  mergeHistograms(): void {
    for (const h of this.histograms.values()) h.merge();
  }
  /**
   * Call mergeHistograms() every intervalMs (Envoy's stats_flush_interval, default 5000 ms).
   * The timer does not keep the process alive. Returns a function that stops it.
   */
  startHistogramMerging(intervalMs = 5000): () => void {
    const t = setInterval(() => this.mergeHistograms(), Math.max(1, intervalMs));
    t.unref();
    return () => clearInterval(t);
  }
}

/** The process-wide store. Workers (issue 4) roll their numbers up into it. */
export const rootStore = new Store();
