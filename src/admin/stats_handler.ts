// /stats, /stats/prometheus, /reset_counters
// (source/server/admin/stats_handler.cc, stats_params.cc, stats_request.cc, stats_render.cc).
import { RE2JS } from 're2js';
import type { Store, Histogram, HistogramStatistics } from '../stats/stats';
import { SUPPORTED_QUANTILES } from '../stats/stats';
import { renderPrometheus, type StatType } from '../stats/prometheus';
import { formatG, formatShortest, formatInteger } from '../stats/format';
import { binValue } from '../stats/loglinear';
import type { AdminProviders, AdminResponse, HandlerContext, UrlHandler } from './types';
import { JSON_TYPE, text } from './types';
import type { QueryParams } from './query';

type Format = 'text' | 'json' | 'prometheus';
type BucketsMode = 'summary' | 'cumulative' | 'disjoint' | 'detailed';

interface StatsParams {
  usedOnly: boolean;
  pretty: boolean;
  textReadouts: boolean;
  filter?: (name: string) => boolean;
  buckets: BucketsMode;
  type: StatType;
  hidden: 'include' | 'only' | 'exclude';
  format: Format;
}

const TYPES: readonly StatType[] = ['All', 'Counters', 'Gauges', 'Histograms', 'TextReadouts'];

