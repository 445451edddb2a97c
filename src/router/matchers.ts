// Compiled matchers shared by the route table, virtual clusters and retry policies:
// StringMatcher, HeaderMatcher, QueryParameterMatcher, MetadataMatcher and
// FractionalPercent. Each is one small class with a numeric kind and a switch, so the
// hot path stays monomorphic and allocation-free.
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import type { Headers } from '../http/headers';
import { CompiledRegex, compileRegexMatcher } from './regex';

// ---------------------------------------------------------------------------------------------
// ASCII case helpers (Envoy's absl::*IgnoreCase are ASCII-only).

export function asciiLower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return asciiLowerSlow(s);
    if (c >= 65 && c <= 90) upper = true;
  }
  // Pure ASCII: the native toLowerCase is the same mapping and much faster.
  return upper ? s.toLowerCase() : s;
}

function asciiLowerSlow(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}

/** `s.startsWith(lowerPrefix, at)` ignoring ASCII case; `lowerPrefix` must already be lowercase. */
export function startsWithIgnoreCase(s: string, lowerPrefix: string, at = 0): boolean {
  const n = lowerPrefix.length;
  if (at + n > s.length) return false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(at + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}

export function equalsIgnoreCase(s: string, lower: string): boolean {
  return s.length === lower.length && startsWithIgnoreCase(s, lower, 0);
}

function endsWithIgnoreCase(s: string, lowerSuffix: string): boolean {
  if (lowerSuffix.length > s.length) return false;
  return startsWithIgnoreCase(s, lowerSuffix, s.length - lowerSuffix.length);
}

function containsIgnoreCase(s: string, lower: string): boolean {
  const last = s.length - lower.length;
  for (let i = 0; i <= last; i++) if (startsWithIgnoreCase(s, lower, i)) return true;
  return false;
}

/** A header name or value must not hold NUL, CR or LF (Envoy's HTTP_HEADER_VALUE, non-strict). */
export function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 10 || c === 13) return true;
  }
  return false;
}

/** RFC 7230 token characters (plus a leading ':' for pseudo headers). */
export function isValidHeaderName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (i === 0 && c === 58 /* : */) continue;
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ||
      c === 33 || (c >= 35 && c <= 39) || c === 42 || c === 43 || c === 45 || c === 46 ||
      c === 94 || c === 95 || c === 96 || c === 124 || c === 126;
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// envoy.type.matcher.v3.StringMatcher

const SM_EXACT = 0, SM_PREFIX = 1, SM_SUFFIX = 2, SM_CONTAINS = 3, SM_REGEX = 4;

export class StringMatcher {
  constructor(
    readonly kind: number,
    /** The configured value; lowercased when ignoreCase. */
    readonly value: string,
    readonly ignoreCase: boolean,
    readonly regex: CompiledRegex | null,
  ) {}

  match(v: string): boolean {
    switch (this.kind) {
      case SM_EXACT: return this.ignoreCase ? equalsIgnoreCase(v, this.value) : v === this.value;
      case SM_PREFIX: return this.ignoreCase ? startsWithIgnoreCase(v, this.value) : v.startsWith(this.value);
      case SM_SUFFIX: return this.ignoreCase ? endsWithIgnoreCase(v, this.value) : v.endsWith(this.value);
      case SM_CONTAINS: return this.ignoreCase ? containsIgnoreCase(v, this.value) : v.includes(this.value);
      default: return (this.regex as CompiledRegex).fullMatch(v);
    }
  }
}

export function compileStringMatcher(m: Plain, path: string): StringMatcher {
  if (!m || typeof m !== 'object') throw new ConfigError(path, 'string matcher is required');
  const ic = m.ignore_case === true;
  if (m.exact !== undefined) return new StringMatcher(SM_EXACT, ic ? asciiLower(m.exact) : m.exact, ic, null);
  if (m.prefix !== undefined) {
    if (m.prefix === '') throw new ConfigError(joinPath(path, 'prefix'), 'value length must be at least 1 characters');
    return new StringMatcher(SM_PREFIX, ic ? asciiLower(m.prefix) : m.prefix, ic, null);
  }
  if (m.suffix !== undefined) {
    if (m.suffix === '') throw new ConfigError(joinPath(path, 'suffix'), 'value length must be at least 1 characters');
    return new StringMatcher(SM_SUFFIX, ic ? asciiLower(m.suffix) : m.suffix, ic, null);
  }
  if (m.contains !== undefined) {
    if (m.contains === '') throw new ConfigError(joinPath(path, 'contains'), 'value length must be at least 1 characters');
    return new StringMatcher(SM_CONTAINS, ic ? asciiLower(m.contains) : m.contains, ic, null);
  }
  if (m.safe_regex !== undefined) {
    if (ic) throw new ConfigError(joinPath(path, 'ignore_case'), 'ignore_case has no effect for safe_regex.');
    return new StringMatcher(SM_REGEX, '', false, compileRegexMatcher(m.safe_regex, joinPath(path, 'safe_regex')));
  }
  if (m.custom !== undefined) throw new ConfigError(joinPath(path, 'custom'), 'custom string matcher extensions are not supported');
  throw new ConfigError(path, 'one of exact, prefix, suffix, contains, safe_regex must be set');
}

