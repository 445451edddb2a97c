// envoy.config.accesslog.v3.AccessLogFilter: decides whether a stream is logged.
// Compiled once into a tree of small filter objects; evaluate() is synchronous,
// allocation-free and never throws.
import { RE2JS } from 're2js';
import type { StreamInfo } from '../common/stream_info';
import { RESPONSE_FLAG_SHORT } from '../common/response_flags';
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import { getHeader, getJoined, type Headers } from '../http/headers';
import type { StreamInfoExtras } from './formatter';
import { grpcStatusOf, GRPC_NONE, GRPC_STATUS_ENUM } from './formatter/grpc_status';

export interface AccessLogFilter {
  evaluate(info: StreamInfo, req: Headers | undefined, resp: Headers | undefined, tr: Headers | undefined): boolean;
}

/** Runtime lookups (ServerContext.runtime); absent = always the configured defaults. */
export interface RuntimeLike { getNumber(key: string, dflt: number): number }

const OP_EQ = 0;
const OP_GE = 1;
const OP_LE = 2;
const OP_NE = 3;

class Comparison {
  private readonly op: number;
  private readonly value: number;
  private readonly key: string;
  constructor(cfg: Plain, path: string, private readonly runtime: RuntimeLike | undefined) {
    if (!cfg) throw new ConfigError(path, 'comparison is required');
    const op = cfg.op ?? 'EQ';
    this.op = op === 'EQ' ? OP_EQ : op === 'GE' ? OP_GE : op === 'LE' ? OP_LE : op === 'NE' ? OP_NE : -1;
    if (this.op < 0) throw new ConfigError(joinPath(path, 'op'), `unknown comparison op "${op}"`);
    if (!cfg.value) throw new ConfigError(joinPath(path, 'value'), 'value is required');
    this.value = Number(cfg.value.default_value ?? 0);
    this.key = cfg.value.runtime_key ?? '';
  }
  compare(v: number): boolean {
    const target = this.runtime !== undefined && this.key !== '' ? this.runtime.getNumber(this.key, this.value) : this.value;
    switch (this.op) {
      case OP_EQ: return v === target;
      case OP_GE: return v >= target;
      case OP_LE: return v <= target;
      default: return v !== target;
    }
  }
}

class StatusCodeFilter implements AccessLogFilter {
  constructor(private readonly cmp: Comparison) {}
  evaluate(info: StreamInfo): boolean { return this.cmp.compare(info.responseCode); }
}

class DurationFilter implements AccessLogFilter {
  constructor(private readonly cmp: Comparison) {}
  evaluate(info: StreamInfo): boolean {
    const ns = info.endNs >= 0 ? info.endNs : info.nowNs();
    return this.cmp.compare(Math.floor(ns / 1e6));
  }
}

class NotHealthCheckFilter implements AccessLogFilter {
  evaluate(info: StreamInfo): boolean { return (info as StreamInfo & StreamInfoExtras).healthCheck !== true; }
}

class TraceableFilter implements AccessLogFilter {
  evaluate(info: StreamInfo): boolean { return (info as StreamInfo & StreamInfoExtras).traced === true; }
}

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10000, MILLION: 1000000 };

/** Envoy UUIDRequestIDExtension::getInteger: the first 8 hex chars of x-request-id; -1 when not usable. */
function requestIdInteger(req: Headers | undefined): number {
  if (req === undefined) return -1;
  const id = getHeader(req, 'x-request-id');
  if (id === undefined || id.length < 8) return -1;
  let n = 0;
  for (let i = 0; i < 8; i++) {
    const c = id.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return -1;
    n = n * 16 + d;
  }
  return n;
}