/** StatsParams::parse. Returns the parsed params or the 400 response Envoy gives. */
function parseParams(q: QueryParams): StatsParams | AdminResponse {
  const p: StatsParams = {
    usedOnly: q.has('usedonly'),
    pretty: q.has('pretty'),
    textReadouts: q.has('text_readouts'),
    buckets: 'summary',
    type: 'All',
    hidden: 'exclude',
    format: 'text',
  };
  const filter = q.get('filter');
  if (filter !== undefined && filter !== '') {
    let re: RE2JS;
    try { re = RE2JS.compile(filter); } catch { return text('Invalid re2 regex', 400); }
    p.filter = (name) => re.test(name);
  }
  const hb = q.nonEmpty('histogram_buckets');
  if (hb !== undefined) {
    if (hb === 'cumulative' || hb === 'disjoint' || hb === 'detailed') p.buckets = hb;
    else if (hb === 'summary' || hb === 'none') p.buckets = 'summary';
    else return text('usage: /stats?histogram_buckets=(cumulative|disjoint|detailed|summary)\n', 400);
  }
  const type = q.get('type');
  if (type !== undefined && type !== '') {
    if (!(TYPES as readonly string[]).includes(type)) return text('invalid &type= param', 400);
    p.type = type as StatType;
  }
  const hidden = q.get('hidden');
  if (hidden !== undefined && hidden !== '') {
    if (hidden !== 'include' && hidden !== 'only' && hidden !== 'exclude') return text('usage: /stats?hidden=(include|only|exclude)\n\n', 400);
    p.hidden = hidden;
  }
  const format = q.nonEmpty('format');
  if (format !== undefined) {
    if (format === 'text' || format === 'json' || format === 'prometheus') p.format = format;
    else if (format === 'html') return text('HTML output was disabled by building with --define=admin_html=disabled', 400);
    else if (format === 'active-html') return text('Active HTML output was disabled by building with --define=admin_html=disabled', 400);
    else return text('usage: /stats?format=(html|active-html|json|prometheus|text)\n\n', 400);
  }
  return p;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

interface Selected {
  textReadouts: Array<{ name: string; value: string }>;
  numeric: Array<{ name: string; value: number }>;
  histograms: Histogram[];
}

/** The stats a /stats request shows, in Envoy's order: text readouts, counters+gauges, histograms. */
function select(store: Store, p: StatsParams): Selected {
  const show = (name: string, used: boolean) => (!p.usedOnly || used) && (!p.filter || p.filter(name));
  const out: Selected = { textReadouts: [], numeric: [], histograms: [] };
  // No stat is hidden in remora, so ?hidden=only shows nothing.
  if (p.hidden === 'only') return out;
  const t = p.type;
  if (t === 'All' || t === 'TextReadouts') {
    for (const [name, value] of store.textReadouts) if (show(name, value !== '')) out.textReadouts.push({ name, value });
  }
  if (t === 'All' || t === 'Counters') {
    for (const c of store.counters.values()) if (show(c.name, c.used)) out.numeric.push({ name: c.name, value: c.value });
  }
  if (t === 'All' || t === 'Gauges') {
    for (const g of store.gauges.values()) if (show(g.name, g.used)) out.numeric.push({ name: g.name, value: g.value });
  }
  if (t === 'All' || t === 'Histograms') {
    for (const h of store.histograms.values()) if (show(h.name, h.used)) out.histograms.push(h);
  }
  out.textReadouts.sort(byName);
  out.numeric.sort(byName);
  out.histograms.sort(byName);
  return out;
}

function quantileSummary(interval: HistogramStatistics, cumulative: HistogramStatistics): string {
  const parts: string[] = [];
  for (let i = 0; i < SUPPORTED_QUANTILES.length; i++) {
    parts.push(`P${formatG(100 * SUPPORTED_QUANTILES[i])}(${formatShortest(interval.quantiles[i])},${formatShortest(cumulative.quantiles[i])})`);
  }
  return parts.join(' ');
}

function disjoint(buckets: readonly number[]): number[] {
  return buckets.map((v, i) => v - (i > 0 ? buckets[i - 1] : 0));
}

function detail(st: HistogramStatistics): Array<{ lower_bound: number; width: number; count: number }> {
  return st.bins.map((b) => ({ lower_bound: binValue(b.key), width: b.width, count: b.count }));
}

function renderText(sel: Selected, p: StatsParams): string {
  let out = '';
  for (const t of sel.textReadouts) out += `${t.name}: "${t.value}"\n`;
  for (const n of sel.numeric) out += `${n.name}: ${formatInteger(n.value)}\n`;
  for (const h of sel.histograms) {
    if (!h.used) { out += `${h.name}: No recorded values\n`; continue; }
    const interval = h.statistics('interval');
    const cumulative = h.statistics('cumulative');
    switch (p.buckets) {
      case 'summary':
        out += `${h.name}: ${quantileSummary(interval, cumulative)}\n`;
        break;
      case 'cumulative':
      case 'disjoint': {
        const iv = p.buckets === 'disjoint' ? disjoint(interval.computedBuckets) : interval.computedBuckets;
        const cu = p.buckets === 'disjoint' ? disjoint(cumulative.computedBuckets) : cumulative.computedBuckets;
        out += `${h.name}: ` + h.buckets.map((b, i) => `B${formatG(b)}(${iv[i]},${cu[i]})`).join(' ') + '\n';
        break;
      }
      case 'detailed': {
        const d = (st: HistogramStatistics) => detail(st).map((b) => `${formatG(b.lower_bound, 15)},${formatG(b.width, 15)}:${b.count}`).join(', ');
        out += `${h.name}:\n  totals=${d(cumulative)}\n  intervals=${d(interval)}\n  summary=${quantileSummary(interval, cumulative)}\n`;
        break;
      }
    }
  }
  return out;
}

/** NaN renders as null, as Envoy's JSON streamer does. */
function num(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function renderJson(sel: Selected, p: StatsParams): string {
  const stats: unknown[] = [];
  for (const t of sel.textReadouts) stats.push({ name: t.name, value: t.value });
  for (const n of sel.numeric) stats.push({ name: n.name, value: n.value });
  if (sel.histograms.length > 0) {
    const percentiles = (h: Histogram) => {
      const cu = h.statistics('cumulative').quantiles;
      const iv = h.statistics('interval').quantiles;
      return cu.map((c, i) => ({ cumulative: num(c), interval: num(iv[i]) }));
    };
    const supported = SUPPORTED_QUANTILES.map((q) => Number(formatG(q * 100)));
    let histograms: unknown;
    switch (p.buckets) {
      case 'summary':
        histograms = {
          supported_quantiles: supported,
          computed_quantiles: sel.histograms.map((h) => ({ name: h.name, values: percentiles(h) })),
        };
        break;
      case 'cumulative':
      case 'disjoint':
        histograms = sel.histograms.map((h) => {
          const ivs = h.statistics('interval').computedBuckets;
          const cus = h.statistics('cumulative').computedBuckets;
          const iv = p.buckets === 'disjoint' ? disjoint(ivs) : ivs;
          const cu = p.buckets === 'disjoint' ? disjoint(cus) : cus;
          return { name: h.name, buckets: h.buckets.map((b, i) => ({ upper_bound: b, interval: iv[i], cumulative: cu[i] })) };
        });
        break;
      case 'detailed':
        histograms = {
          supported_percentiles: supported,
          details: sel.histograms.map((h) => ({
            name: h.name,
            totals: detail(h.statistics('cumulative')),
            intervals: detail(h.statistics('interval')),
            percentiles: percentiles(h),
          })),
        };
        break;
    }
    stats.push({ histograms });
  }
  return p.pretty ? JSON.stringify({ stats }, null, 2) : JSON.stringify({ stats });
}

export function statsHandlers(p: AdminProviders): UrlHandler[] {
  const store = p.stats;
  const stats = (ctx: HandlerContext): AdminResponse => {
    const params = parseParams(ctx.query);
    if ('status' in params) return params;
    p.beforeStats?.();
    if (params.format === 'prometheus') {
      return text(renderPrometheus(store, { usedOnly: params.usedOnly, filter: params.filter, textReadouts: params.textReadouts, type: params.type }));
    }
    const sel = select(store, params);
    if (params.format === 'json') return { status: 200, body: renderJson(sel, params), contentType: JSON_TYPE };
    return text(renderText(sel, params));
  };
  const prometheus = (ctx: HandlerContext): AdminResponse => {
    const params = parseParams(ctx.query);
    if ('status' in params) return params;
    p.beforeStats?.();
    return text(renderPrometheus(store, { usedOnly: params.usedOnly, filter: params.filter, textReadouts: params.textReadouts, type: params.type }));
  };
  return [
    {
      prefix: '/stats', help: 'print server stats', mutatesState: false, handler: stats,
      params: [
        { id: 'usedonly', help: 'Only include stats that have been written by system since restart' },
        { id: 'filter', help: 'Regular expression (Google re2) for filtering stats' },
        { id: 'format', help: 'Format to use', enumChoices: ['text', 'json', 'prometheus'] },
        { id: 'type', help: 'Stat types to include.', enumChoices: ['All', 'Counters', 'Histograms', 'Gauges', 'TextReadouts'] },
        { id: 'histogram_buckets', help: 'Histogram bucket display mode', enumChoices: ['cumulative', 'disjoint', 'detailed', 'none'] },
      ],
    },
    {
      prefix: '/stats/prometheus', help: 'print server stats in prometheus format', mutatesState: false, handler: prometheus,
      params: [
        { id: 'usedonly', help: 'Only include stats that have been written by system since restart' },
        { id: 'text_readouts', help: 'Render text_readouts as new gaugues with value 0 (increases Prometheus data size)' },
        { id: 'filter', help: 'Regular expression (Google re2) for filtering stats' },
      ],
    },
    {
      prefix: '/reset_counters', help: 'reset all counters to zero', mutatesState: true,
      handler: () => { store.resetCounters(); return text('OK\n'); },
    },
  ];
}
