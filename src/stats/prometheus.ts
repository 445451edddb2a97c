// Prometheus text exposition format 0.0.4, rendered the way Envoy's admin
// /stats/prometheus does (source/server/admin/prometheus_stats.cc):
//  - metric name = "envoy_" + tag-extracted name with [^a-zA-Z0-9_] replaced by "_"
//    (names under a registered custom namespace lose the namespace and get no prefix);
//  - one "# TYPE" line per metric name, its series sorted by stat name, a blank line
//    after each group; counters first, then gauges, text readouts (opt-in), histograms;
//  - every series carries braces, even without tags ("envoy_server_live{} 1");
//  - histograms: _bucket{le="<%.32g>"} per supported bucket, le="+Inf", _sum, _count.
import type { Store, Counter, Gauge, Histogram } from './stats';
import type { Tag, TagExtraction } from './tag_extractor';
import { formatG, formatInteger } from './format';

export type StatType = 'All' | 'Counters' | 'Gauges' | 'Histograms' | 'TextReadouts';

export interface PrometheusOptions {
  /** Only stats that were ever written. */
  usedOnly?: boolean;
  /** Keep only stats whose full name passes (e.g. an RE2 partial match). */
  filter?: (name: string) => boolean;
  /** Render text readouts as gauges with a text_value label (?text_readouts). */
  textReadouts?: boolean;
  type?: StatType;
}

const extractionCache = new WeakMap<object, { producer: object; x: TagExtraction }>();
const textCache = new Map<string, { producer: object; x: TagExtraction }>();

/** Tag extraction for a stat, cached per stat object (and per producer). */
export function extractTags(store: Store, stat: object, name: string): TagExtraction {
  const p = store.tagProducer;
  const hit = extractionCache.get(stat);
  if (hit && hit.producer === p) return hit.x;
  const x = p.produceTags(name);
  extractionCache.set(stat, { producer: p, x });
  return x;
}

function extractText(store: Store, name: string): TagExtraction {
  const p = store.tagProducer;
  const hit = textCache.get(name);
  if (hit && hit.producer === p) return hit.x;
  if (textCache.size > 4 * (store.textReadouts.size + 16)) textCache.clear();
  const x = p.produceTags(name);
  textCache.set(name, { producer: p, x });
  return x;
}

export function sanitizeName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** Escape a label value: backslash, newline and double quote. */
export function sanitizeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function formattedTags(tags: readonly Tag[]): string {
  let out = '';
  for (let i = 0; i < tags.length; i++) {
    if (i) out += ',';
    out += sanitizeName(tags[i].name) + '="' + sanitizeValue(tags[i].value) + '"';
  }
  return out;
}

/** PrometheusStatsFormatter::metricName; undefined when a custom-namespace name is not a valid metric name. */
export function metricName(extractedName: string, customNamespaces: ReadonlySet<string>): string | undefined {
  for (const ns of customNamespaces) {
    if (extractedName.startsWith(ns + '.')) {
      const s = sanitizeName(extractedName.slice(ns.length + 1));
      if (s === '' || (s.charCodeAt(0) >= 48 && s.charCodeAt(0) <= 57)) return undefined;
      return s;
    }
  }
  return 'envoy_' + sanitizeName(extractedName);
}

/** Envoy's StatName ordering: compare dot-separated tokens one by one. */
export function compareStatNames(a: string, b: string): number {
  if (a === b) return 0;
  const ta = a.split('.');
  const tb = b.split('.');
  const n = Math.min(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    if (ta[i] !== tb[i]) return ta[i] < tb[i] ? -1 : 1;
  }
  return ta.length - tb.length;
}

interface Item { name: string; tags: Tag[]; render: (metric: string, tags: string) => string }

function emitGroups(out: string[], items: Map<string, Item[]>, type: string, namespaces: ReadonlySet<string>): void {
  const keys = [...items.keys()].sort(compareStatNames);
  for (const key of keys) {
    const metric = metricName(key, namespaces);
    if (metric === undefined) continue;
    out.push(`# TYPE ${metric} ${type}\n`);
    const group = items.get(key)!;
    group.sort((x, y) => compareStatNames(x.name, y.name));
    for (const it of group) out.push(it.render(metric, formattedTags(it.tags)));
    out.push('\n');
  }
}

function numeric(metric: string, tags: string, value: number): string {
  return `${metric}{${tags}} ${formatInteger(value)}\n`;
}

function histogramLines(h: Histogram, metric: string, tags: string): string {
  const st = h.statistics('cumulative');
  const histTags = tags === '' ? '' : tags + ',';
  let s = '';
  for (let i = 0; i < h.buckets.length; i++) {
    s += `${metric}_bucket{${histTags}le="${formatG(h.buckets[i], 32)}"} ${st.computedBuckets[i]}\n`;
  }
  s += `${metric}_bucket{${histTags}le="+Inf"} ${st.sampleCount}\n`;
  s += `${metric}_sum{${tags}} ${formatG(st.sampleSum, 32)}\n`;
  s += `${metric}_count{${tags}} ${st.sampleCount}\n`;
  return s;
}

/** Render a store as Envoy's /stats/prometheus does. */
export function renderPrometheus(store: Store, opts: PrometheusOptions = {}): string {
  const usedOnly = opts.usedOnly === true;
  const filter = opts.filter;
  const type = opts.type ?? 'All';
  const ns = store.customNamespaces;
  const show = (name: string, used: boolean) => (!usedOnly || used) && (!filter || filter(name));
  const out: string[] = [];

  const group = <S extends Counter | Gauge | Histogram>(stats: Iterable<S>, render: (s: S) => Item['render']) => {
    const m = new Map<string, Item[]>();
    for (const s of stats) {
      if (!show(s.name, s.used)) continue;
      const x = extractTags(store, s, s.name);
      let list = m.get(x.extractedName);
      if (!list) { list = []; m.set(x.extractedName, list); }
      list.push({ name: s.name, tags: x.tags, render: render(s) });
    }
    return m;
  };

  if (type === 'All' || type === 'Counters') {
    emitGroups(out, group(store.counters.values(), (c) => (metric, tags) => numeric(metric, tags, c.value)), 'counter', ns);
  }
  if (type === 'All' || type === 'Gauges') {
    emitGroups(out, group(store.gauges.values(), (g) => (metric, tags) => numeric(metric, tags, g.value)), 'gauge', ns);
  }
  if (opts.textReadouts && (type === 'All' || type === 'TextReadouts')) {
    const m = new Map<string, Item[]>();
    for (const [name, value] of store.textReadouts) {
      if (!show(name, value !== '')) continue;
      const x = extractText(store, name);
      let list = m.get(x.extractedName);
      if (!list) { list = []; m.set(x.extractedName, list); }
      const tags = [...x.tags, { name: 'text_value', value }];
      list.push({ name, tags, render: (metric, t) => `${metric}{${t}} 0\n` });
    }
    emitGroups(out, m, 'gauge', ns);
  }
  if (type === 'All' || type === 'Histograms') {
    emitGroups(out, group(store.histograms.values(), (h) => (metric, tags) => histogramLines(h, metric, tags)), 'histogram', ns);
  }
  return out.join('');
}