// ---------------------------------------------------------------------------------------------
// envoy.config.route.v3.HeaderMatcher

const HM_VALUE = 0, HM_REGEX = 1, HM_RANGE = 2, HM_PRESENT = 3, HM_PREFIX = 4, HM_SUFFIX = 5, HM_CONTAINS = 6, HM_STRING = 7;

/** Value of a header with multiple values joined by ',' (Envoy's getAllOfHeaderAsString), or undefined. */
export function joinedHeader(h: Headers, name: string): string | undefined {
  const v = h[name];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (v.length === 0) return undefined;
  return v.length === 1 ? v[0] : v.join(',');
}

/** absl::SimpleAtoi for int64: optional surrounding ASCII whitespace, optional sign, digits. */
export function parseInt64(s: string): bigint | number | undefined {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s.charCodeAt(a))) a++;
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
  if (a === b) return undefined;
  let i = a;
  const c0 = s.charCodeAt(i);
  if (c0 === 43 || c0 === 45) i++;
  if (i === b) return undefined;
  for (let j = i; j < b; j++) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) return undefined;
  }
  const t = s.slice(a, b);
  if (b - i <= 15) return Number(t);
  const big = BigInt(t);
  if (big > 9223372036854775807n || big < -9223372036854775808n) return undefined;
  return big;
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

export class HeaderMatcher {
  constructor(
    readonly name: string,
    readonly kind: number,
    readonly value: string,
    readonly present: boolean,
    readonly rangeStart: number,
    readonly rangeEnd: number,
    readonly invert: boolean,
    readonly treatMissingAsEmpty: boolean,
    readonly regex: CompiledRegex | null,
    readonly stringMatcher: StringMatcher | null,
  ) {}

  matches(h: Headers): boolean {
    let v = joinedHeader(h, this.name);
    if (v === undefined) {
      if (!this.treatMissingAsEmpty) {
        return this.invert ? this.kind === HM_PRESENT && this.present : this.kind === HM_PRESENT && !this.present;
      }
      v = '';
    }
    let m: boolean;
    switch (this.kind) {
      case HM_VALUE: m = this.value.length === 0 || v === this.value; break;
      case HM_REGEX: m = (this.regex as CompiledRegex).fullMatch(v); break;
      case HM_RANGE: {
        const n = parseInt64(v);
        if (n === undefined) m = false;
        else if (typeof n === 'number') m = n >= this.rangeStart && n < this.rangeEnd;
        else m = n >= BigInt(this.rangeStart) && n < BigInt(this.rangeEnd);
        break;
      }
      case HM_PRESENT: m = this.present; break;
      case HM_PREFIX: m = v.startsWith(this.value); break;
      case HM_SUFFIX: m = v.endsWith(this.value); break;
      case HM_CONTAINS: m = v.includes(this.value); break;
      default: m = (this.stringMatcher as StringMatcher).match(v); break;
    }
    return m !== this.invert;
  }
}

export function compileHeaderMatcher(m: Plain, path: string): HeaderMatcher {
  if (!m || typeof m !== 'object') throw new ConfigError(path, 'header matcher is required');
  const name = typeof m.name === 'string' ? m.name : '';
  if (!isValidHeaderName(name)) throw new ConfigError(joinPath(path, 'name'), `invalid header name "${name}"`);
  const lname = asciiLower(name);
  const invert = m.invert_match === true;
  const tmae = m.treat_missing_header_as_empty === true;
  const mk = (kind: number, value = '', present = true, s = 0, e = 0, re: CompiledRegex | null = null, sm: StringMatcher | null = null) =>
    new HeaderMatcher(lname, kind, value, present, s, e, invert, tmae, re, sm);
  if (m.exact_match !== undefined) return mk(HM_VALUE, m.exact_match);
  if (m.safe_regex_match !== undefined) return mk(HM_REGEX, '', true, 0, 0, compileRegexMatcher(m.safe_regex_match, joinPath(path, 'safe_regex_match')));
  if (m.range_match !== undefined) {
    const r = m.range_match;
    const s = Number(r.start ?? 0);
    const e = Number(r.end ?? 0);
    return mk(HM_RANGE, '', true, s, e);
  }
  if (m.present_match !== undefined) return mk(HM_PRESENT, '', m.present_match === true);
  if (m.prefix_match !== undefined) {
    if (m.prefix_match === '') throw new ConfigError(joinPath(path, 'prefix_match'), 'value length must be at least 1 characters');
    return mk(HM_PREFIX, m.prefix_match);
  }
  if (m.suffix_match !== undefined) {
    if (m.suffix_match === '') throw new ConfigError(joinPath(path, 'suffix_match'), 'value length must be at least 1 characters');
    return mk(HM_SUFFIX, m.suffix_match);
  }
  if (m.contains_match !== undefined) {
    if (m.contains_match === '') throw new ConfigError(joinPath(path, 'contains_match'), 'value length must be at least 1 characters');
    return mk(HM_CONTAINS, m.contains_match);
  }
  if (m.string_match !== undefined) return mk(HM_STRING, '', true, 0, 0, null, compileStringMatcher(m.string_match, joinPath(path, 'string_match')));
  // No specifier: a presence match (Envoy's HeaderData default).
  return mk(HM_PRESENT, '', true);
}