class RuntimeFilter implements AccessLogFilter {
  private readonly numerator: number;
  private readonly denominator: number;
  private readonly key: string;
  private readonly independent: boolean;
  constructor(cfg: Plain, path: string, private readonly runtime: RuntimeLike | undefined) {
    this.key = cfg.runtime_key ?? '';
    if (!this.key) throw new ConfigError(joinPath(path, 'runtime_key'), 'value length must be at least 1 characters');
    const p = cfg.percent_sampled;
    this.numerator = Number(p?.numerator ?? 0);
    const den = p?.denominator ?? 'HUNDRED';
    const d = DENOMINATORS[den];
    if (d === undefined) throw new ConfigError(joinPath(path, 'percent_sampled.denominator'), `unknown denominator "${den}"`);
    this.denominator = d;
    this.independent = cfg.use_independent_randomness === true;
  }
  evaluate(info: StreamInfo, req: Headers | undefined): boolean {
    let r = this.independent ? -1 : requestIdInteger(req);
    if (r < 0) r = Math.floor(Math.random() * 4294967296);
    const num = this.runtime !== undefined ? this.runtime.getNumber(this.key, this.numerator) : this.numerator;
    return r % this.denominator < num;
  }
}

class AndFilter implements AccessLogFilter {
  constructor(private readonly filters: AccessLogFilter[]) {}
  evaluate(info: StreamInfo, req: Headers | undefined, resp: Headers | undefined, tr: Headers | undefined): boolean {
    for (let i = 0; i < this.filters.length; i++) if (!this.filters[i].evaluate(info, req, resp, tr)) return false;
    return true;
  }
}

class OrFilter implements AccessLogFilter {
  constructor(private readonly filters: AccessLogFilter[]) {}
  evaluate(info: StreamInfo, req: Headers | undefined, resp: Headers | undefined, tr: Headers | undefined): boolean {
    for (let i = 0; i < this.filters.length; i++) if (this.filters[i].evaluate(info, req, resp, tr)) return true;
    return false;
  }
}

// --- HeaderMatcher (envoy.config.route.v3.HeaderMatcher), the subset semantics of
// Envoy's HeaderUtility::matchHeaders.
const M_PRESENT = 0;
const M_EXACT = 1;
const M_REGEX = 2;
const M_RANGE = 3;
const M_PREFIX = 4;
const M_SUFFIX = 5;
const M_CONTAINS = 6;

function compileRegex(cfg: Plain, path: string): RE2JS {
  const re = cfg?.regex;
  if (typeof re !== 'string') throw new ConfigError(joinPath(path, 'regex'), 'regex is required');
  try {
    return RE2JS.compile(re);
  } catch (e) {
    throw new ConfigError(joinPath(path, 'regex'), `invalid regex "${re}": ${(e as Error).message}`);
  }
}

