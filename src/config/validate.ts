// protoc-gen-validate (PGV) rules, enforced from the options the descriptor keeps.
//
// The protobufjs JSON descriptor flattens `[(validate.rules).string = {min_len: 1}]` into
// field option keys such as '(validate.rules).string.min_len' = 1, nested messages into
// dotted keys ('(validate.rules).duration.gte.nanos' = 1000000,
// '(validate.rules).repeated.items.string.min_len' = 1) and oneof requirements into the
// oneof option '(validate.required)' = true. Two kinds of rule do not survive that
// flattening and are therefore NOT enforced:
//  - list-valued rules (`in: [...]`, `not_in: [...]`): only the last list element is kept,
//    so `in` would reject valid values; `not_in` is enforced against the kept element only;
//  - rules whose value is an empty message, e.g. `duration = {gt {}}` (gt 0s) on
//    Cluster.connect_timeout: no key is emitted at all.
// Error texts follow PGV's C++ messages ("value length must be at least 1 characters"),
// prefixed by the Envoy-style field path.
import * as protobuf from 'protobufjs';
import { RE2JS } from 're2js';
import { ConfigError, Trail, pathText } from './errors';
import * as S from './schema';
import type { FieldInfo, TypeInfo } from './schema';
import { lookupType } from './protos';

// Bound once: module-namespace accessors are getters under some loaders (tsx/esbuild CJS).
const { typeInfo, typeInfoOf, fieldTypeInfo, anyCarry, isSet, hasOwn, longToNumber, mapKeyText } = S;
const { K_INT64, K_UINT64, K_BOOL, K_STRING, K_BYTES, K_MESSAGE, K_DURATION, K_WRAPPER, K_ANY } = S;

const PREFIX = '(validate.rules).';

// ---- compiled rule shapes ------------------------------------------------------

interface NumRule {
  cat: 'num';
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  const?: number;
  notIn?: number[];
}
interface StrRule {
  cat: 'str';
  ignoreEmpty: boolean;
  const?: string;
  len?: number;
  minLen?: number;
  maxLen?: number;
  lenBytes?: number;
  minBytes?: number;
  maxBytes?: number;
  prefix?: string;
  suffix?: string;
  contains?: string;
  notContains?: string;
  pattern?: { src: string; re: RE2JS };
  wellKnown?: { re: RegExp; what: string };
  notIn?: string[];
}
interface BytesRule {
  cat: 'bytes';
  len?: number;
  minLen?: number;
  maxLen?: number;
}
interface EnumRule {
  cat: 'enum';
  definedOnly: boolean;
  const?: number;
  notIn?: number[];
}
interface BoolRule {
  cat: 'bool';
  const?: boolean;
}
type ScalarRule = NumRule | StrRule | BytesRule | EnumRule | BoolRule;

interface DurRule {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  const?: number;
}

interface FieldRules {
  /** message.required / duration.required / any.required / timestamp.required. */
  required: boolean;
  /** message.skip: do not validate the sub-message. */
  skip: boolean;
  /** Rules on the (singular, or wrapped) scalar value. */
  scalar?: ScalarRule;
  dur?: DurRule;
  repeated?: { minItems?: number; maxItems?: number; unique: boolean; items?: ScalarRule; itemsDur?: DurRule };
  map?: { minPairs?: number; maxPairs?: number; keys?: ScalarRule; values?: ScalarRule };
}

interface TypeChecks {
  /** Fields carrying rules. */
  ruled: FieldInfo[];
  /** Oneofs with (validate.required). */
  requiredOneofs: TypeInfo['oneofs'];
}

// ---- compiling options into rules ----------------------------------------------

type Tree = { [k: string]: Tree | unknown };

function optionTree(options: Record<string, unknown> | undefined): Tree | null {
  if (!options) return null;
  let tree: Tree | null = null;
  for (const key of Object.keys(options)) {
    if (!key.startsWith(PREFIX)) continue;
    const parts = key.slice(PREFIX.length).split('.');
    tree ??= {};
    let node = tree;
    for (let i = 0; i < parts.length - 1; i++) {
      let next = node[parts[i]] as Tree | undefined;
      if (!next || typeof next !== 'object') {
        next = {};
        node[parts[i]] = next;
      }
      node = next;
    }
    node[parts[parts.length - 1]] = options[key];
  }
  return tree;
}