export function compileHeaderMatchers(list: Plain[] | undefined, path: string): HeaderMatcher[] {
  const out: HeaderMatcher[] = [];
  if (!list) return out;
  for (let i = 0; i < list.length; i++) out.push(compileHeaderMatcher(list[i], `${path}[${i}]`));
  return out;
}

/** All matchers must match (an empty list matches). */
export function matchHeaders(h: Headers, matchers: ReadonlyArray<HeaderMatcher>): boolean {
  for (let i = 0; i < matchers.length; i++) if (!matchers[i].matches(h)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// envoy.config.route.v3.QueryParameterMatcher

/**
 * The first value of query parameter `name` in `path` (raw, not percent-decoded, as
 * Envoy's parseQueryString), '' for a bare key, or undefined when absent. No allocation
 * except the returned value.
 */
export function firstQueryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  let end = path.indexOf('#', q + 1);
  if (end < 0) end = path.length;
  let start = q + 1;
  // Bounded by the path length: each step moves start past one '&'-separated parameter.
  while (start < end) {
    let amp = path.indexOf('&', start);
    if (amp < 0 || amp > end) amp = end;
    if (amp - start >= name.length && path.startsWith(name, start)) {
      const after = start + name.length;
      if (after === amp) return '';
      if (path.charCodeAt(after) === 61 /* = */) return path.slice(after + 1, amp);
    }
    start = amp + 1;
  }
  return undefined;
}

export class QueryParameterMatcher {
  constructor(readonly name: string, readonly matcher: StringMatcher | null) {}
  matches(path: string): boolean {
    const v = firstQueryValue(path, this.name);
    if (v === undefined) return false;
    return this.matcher === null ? true : this.matcher.match(v);
  }
}

export function compileQueryParameterMatcher(m: Plain, path: string): QueryParameterMatcher {
  if (!m || typeof m !== 'object') throw new ConfigError(path, 'query parameter matcher is required');
  const name = typeof m.name === 'string' ? m.name : '';
  if (name.length === 0 || name.length >= 1024) throw new ConfigError(joinPath(path, 'name'), 'value length must be between 1 and 1024 characters');
  if (m.string_match !== undefined) return new QueryParameterMatcher(name, compileStringMatcher(m.string_match, joinPath(path, 'string_match')));
  return new QueryParameterMatcher(name, null);
}

// ---------------------------------------------------------------------------------------------
// envoy.type.v3.FractionalPercent

export interface Fraction {
  readonly numerator: number;
  readonly denominator: number;
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10000, MILLION: 1000000 };

export function compileFraction(p: Plain, path: string, dflt?: Fraction): Fraction {
  if (!p) {
    if (dflt) return dflt;
    throw new ConfigError(path, 'fractional percent is required');
  }
  const denominator = DENOMINATORS[p.denominator ?? 'HUNDRED'];
  if (denominator === undefined) throw new ConfigError(joinPath(path, 'denominator'), `unknown enum value "${p.denominator}"`);
  const numerator = Number(p.numerator ?? 0);
  // Envoy caps the numerator at the denominator.
  return { numerator: Math.min(numerator, denominator), denominator };
}

/** Runtime::featureEnabled with a default FractionalPercent: random % denominator < numerator. */
export function fractionEnabled(f: Fraction, random: number): boolean {
  return random % f.denominator < f.numerator;
}

// ---------------------------------------------------------------------------------------------
// envoy.type.matcher.v3.MetadataMatcher (route match on dynamic metadata)

const VM_NULL = 0, VM_DOUBLE_EXACT = 1, VM_DOUBLE_RANGE = 2, VM_STRING = 3, VM_BOOL = 4, VM_PRESENT = 5, VM_LIST = 6, VM_OR = 7;

export class ValueMatcher {
  constructor(
    readonly kind: number,
    readonly num: number,
    readonly num2: number,
    readonly bool: boolean,
    readonly sm: StringMatcher | null,
    readonly sub: ValueMatcher[],
  ) {}

  match(v: unknown): boolean {
    switch (this.kind) {
      case VM_NULL: return v === null;
      case VM_DOUBLE_EXACT: return typeof v === 'number' && v === this.num;
      case VM_DOUBLE_RANGE: return typeof v === 'number' && v >= this.num && v < this.num2;
      case VM_STRING: return typeof v === 'string' && (this.sm as StringMatcher).match(v);
      case VM_BOOL: return typeof v === 'boolean' && v === this.bool;
      case VM_PRESENT: return this.bool === (v !== undefined);
      case VM_LIST:
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (this.sub[0].match(v[i])) return true;
        return false;
      default:
        for (let i = 0; i < this.sub.length; i++) if (this.sub[i].match(v)) return true;
        return false;
    }
  }
}

export function compileValueMatcher(m: Plain, path: string): ValueMatcher {
  if (!m || typeof m !== 'object') throw new ConfigError(path, 'value matcher is required');
  if (m.null_match !== undefined) return new ValueMatcher(VM_NULL, 0, 0, false, null, []);
  if (m.double_match !== undefined) {
    const d = m.double_match;
    const dp = joinPath(path, 'double_match');
    if (d.exact !== undefined) return new ValueMatcher(VM_DOUBLE_EXACT, Number(d.exact), 0, false, null, []);
    if (d.range !== undefined) return new ValueMatcher(VM_DOUBLE_RANGE, Number(d.range.start ?? 0), Number(d.range.end ?? 0), false, null, []);
    throw new ConfigError(dp, 'one of range, exact must be set');
  }
  if (m.string_match !== undefined) return new ValueMatcher(VM_STRING, 0, 0, false, compileStringMatcher(m.string_match, joinPath(path, 'string_match')), []);
  if (m.bool_match !== undefined) return new ValueMatcher(VM_BOOL, 0, 0, m.bool_match === true, null, []);
  if (m.present_match !== undefined) return new ValueMatcher(VM_PRESENT, 0, 0, m.present_match === true, null, []);
  if (m.list_match !== undefined) {
    const lp = joinPath(path, 'list_match');
    if (!m.list_match.one_of) throw new ConfigError(joinPath(lp, 'one_of'), 'value is required');
    return new ValueMatcher(VM_LIST, 0, 0, false, null, [compileValueMatcher(m.list_match.one_of, joinPath(lp, 'one_of'))]);
  }
  if (m.or_match !== undefined) {
    const op = joinPath(joinPath(path, 'or_match'), 'value_matchers');
    const subs: ValueMatcher[] = [];
    const list: Plain[] = m.or_match.value_matchers ?? [];
    if (list.length < 2) throw new ConfigError(op, 'value must contain at least 2 item(s)');
    for (let i = 0; i < list.length; i++) subs.push(compileValueMatcher(list[i], `${op}[${i}]`));
    return new ValueMatcher(VM_OR, 0, 0, false, null, subs);
  }
  throw new ConfigError(path, 'one of null_match, double_match, string_match, bool_match, present_match, list_match, or_match must be set');
}

export class MetadataMatcher {
  constructor(readonly filter: string, readonly keys: string[], readonly value: ValueMatcher, readonly invert: boolean) {}

  matches(md: Record<string, Record<string, unknown>> | undefined): boolean {
    let v: unknown = md ? md[this.filter] : undefined;
    for (let i = 0; i < this.keys.length && v !== undefined; i++) {
      v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[this.keys[i]] : undefined;
    }
    return this.value.match(v) !== this.invert;
  }
}

export function compileMetadataMatcher(m: Plain, path: string): MetadataMatcher {
  if (!m || typeof m !== 'object') throw new ConfigError(path, 'metadata matcher is required');
  if (!m.filter) throw new ConfigError(joinPath(path, 'filter'), 'value length must be at least 1 characters');
  const segs: Plain[] = m.path ?? [];
  if (segs.length === 0) throw new ConfigError(joinPath(path, 'path'), 'value must contain at least 1 item(s)');
  const keys: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    if (typeof segs[i].key !== 'string' || segs[i].key === '') throw new ConfigError(`${joinPath(path, 'path')}[${i}].key`, 'value length must be at least 1 characters');
    keys.push(segs[i].key);
  }
  return new MetadataMatcher(m.filter, keys, compileValueMatcher(m.value, joinPath(path, 'value')), m.invert === true);
}