/** absl::SimpleAtoi for int64-ish values: optional sign, digits only; undefined when not an integer. */
function parseInteger(v: string): number | undefined {
  let i = 0;
  let neg = false;
  if (v.charCodeAt(0) === 45 || v.charCodeAt(0) === 43) { neg = v.charCodeAt(0) === 45; i = 1; }
  if (i >= v.length || v.length - i > 19) return undefined;
  let n = 0;
  for (; i < v.length; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

export class HeaderMatcher {
  readonly name: string;
  private kind = M_PRESENT;
  private value = '';
  private ignoreCase = false;
  private regex: RE2JS | undefined;
  private start = 0;
  private end = 0;
  private present = true;
  /** string_match.exact "" matches only the empty value; the deprecated exact_match "" matches any value. */
  private exactStrict = false;
  private readonly invert: boolean;
  private readonly missingAsEmpty: boolean;

  constructor(cfg: Plain, path: string) {
    this.name = String(cfg?.name ?? '').toLowerCase();
    if (!this.name) throw new ConfigError(joinPath(path, 'name'), 'header name is required');
    this.invert = cfg.invert_match === true;
    this.missingAsEmpty = cfg.treat_missing_header_as_empty === true;
    if (cfg.exact_match !== undefined) { this.kind = M_EXACT; this.value = cfg.exact_match; }
    else if (cfg.safe_regex_match !== undefined) {
      this.kind = M_REGEX; this.regex = compileRegex(cfg.safe_regex_match, joinPath(path, 'safe_regex_match'));
    } else if (cfg.range_match !== undefined) {
      this.kind = M_RANGE; this.start = Number(cfg.range_match.start ?? 0); this.end = Number(cfg.range_match.end ?? 0);
    } else if (cfg.present_match !== undefined) { this.kind = M_PRESENT; this.present = cfg.present_match === true; }
    else if (cfg.prefix_match !== undefined) { this.kind = M_PREFIX; this.value = cfg.prefix_match; }
    else if (cfg.suffix_match !== undefined) { this.kind = M_SUFFIX; this.value = cfg.suffix_match; }
    else if (cfg.contains_match !== undefined) { this.kind = M_CONTAINS; this.value = cfg.contains_match; }
    else if (cfg.string_match !== undefined) this.compileStringMatch(cfg.string_match, joinPath(path, 'string_match'));
  }

  private compileStringMatch(sm: Plain, path: string): void {
    this.ignoreCase = sm.ignore_case === true;
    if (sm.exact !== undefined) { this.kind = M_EXACT; this.value = sm.exact; }
    else if (sm.prefix !== undefined) { this.kind = M_PREFIX; this.value = sm.prefix; }
    else if (sm.suffix !== undefined) { this.kind = M_SUFFIX; this.value = sm.suffix; }
    else if (sm.contains !== undefined) { this.kind = M_CONTAINS; this.value = sm.contains; }
    else if (sm.safe_regex !== undefined) { this.kind = M_REGEX; this.regex = compileRegex(sm.safe_regex, joinPath(path, 'safe_regex')); }
    else if (sm.custom !== undefined) throw new ConfigError(joinPath(path, 'custom'), 'custom string matchers are not supported');
    else throw new ConfigError(path, 'one of exact, prefix, suffix, contains, safe_regex must be set');
    if (this.ignoreCase) this.value = this.value.toLowerCase();
    // Envoy: an exact string_match "" only matches the empty value (unlike the deprecated exact_match).
    if (this.kind === M_EXACT) this.exactStrict = true;
  }

  matches(h: Headers | undefined): boolean {
    const raw = h === undefined ? undefined : getJoined(h, this.name);
    if (raw === undefined && !this.missingAsEmpty) {
      return this.kind === M_PRESENT && (this.invert ? this.present : !this.present);
    }
    let v = raw ?? '';
    if (this.ignoreCase) v = v.toLowerCase();
    let m: boolean;
    switch (this.kind) {
      case M_EXACT: m = (!this.exactStrict && this.value === '') || v === this.value; break;
      case M_REGEX: m = this.regex!.matches(v); break;
      case M_RANGE: {
        const n = parseInteger(v);
        m = n !== undefined && n >= this.start && n < this.end;
        break;
      }
      case M_PREFIX: m = v.startsWith(this.value); break;
      case M_SUFFIX: m = v.endsWith(this.value); break;
      case M_CONTAINS: m = v.includes(this.value); break;
      default: m = this.present;
    }
    return m !== this.invert;
  }
}

class HeaderFilter implements AccessLogFilter {
  constructor(private readonly m: HeaderMatcher) {}
  evaluate(info: StreamInfo, req: Headers | undefined): boolean { return this.m.matches(req); }
}

const FLAG_BITS: ReadonlyMap<string, number> = new Map(RESPONSE_FLAG_SHORT.map(([bit, s]) => [s, bit]));

class ResponseFlagFilter implements AccessLogFilter {
  private readonly mask: number;
  constructor(cfg: Plain, path: string) {
    let mask = 0;
    const flags: string[] = cfg.flags ?? [];
    flags.forEach((f, i) => {
      const bit = FLAG_BITS.get(f);
      if (bit === undefined) throw new ConfigError(joinPath(path, `flags[${i}]`), `unknown response flag "${f}"`);
      mask |= bit;
    });
    this.mask = mask === 0 ? -1 : mask; // no flags listed = any flag
  }
  evaluate(info: StreamInfo): boolean { return (info.responseFlags & this.mask) !== 0; }
}

class GrpcStatusFilter implements AccessLogFilter {
  private readonly statuses: boolean[] = new Array(17).fill(false);
  private readonly exclude: boolean;
  constructor(cfg: Plain, path: string) {
    const list: Array<string | number> = cfg.statuses ?? [];
    list.forEach((s, i) => {
      const code = typeof s === 'number' ? s : GRPC_STATUS_ENUM.indexOf(s);
      if (code < 0 || code > 16) throw new ConfigError(joinPath(path, `statuses[${i}]`), `unknown gRPC status "${s}"`);
      this.statuses[code] = true;
    });
    this.exclude = cfg.exclude === true;
  }
  evaluate(info: StreamInfo, req: Headers | undefined, resp: Headers | undefined, tr: Headers | undefined): boolean {
    let s = grpcStatusOf(tr, resp, info.responseCode, false);
    if (s === GRPC_NONE) s = 2; // Unknown
    const found = s >= 0 && s <= 16 && this.statuses[s];
    return this.exclude ? !found : found;
  }
}

function subFilters(cfg: Plain, path: string, runtime: RuntimeLike | undefined): AccessLogFilter[] {
  const list: Plain[] = cfg?.filters ?? [];
  if (list.length < 2) throw new ConfigError(joinPath(path, 'filters'), 'value must contain at least 2 item(s)');
  return list.map((f, i) => compileAccessLogFilter(f, joinPath(path, `filters[${i}]`), runtime));
}

/**
 * Compile an envoy.config.accesslog.v3.AccessLogFilter (plain form). `path` is the filter's
 * own field path (e.g. "...access_log[0].filter"). Unsupported filter kinds throw ConfigError.
 */
export function compileAccessLogFilter(cfg: Plain, path: string, runtime?: RuntimeLike): AccessLogFilter {
  if (!cfg || typeof cfg !== 'object') throw new ConfigError(path, 'filter must be an object');
  if (cfg.status_code_filter !== undefined) {
    const p = joinPath(path, 'status_code_filter');
    return new StatusCodeFilter(new Comparison(cfg.status_code_filter.comparison, joinPath(p, 'comparison'), runtime));
  }
  if (cfg.duration_filter !== undefined) {
    const p = joinPath(path, 'duration_filter');
    return new DurationFilter(new Comparison(cfg.duration_filter.comparison, joinPath(p, 'comparison'), runtime));
  }
  if (cfg.not_health_check_filter !== undefined) return new NotHealthCheckFilter();
  if (cfg.traceable_filter !== undefined) return new TraceableFilter();
  if (cfg.runtime_filter !== undefined) {
    return new RuntimeFilter(cfg.runtime_filter, joinPath(path, 'runtime_filter'), runtime);
  }
  if (cfg.and_filter !== undefined) return new AndFilter(subFilters(cfg.and_filter, joinPath(path, 'and_filter'), runtime));
  if (cfg.or_filter !== undefined) return new OrFilter(subFilters(cfg.or_filter, joinPath(path, 'or_filter'), runtime));
  if (cfg.header_filter !== undefined) {
    const p = joinPath(path, 'header_filter');
    if (!cfg.header_filter.header) throw new ConfigError(joinPath(p, 'header'), 'header is required');
    return new HeaderFilter(new HeaderMatcher(cfg.header_filter.header, joinPath(p, 'header')));
  }
  if (cfg.response_flag_filter !== undefined) {
    return new ResponseFlagFilter(cfg.response_flag_filter, joinPath(path, 'response_flag_filter'));
  }
  if (cfg.grpc_status_filter !== undefined) {
    return new GrpcStatusFilter(cfg.grpc_status_filter, joinPath(path, 'grpc_status_filter'));
  }
  for (const k of ['extension_filter', 'metadata_filter', 'log_type_filter']) {
    if (cfg[k] !== undefined) throw new ConfigError(joinPath(path, k), `access log ${k} is not supported`);
  }
  const keys = Object.keys(cfg);
  throw new ConfigError(path, keys.length ? `unknown access log filter "${keys[0]}"` : 'one access log filter type must be set');
}