const NUM_CATS = new Set(['double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);

// PGV's well-known regexes (validate.proto KnownRegex; `strict` defaults to true).
const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+-.^_|~\x60]+$/;
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;

const num = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : Number(v));

function one<T>(v: unknown, conv: (x: unknown) => T): T[] | undefined {
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? v.map(conv) : [conv(v)];
}

/** Duration threshold {seconds, nanos} -> ms. */
function durMs(v: unknown): number | undefined {
  if (v === undefined || v === null || typeof v !== 'object') return undefined;
  const d = v as { seconds?: unknown; nanos?: unknown };
  return Number(d.seconds ?? 0) * 1000 + Number(d.nanos ?? 0) / 1e6;
}

function compileScalar(tree: Tree): ScalarRule | undefined {
  for (const cat of Object.keys(tree)) {
    const r = tree[cat] as Tree;
    if (!r || typeof r !== 'object') continue;
    if (NUM_CATS.has(cat)) {
      return { cat: 'num', gt: num(r.gt), gte: num(r.gte), lt: num(r.lt), lte: num(r.lte), const: num(r.const), notIn: one(r.not_in, Number) };
    }
    if (cat === 'string') {
      let wellKnown: StrRule['wellKnown'];
      const strict = r.strict === undefined ? true : !!r.strict;
      if (r.well_known_regex === 'HTTP_HEADER_NAME' || r.well_known_regex === 1) {
        wellKnown = strict ? { re: HEADER_NAME_STRICT, what: 'HTTP header name' } : { re: HEADER_LOOSE, what: 'HTTP header name' };
      } else if (r.well_known_regex === 'HTTP_HEADER_VALUE' || r.well_known_regex === 2) {
        wellKnown = strict ? { re: HEADER_VALUE_STRICT, what: 'HTTP header value' } : { re: HEADER_LOOSE, what: 'HTTP header value' };
      }
      let pattern: StrRule['pattern'];
      if (typeof r.pattern === 'string') {
        try {
          pattern = { src: r.pattern, re: RE2JS.compile(r.pattern) };
        } catch {
          pattern = undefined; // a pattern RE2JS cannot compile is not enforced
        }
      }
      return {
        cat: 'str',
        ignoreEmpty: !!r.ignore_empty,
        const: r.const === undefined ? undefined : String(r.const),
        len: num(r.len),
        minLen: num(r.min_len),
        maxLen: num(r.max_len),
        lenBytes: num(r.len_bytes),
        minBytes: num(r.min_bytes),
        maxBytes: num(r.max_bytes),
        prefix: r.prefix === undefined ? undefined : String(r.prefix),
        suffix: r.suffix === undefined ? undefined : String(r.suffix),
        contains: r.contains === undefined ? undefined : String(r.contains),
        notContains: r.not_contains === undefined ? undefined : String(r.not_contains),
        pattern,
        wellKnown,
        notIn: one(r.not_in, String),
      };
    }
    if (cat === 'bytes') return { cat: 'bytes', len: num(r.len), minLen: num(r.min_len), maxLen: num(r.max_len) };
    if (cat === 'enum') return { cat: 'enum', definedOnly: !!r.defined_only, const: num(r.const), notIn: one(r.not_in, Number) };
    if (cat === 'bool') return { cat: 'bool', const: r.const === undefined ? undefined : !!r.const };
  }
  return undefined;
}

function compileDur(r: Tree | undefined): DurRule | undefined {
  if (!r || typeof r !== 'object') return undefined;
  const d: DurRule = { gt: durMs(r.gt), gte: durMs(r.gte), lt: durMs(r.lt), lte: durMs(r.lte), const: durMs(r.const) };
  return d.gt === undefined && d.gte === undefined && d.lt === undefined && d.lte === undefined && d.const === undefined ? undefined : d;
}

