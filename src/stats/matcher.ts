// envoy.type.matcher.v3.StringMatcher (plain form) compiled into a predicate, plus
// envoy.config.metrics.v3.StatsMatcher and HistogramBucketSettings built on it.
import { RE2JS } from 're2js';
import type { Plain } from '../config/plain';

export type NameMatcher = (name: string) => boolean;

export class StatsConfigError extends Error {
  constructor(readonly field: string, message: string) { super(`${field}: ${message}`); }
}

/** Compile a plain StringMatcher. safe_regex uses RE2 full-match semantics, like Envoy. */
export function compileStringMatcher(m: Plain, field: string): NameMatcher {
  if (!m || typeof m !== 'object') throw new StatsConfigError(field, 'string matcher is empty');
  const ic = m.ignore_case === true;
  const norm = ic ? (s: string) => s.toLowerCase() : (s: string) => s;
  if (typeof m.exact === 'string') { const v = norm(m.exact); return (s) => norm(s) === v; }
  if (typeof m.prefix === 'string') { const v = norm(m.prefix); return (s) => norm(s).startsWith(v); }
  if (typeof m.suffix === 'string') { const v = norm(m.suffix); return (s) => norm(s).endsWith(v); }
  if (typeof m.contains === 'string') { const v = norm(m.contains); return (s) => norm(s).includes(v); }
  if (m.safe_regex && typeof m.safe_regex.regex === 'string') {
    let re: RE2JS;
    try {
      re = RE2JS.compile(m.safe_regex.regex, ic ? RE2JS.CASE_INSENSITIVE : 0);
    } catch (e) {
      throw new StatsConfigError(field + '.safe_regex.regex', `invalid regex '${m.safe_regex.regex}': ${(e as Error).message}`);
    }
    return (s) => re.testExact(s);
  }
  throw new StatsConfigError(field, 'unsupported string matcher (expected exact, prefix, suffix, contains or safe_regex)');
}

/**
 * envoy.config.metrics.v3.StatsMatcher: returns a predicate telling whether a stat name
 * is accepted (instantiated), or undefined when every stat is accepted.
 */
export function compileStatsMatcher(m: Plain, field = 'stats_config.stats_matcher'): NameMatcher | undefined {
  if (!m || typeof m !== 'object') return undefined;
  if (m.reject_all === true) return () => false;
  if (m.reject_all === false) return undefined;
  const list = (l: Plain, f: string): NameMatcher[] =>
    (Array.isArray(l?.patterns) ? l.patterns : []).map((p: Plain, i: number) => compileStringMatcher(p, `${f}.patterns[${i}]`));
  if (m.exclusion_list) {
    const ps = list(m.exclusion_list, field + '.exclusion_list');
    return (name) => !ps.some((p) => p(name));
  }
  if (m.inclusion_list) {
    const ps = list(m.inclusion_list, field + '.inclusion_list');
    return (name) => ps.some((p) => p(name));
  }
  return undefined;
}

export interface BucketSetting { match: NameMatcher; buckets: readonly number[] }

/** envoy.config.metrics.v3.StatsConfig.histogram_bucket_settings. */
export function compileBucketSettings(list: Plain, field = 'stats_config.histogram_bucket_settings'): BucketSetting[] {
  if (!Array.isArray(list)) return [];
  return list.map((s: Plain, i: number) => {
    const f = `${field}[${i}]`;
    const buckets = Array.isArray(s?.buckets) ? s.buckets.map(Number) : [];
    if (buckets.length === 0) throw new StatsConfigError(f + '.buckets', 'at least one bucket is required');
    for (let j = 0; j < buckets.length; j++) {
      if (!(buckets[j] > 0) || !Number.isFinite(buckets[j])) throw new StatsConfigError(`${f}.buckets[${j}]`, 'bucket must be a positive number');
    }
    const sorted = [...new Set<number>(buckets)].sort((a, b) => a - b);
    return { match: compileStringMatcher(s.match, f + '.match'), buckets: sorted };
  });
}