function compileField(f: FieldInfo): FieldRules | null {
  const tree = optionTree(f.field.options as Record<string, unknown> | undefined);
  if (!tree) return null;
  const sub = (k: string): Tree | undefined => (tree[k] && typeof tree[k] === 'object' ? (tree[k] as Tree) : undefined);
  const msg = sub('message');
  const dur = sub('duration');
  const any = sub('any');
  const ts = sub('timestamp');
  const rules: FieldRules = {
    required: !!(msg?.required || dur?.required || any?.required || ts?.required),
    skip: !!msg?.skip,
    scalar: compileScalar(tree),
    dur: compileDur(dur),
  };
  const rep = sub('repeated');
  if (rep) {
    const items = rep.items && typeof rep.items === 'object' ? (rep.items as Tree) : undefined;
    rules.repeated = {
      minItems: num(rep.min_items),
      maxItems: num(rep.max_items),
      unique: !!rep.unique,
      items: items ? compileScalar(items) : undefined,
      itemsDur: items ? compileDur(items.duration as Tree | undefined) : undefined,
    };
  }
  const map = sub('map');
  if (map) {
    rules.map = {
      minPairs: num(map.min_pairs),
      maxPairs: num(map.max_pairs),
      keys: map.keys && typeof map.keys === 'object' ? compileScalar(map.keys as Tree) : undefined,
      values: map.values && typeof map.values === 'object' ? compileScalar(map.values as Tree) : undefined,
    };
  }
  if (!rules.required && !rules.skip && !rules.scalar && !rules.dur && !rules.repeated && !rules.map) return null;
  return rules;
}

function fieldRules(f: FieldInfo): FieldRules | null {
  if (f.rules === undefined) f.rules = compileField(f);
  return f.rules as FieldRules | null;
}

function typeChecks(info: TypeInfo): TypeChecks {
  if (info.check === undefined) {
    info.check = {
      ruled: info.fields.filter((f) => fieldRules(f) !== null),
      requiredOneofs: info.oneofs.filter((o) => o.required),
    } satisfies TypeChecks;
  }
  return info.check as TypeChecks;
}

// ---- checking values -----------------------------------------------------------

function fmt(n: number): string {
  return String(n);
}

function checkRange(v: number, r: { gt?: number; gte?: number; lt?: number; lte?: number; const?: number }, unit: (n: number) => string): string | null {
  if (r.const !== undefined && v !== r.const) return `value must equal ${unit(r.const)}`;
  const lowSet = r.gt !== undefined || r.gte !== undefined;
  const highSet = r.lt !== undefined || r.lte !== undefined;
  const lowOk = r.gt !== undefined ? v > r.gt : r.gte !== undefined ? v >= r.gte : true;
  const highOk = r.lt !== undefined ? v < r.lt : r.lte !== undefined ? v <= r.lte : true;
  if (lowSet && highSet) {
    const low = (r.gt ?? r.gte) as number;
    const high = (r.lt ?? r.lte) as number;
    const range = `${r.gt !== undefined ? '(' : '['}${unit(low)}, ${unit(high)}${r.lt !== undefined ? ')' : ']'}`;
    if (high >= low) return lowOk && highOk ? null : `value must be inside range ${range}`;
    return lowOk || highOk ? null : `value must be outside range ${range.replace(/^./, r.lt !== undefined ? '[' : '(').replace(/.$/, r.gt !== undefined ? ']' : ')')}`;
  }
  if (!lowOk) return r.gt !== undefined ? `value must be greater than ${unit(r.gt)}` : `value must be greater than or equal to ${unit(r.gte as number)}`;
  if (!highOk) return r.lt !== undefined ? `value must be less than ${unit(r.lt)}` : `value must be less than or equal to ${unit(r.lte as number)}`;
  return null;
}

function runeLength(s: string): number {
  // Fast path: no surrogate pairs.
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

function checkString(s: string, r: StrRule): string | null {
  if (r.ignoreEmpty && s === '') return null;
  if (r.const !== undefined && s !== r.const) return `value must equal ${JSON.stringify(r.const)}`;
  if (r.len !== undefined || r.minLen !== undefined || r.maxLen !== undefined) {
    const n = runeLength(s);
    if (r.len !== undefined && n !== r.len) return `value length must be ${r.len} characters`;
    if (r.minLen !== undefined && n < r.minLen) return `value length must be at least ${r.minLen} characters`;
    if (r.maxLen !== undefined && n > r.maxLen) return `value length must be at most ${r.maxLen} characters`;
  }
  if (r.lenBytes !== undefined || r.minBytes !== undefined || r.maxBytes !== undefined) {
    const n = Buffer.byteLength(s);
    if (r.lenBytes !== undefined && n !== r.lenBytes) return `value length must be ${r.lenBytes} bytes`;
    if (r.minBytes !== undefined && n < r.minBytes) return `value length must be at least ${r.minBytes} bytes`;
    if (r.maxBytes !== undefined && n > r.maxBytes) return `value length must be at most ${r.maxBytes} bytes`;
  }
  if (r.prefix !== undefined && !s.startsWith(r.prefix)) return `value does not have prefix ${JSON.stringify(r.prefix)}`;
  if (r.suffix !== undefined && !s.endsWith(r.suffix)) return `value does not have suffix ${JSON.stringify(r.suffix)}`;
  if (r.contains !== undefined && !s.includes(r.contains)) return `value does not contain substring ${JSON.stringify(r.contains)}`;
  if (r.notContains !== undefined && s.includes(r.notContains)) return `value contains substring ${JSON.stringify(r.notContains)}`;
  if (r.notIn !== undefined && r.notIn.includes(s)) return `value must not be in list [${r.notIn.map((x) => JSON.stringify(x)).join(', ')}]`;
  if (r.pattern && !r.pattern.re.test(s)) return `value does not match regex pattern ${JSON.stringify(r.pattern.src)}`;
  if (r.wellKnown && !r.wellKnown.re.test(s)) return `value must be a valid ${r.wellKnown.what} (got ${JSON.stringify(s)})`;
  return null;
}

/** Check one scalar value (already unwrapped). `kind` is the value's kind. */
function checkScalar(v: unknown, kind: number, r: ScalarRule, f: FieldInfo): string | null {
  switch (r.cat) {
    case 'num': {
      const n = kind === K_INT64 || kind === K_UINT64 ? longToNumber(v, kind === K_UINT64) : Number(v ?? 0);
      if (r.notIn !== undefined && r.notIn.includes(n)) return `value must not be in list [${r.notIn.join(', ')}]`;
      return checkRange(n, r, fmt);
    }
    case 'str':
      return typeof v === 'string' ? checkString(v, r) : checkString('', r);
    case 'bytes': {
      const n = v && typeof v === 'object' && 'length' in v ? (v as Uint8Array).length : typeof v === 'string' ? Buffer.from(v, 'base64').length : 0;
      if (r.len !== undefined && n !== r.len) return `value length must be ${r.len} bytes`;
      if (r.minLen !== undefined && n < r.minLen) return `value length must be at least ${r.minLen} bytes`;
      if (r.maxLen !== undefined && n > r.maxLen) return `value length must be at most ${r.maxLen} bytes`;
      return null;
    }
    case 'enum': {
      let n: number;
      if (typeof v === 'string') {
        const e = f.enumType?.values[v];
        if (e === undefined) return 'value must be one of the defined enum values';
        n = e;
      } else n = Number(v ?? 0);
      if (r.const !== undefined && n !== r.const) return `value must equal ${enumName(f, r.const)}`;
      if (r.definedOnly && f.enumType && f.enumType.valuesById[n] === undefined) return 'value must be one of the defined enum values';
      if (r.notIn !== undefined && r.notIn.includes(n)) return `value must not be in list [${r.notIn.map((x) => enumName(f, x)).join(', ')}]`;
      return null;
    }
    case 'bool':
      if (r.const !== undefined && !!v !== r.const) return `value must equal ${r.const}`;
      return null;
  }
}

function enumName(f: FieldInfo, n: number): string {
  return f.enumType?.valuesById[n] ?? String(n);
}

function durationMs(v: unknown): number {
  const d = v as { seconds?: unknown; nanos?: unknown };
  return longToNumber(d.seconds ?? 0, false) * 1000 + Number(d.nanos ?? 0) / 1e6;
}

function fmtMs(ms: number): string {
  return `${ms / 1000}s`;
}

function fail(where: string | Trail, field: string, suffix: string, detail: string): never {
  throw new ConfigError(pathText(where, field) + suffix, detail);
}

function checkSingular(v: unknown, f: FieldInfo, r: FieldRules, where: string | Trail): void {
  const kind = f.kind;
  if (kind >= K_MESSAGE) {
    if (v == null) {
      if (r.required) fail(where, f.name, '', 'value is required');
      return;
    }
    if (kind === K_DURATION && r.dur) {
      const e = checkRange(durationMs(v), r.dur, fmtMs);
      if (e) fail(where, f.name, '', e);
    } else if (kind === K_WRAPPER && r.scalar) {
      const inner = (v as { value?: unknown }).value;
      const e = checkScalar(inner ?? wrapperDefault(f.wrapKind), f.wrapKind, r.scalar, f);
      if (e) fail(where, f.name, '', e);
    }
    return;
  }
  if (r.scalar) {
    const e = checkScalar(v, kind, r.scalar, f);
    if (e) fail(where, f.name, '', e);
  }
}

function wrapperDefault(kind: number): unknown {
  switch (kind) {
    case K_STRING:
      return '';
    case K_BOOL:
      return false;
    case K_BYTES:
      return undefined;
    default:
      return 0;
  }
}

/**
 * Check the PGV rules of one message's own fields (not recursing into sub-messages).
 * `where` is the message's path (text, or a Trail positioned at the message).
 */
export function checkMessage(info: TypeInfo, msg: Record<string, unknown>, where: string | Trail): void {
  const tc = typeChecks(info);
  for (let i = 0; i < tc.ruled.length; i++) {
    const f = tc.ruled[i];
    const r = f.rules as FieldRules;
    const v = msg[f.name];
    if (f.oneof && !isSet(msg, f.name)) continue; // PGV validates only the active oneof member
    if (f.map) {
      const mr = r.map;
      if (!mr) continue;
      const m = (v ?? {}) as Record<string, unknown>;
      const keys = Object.keys(m);
      if (mr.minPairs !== undefined && keys.length < mr.minPairs) fail(where, f.name, '', `value must contain at least ${mr.minPairs} pair(s)`);
      if (mr.maxPairs !== undefined && keys.length > mr.maxPairs) fail(where, f.name, '', `value must contain no more than ${mr.maxPairs} pair(s)`);
      if (!mr.keys && !mr.values) continue;
      for (const k of keys) {
        const kt = mapKeyText(k, f.keyKind);
        if (mr.keys) {
          const e = checkScalar(kt, f.keyKind === K_BOOL ? K_STRING : f.keyKind, mr.keys, f);
          if (e) fail(where, f.name, `[${kt}]`, 'key: ' + e);
        }
        if (mr.values) {
          const mv = m[k];
          const e = f.kind === K_WRAPPER ? checkScalar((mv as { value?: unknown })?.value, f.wrapKind, mr.values, f) : checkScalar(mv, f.kind, mr.values, f);
          if (e) fail(where, f.name, `[${kt}]`, e);
        }
      }
      continue;
    }
    if (f.repeated) {
      const rr = r.repeated;
      if (!rr) continue;
      const a = (v ?? []) as unknown[];
      if (rr.minItems !== undefined && a.length < rr.minItems) fail(where, f.name, '', `value must contain at least ${rr.minItems} item(s)`);
      if (rr.maxItems !== undefined && a.length > rr.maxItems) fail(where, f.name, '', `value must contain no more than ${rr.maxItems} item(s)`);
      if (rr.unique && f.kind < K_MESSAGE) {
        const seen = new Set<unknown>();
        for (let j = 0; j < a.length; j++) {
          const key = f.kind === K_INT64 || f.kind === K_UINT64 ? longToNumber(a[j], f.kind === K_UINT64) : a[j];
          if (seen.has(key)) fail(where, f.name, `[${j}]`, 'repeated value must contain unique items');
          seen.add(key);
        }
      }
      if (rr.items) {
        for (let j = 0; j < a.length; j++) {
          const item = f.kind === K_WRAPPER ? (a[j] as { value?: unknown })?.value : a[j];
          const e = checkScalar(item, f.kind === K_WRAPPER ? f.wrapKind : f.kind, rr.items, f);
          if (e) fail(where, f.name, `[${j}]`, e);
        }
      }
      if (rr.itemsDur && f.kind === K_DURATION) {
        for (let j = 0; j < a.length; j++) {
          const e = checkRange(durationMs(a[j]), rr.itemsDur, fmtMs);
          if (e) fail(where, f.name, `[${j}]`, e);
        }
      }
      continue;
    }
    checkSingular(v, f, r, where);
  }
  for (const o of tc.requiredOneofs) {
    let set = false;
    for (const m of o.members) {
      if (isSet(msg, m)) {
        set = true;
        break;
      }
    }
    if (!set) fail(where, o.name, '', `value is required: set one of ${o.members.map((m) => `"${m}"`).join(', ')}`);
  }
}

/** Decode (and cache) the inner message of an Any whose type the schema knows; undefined otherwise. */
export function anyInner(any: Record<string, unknown>, where: string | Trail): { info: TypeInfo; msg: protobuf.Message } | undefined {
  const url = any.type_url;
  if (typeof url !== 'string' || !url) return undefined;
  const carry = anyCarry.get(any);
  if (carry?.unknownStruct) return undefined;
  const t = lookupType(url);
  if (!t) return undefined;
  const info = typeInfo(t);
  if (carry?.inner) return { info, msg: carry.inner };
  let inner: protobuf.Message;
  try {
    const value = any.value;
    inner = t.decode(value instanceof Uint8Array ? value : typeof value === 'string' ? Buffer.from(value, 'base64') : new Uint8Array(0));
  } catch (e) {
    throw new ConfigError(pathText(where), `unable to decode ${info.name} from Any: ${(e as Error).message}`);
  }
  anyCarry.set(any, { inner });
  return { info, msg: inner };
}

function walk(info: TypeInfo, msg: Record<string, unknown>, t: Trail): void {
  checkMessage(info, msg, t);
  const nested = info.nested;
  for (let i = 0; i < nested.length; i++) {
    const f = nested[i];
    if (f.kind !== K_MESSAGE && f.kind !== K_ANY) continue;
    const r = fieldRules(f);
    if (r && r.skip) continue;
    const v = msg[f.name];
    if (v == null) continue;
    if (f.oneof && !hasOwn(msg, f.name)) continue;
    t.push(f.name);
    if (f.map) {
      const m = v as Record<string, unknown>;
      for (const k of Object.keys(m)) {
        t.pushKey(mapKeyText(k, f.keyKind));
        walkValue(f, m[k], t);
        t.pop();
      }
    } else if (f.repeated) {
      const a = v as unknown[];
      for (let j = 0; j < a.length; j++) {
        t.push(j);
        walkValue(f, a[j], t);
        t.pop();
      }
    } else walkValue(f, v, t);
    t.pop();
  }
}

function walkValue(f: FieldInfo, v: unknown, t: Trail): void {
  if (v == null) return;
  if (f.kind === K_MESSAGE) {
    walk(fieldTypeInfo(f), v as Record<string, unknown>, t);
    return;
  }
  walkAny(v as Record<string, unknown>, t);
}

// Validate the packed message when its type is known (well-known types and TypedStruct
// carry no PGV rules; a TypedStruct's body is validated when it is unwrapped).
function walkAny(any: Record<string, unknown>, t: Trail): void {
  const inner = anyInner(any, t);
  if (!inner) return;
  if (inner.info.kind === K_MESSAGE) walk(inner.info, inner.msg as unknown as Record<string, unknown>, t);
  else if (inner.info.kind === K_ANY) walkAny(inner.msg as unknown as Record<string, unknown>, t);
}

/**
 * Validate a whole message tree (PGV rules of every field, recursively, including the
 * packed messages of Any fields whose type the schema knows). Throws ConfigError naming
 * the field path. Used for binary (xDS) messages and for merged bootstraps.
 */
export function validateMessage(typeName: string, msg: protobuf.Message | object, path = ''): void {
  const info = typeInfoOf(typeName, path);
  try {
    if (info.kind === K_MESSAGE) walk(info, msg as Record<string, unknown>, new Trail(path));
    else if (info.kind === K_ANY) walkAny(msg as Record<string, unknown>, new Trail(path));
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw new ConfigError(path, 'config is nested too deeply');
    throw e;
  }
}
