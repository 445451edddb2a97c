// proto3 JSON mapping for every Envoy type, driven by the protobufjs reflection of the
// real Envoy protos (src/config/protos.ts):
//   fromJSON  proto3 JSON (from YAML/JSON config) -> protobufjs message, with PGV validation
//   toPlain   message (from fromJSON or Type.decode) -> the plain form of src/config/plain.ts
//   toJSON    message -> proto3 JSON with proto field names (what /config_dump prints)
//
// Any: fromJSON packs the inner message (encoded into `value`) and remembers the decoded
// inner message in a side WeakMap so toPlain does not decode it again. An Any whose
// '@type' the schema lacks is NOT an error here: its JSON body is kept as a
// google.protobuf.Struct (encoded into `value`, and remembered) so toPlain can emit
// { '@type', '@unknown': true, struct } and toJSON can print it back; the extension
// registry decides later whether an unknown type is acceptable.
import * as protobuf from 'protobufjs';
import { ConfigError, Trail, joinPath } from './errors';
import type { Plain } from './plain';
import { lookupType, typeUrlOf } from './protos';
import * as S from './schema';
import type { FieldInfo, TypeInfo } from './schema';
import { checkMessage, validateMessage, anyInner } from './validate';

// Bound once: module-namespace accessors are getters under some loaders (tsx/esbuild CJS).
const { typeInfo, typeInfoOf, fieldTypeInfo, anyCarry, hasOwn, isSet, setKey, longToNumber, longToString, mapKeyText, isDefaultScalar, EMPTY_BYTES, Long } = S;
const { K_DOUBLE, K_FLOAT, K_INT32, K_UINT32, K_INT64, K_UINT64, K_BOOL, K_STRING, K_BYTES, K_ENUM, K_NULL } = S;
const { K_MESSAGE, K_DURATION, K_TIMESTAMP, K_WRAPPER, K_STRUCT, K_VALUE, K_LIST, K_ANY, K_TYPED_STRUCT } = S;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rec = Record<string, any>;

export interface FromJSONOptions {
  /** Enforce PGV rules while decoding (default true). */
  validate?: boolean;
}

interface WellKnown {
  struct: TypeInfo;
  value: TypeInfo;
  list: TypeInfo;
  any: TypeInfo;
  /** google.protobuf.Value field names by number (protobufjs's bundled struct.proto uses camelCase names). */
  v: { nul: string; num: string; str: string; bool: string; struct: string; list: string };
}

let wkt: WellKnown | undefined;
function wk(): WellKnown {
  if (!wkt) {
    const value = typeInfoOf('google.protobuf.Value');
    const byId = (id: number): string => value.type.fieldsById[id].name;
    wkt = {
      struct: typeInfoOf('google.protobuf.Struct'),
      value,
      list: typeInfoOf('google.protobuf.ListValue'),
      any: typeInfoOf('google.protobuf.Any'),
      v: { nul: byId(1), num: byId(2), str: byId(3), bool: byId(4), struct: byId(5), list: byId(6) },
    };
  }
  return wkt;
}

function newMsg(info: TypeInfo): Rec {
  return new (info.type.ctor as unknown as new () => Rec)();
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string': {
      const s = JSON.stringify(v);
      return s.length > 60 ? s.slice(0, 57) + '..."' : s;
    }
    case 'object':
      return 'an object';
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(v);
    default:
      return typeof v;
  }
}

function isObject(v: unknown): v is Rec {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

// Kinds whose JSON form is not an object of fields (and which Any wraps as {"@type", "value"}).
function isSpecialKind(kind: number): boolean {
  return kind === K_DURATION || kind === K_TIMESTAMP || kind === K_WRAPPER || kind === K_STRUCT || kind === K_VALUE || kind === K_LIST || kind === K_ANY;
}

// =================================================================================
// fromJSON
// =================================================================================

/**
 * proto3 JSON -> protobufjs message of `typeName` (full name or type URL). Accepts proto
 * (snake_case) and json (lowerCamelCase) field names. Throws ConfigError naming the path.
 */
export function fromJSON(typeName: string, json: unknown, path = '', options?: FromJSONOptions): protobuf.Message {
  const info = typeInfoOf(typeName, path);
  try {
    return typeFromJSON(info, json, path, options?.validate !== false) as protobuf.Message;
  } catch (e) {
    throw tooDeep(e, path);
  }
}

/** A stack overflow on absurdly nested input becomes a ConfigError (remora does not crash on bad config). */
export function tooDeep(e: unknown, path: string): unknown {
  if (e instanceof RangeError && /call stack/i.test(e.message)) return new ConfigError(path, 'config is nested too deeply');
  return e;
}

function typeFromJSON(info: TypeInfo, v: unknown, path: string, validate: boolean): Rec {
  // Legacy syntax: Duration, Timestamp, wrappers and ListValue may also be written as the
  // plain message ({"seconds": 1}, {"value": 5}, {"values": [...]}).
  if ((info.kind === K_DURATION || info.kind === K_TIMESTAMP || info.kind === K_WRAPPER || info.kind === K_LIST) && isObject(v)) {
    return msgFromJSON(info, v, path, validate, false);
  }
  switch (info.kind) {
    case K_DURATION:
      return durationFromJSON(info, v, path);
    case K_TIMESTAMP:
      return timestampFromJSON(info, v, path);
    case K_WRAPPER: {
      const m = newMsg(info);
      m.value = scalarFromJSON(info.wrapKind, v, path);
      return m;
    }
    case K_STRUCT:
      return structFromJSON(v, path);
    case K_VALUE:
      return valueFromJSON(v, path);
    case K_LIST:
      return listFromJSON(v, path);
    case K_ANY:
      return anyFromJSON(v, path, validate);
    default:
      return msgFromJSON(info, v, path, validate, false);
  }
}

function msgFromJSON(info: TypeInfo, json: unknown, path: string, validate: boolean, isAny: boolean): Rec {
  if (!isObject(json)) throw new ConfigError(path, `expected an object (${info.name}), got ${describe(json)}`);
  const msg = newMsg(info);
  const keys = Object.keys(json);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (isAny && key === '@type') continue;
    const f = info.byName.get(key);
    if (!f) throw new ConfigError(joinPath(path, key), `unknown field "${key}" in ${info.name}`);
    const v = json[key];
    const fpath = joinPath(path, f.name);
    if (v === null && !((f.kind === K_VALUE || f.kind === K_NULL) && !f.repeated && !f.map)) continue; // null = unset
    if (f.oneof) {
      const members = f.oneof.members;
      for (let j = 0; j < members.length; j++) {
        const m = members[j];
        if (m !== f.name && isSet(msg, m)) {
          throw new ConfigError(fpath, `only one of ${members.map((x) => `"${x}"`).join(', ')} may be set (oneof ${f.oneof.name}), but "${m}" is set too`);
        }
      }
    }
    if (f.map) msg[f.name] = mapFromJSON(f, v, fpath, validate);
    else if (f.repeated) msg[f.name] = listOfFromJSON(f, v, fpath, validate);
    else msg[f.name] = fieldFromJSON(f, v, fpath, validate);
  }
  if (validate) checkMessage(info, msg, path);
  return msg;
}

// Envoy parses JSON with protobuf's `allow_legacy_syntax` (the old ESF parser's rules), so a
// single value stands for a one-element list, nested lists are flattened (except for
// google.protobuf.Value / ListValue elements) and a null element is the default value.
function listOfFromJSON(f: FieldInfo, v: unknown, path: string, validate: boolean): unknown[] {
  const out: unknown[] = [];
  if (Array.isArray(v)) pushItems(f, v, path, validate, out);
  else out.push(fieldFromJSON(f, v, `${path}[0]`, validate));
  return out;
}

function pushItems(f: FieldInfo, v: unknown[], path: string, validate: boolean, out: unknown[]): void {
  const flatten = f.kind !== K_VALUE && f.kind !== K_LIST;
  for (let i = 0; i < v.length; i++) {
    const item = v[i];
    const ipath = `${path}[${out.length}]`;
    if (item === null && f.kind !== K_VALUE && f.kind !== K_NULL) out.push(defaultValue(f));
    else if (flatten && Array.isArray(item)) pushItems(f, item, path, validate, out);
    else out.push(fieldFromJSON(f, item, ipath, validate));
  }
}

function mapFromJSON(f: FieldInfo, v: unknown, path: string, validate: boolean): Rec {
  if (!isObject(v)) throw new ConfigError(path, `expected an object (map), got ${describe(v)}`);
  const out: Rec = {};
  for (const k of Object.keys(v)) {
    const kpath = `${path}[${k}]`;
    const key = mapKeyFromJSON(f.keyKind, k, kpath);
    const item = v[k];
    setKey(out, key, item === null && f.kind !== K_VALUE && f.kind !== K_NULL ? defaultValue(f) : fieldFromJSON(f, item, kpath, validate));
  }
  return out;
}

/** The value a null list element / map value stands for (an empty message, or the scalar default). */
function defaultValue(f: FieldInfo): unknown {
  if (f.kind >= K_MESSAGE) return newMsg(fieldTypeInfo(f));
  switch (f.kind) {
    case K_STRING:
      return '';
    case K_BOOL:
      return false;
    case K_BYTES:
      return Buffer.alloc(0);
    default:
      return 0;
  }
}

function mapKeyFromJSON(kind: number, k: string, path: string): string {
  switch (kind) {
    case K_STRING:
      return k;
    case K_BOOL:
      if (k === 'true' || k === 'false') return k;
      throw new ConfigError(path, `invalid bool map key ${JSON.stringify(k)}`);
    case K_INT32:
    case K_UINT32:
      return String(intFromJSON(k, path, kind === K_UINT32 ? 0 : -2147483648, kind === K_UINT32 ? 4294967295 : 2147483647, kind === K_UINT32 ? 'uint32' : 'int32'));
    default:
      return longToString(longFromJSON(k, path, kind === K_UINT64), kind === K_UINT64);
  }
}

function fieldFromJSON(f: FieldInfo, v: unknown, path: string, validate: boolean): unknown {
  const kind = f.kind;
  if (kind >= K_MESSAGE) return typeFromJSON(fieldTypeInfo(f), v, path, validate);
  if (kind === K_ENUM) return enumFromJSON(f.enumType as protobuf.Enum, v, path);
  if (kind === K_NULL) {
    if (v === null || v === 'NULL_VALUE' || v === 0) return 0;
    throw new ConfigError(path, `expected null, got ${describe(v)}`);
  }
  return scalarFromJSON(kind, v, path);
}

const enumUpper = new WeakMap<protobuf.Enum, Map<string, number>>();

// Envoy parses enums case-insensitively (case_insensitive_enum_parsing) and accepts numbers.
function enumFromJSON(e: protobuf.Enum, v: unknown, path: string): number {
  if (typeof v === 'string') {
    if (hasOwn(e.values, v)) return e.values[v];
    let upper = enumUpper.get(e);
    if (!upper) {
      upper = new Map();
      for (const name of Object.keys(e.values)) if (!upper.has(name.toUpperCase())) upper.set(name.toUpperCase(), e.values[name]);
      enumUpper.set(e, upper);
    }
    const n = upper.get(v.toUpperCase());
    if (n !== undefined) return n;
    if (INT_RE.test(v)) {
      const i = Number(v);
      if (i >= -2147483648 && i <= 2147483647) return i;
    }
    throw new ConfigError(path, `unknown enum value ${JSON.stringify(v)}`);
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) return v;
  throw new ConfigError(path, `expected an enum value name (${enumNames(e)}), got ${describe(v)}`);
}

function enumNames(e: protobuf.Enum): string {
  const names = Object.keys(e.values);
  return names.length > 8 ? names.slice(0, 8).join(', ') + ', ...' : names.join(', ');
}

const INT_RE = /^-?\d+$/;
const FLOAT_RE = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const INF_NAN_RE = /^([-+])?(?:inf|infinity|nan)$/i;

function intFromJSON(v: unknown, path: string, min: number, max: number, what: string): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && (INT_RE.test(v) || FLOAT_RE.test(v))) n = Number(v);
  else throw new ConfigError(path, `expected an integer (${what}), got ${describe(v)}`);
  if (!Number.isInteger(n)) throw new ConfigError(path, `expected an integer (${what}), got ${describe(v)}`);
  if (n < min || n > max) throw new ConfigError(path, `value ${describe(v)} out of range for ${what}`);
  return n;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function longFromJSON(v: unknown, path: string, unsigned: boolean): number | protobuf.Long {
  const what = unsigned ? 'uint64' : 'int64';
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ConfigError(path, `expected an integer (${what}), got ${describe(v)}`);
    if (unsigned && v < 0) throw new ConfigError(path, `value ${v} out of range for ${what}`);
    if (Number.isSafeInteger(v)) return v;
    return Long ? Long.fromNumber(v, unsigned) : v;
  }
  if (typeof v === 'string' && INT_RE.test(v)) {
    if (v.length <= 15) {
      const n = Number(v);
      if (unsigned && n < 0) throw new ConfigError(path, `value ${describe(v)} out of range for ${what}`);
      return n;
    }
    const b = BigInt(v);
    if (unsigned ? b < 0n || b > UINT64_MAX : b < INT64_MIN || b > INT64_MAX) throw new ConfigError(path, `value ${describe(v)} out of range for ${what}`);
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
    return Long ? Long.fromString(v, unsigned) : n;
  }
  if (typeof v === 'string' && FLOAT_RE.test(v)) {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new ConfigError(path, `expected an integer (${what}), got ${describe(v)}`);
    if (unsigned ? n < 0 || n > 18014398509481984 : Math.abs(n) > 9007199254740992) throw new ConfigError(path, `value ${describe(v)} out of range for ${what}`);
    return n;
  }
  if (typeof v === 'bigint') return longFromJSON(v.toString(), path, unsigned);
  throw new ConfigError(path, `expected an integer (${what}), got ${describe(v)}`);
}

const FLOAT_MAX = 3.4028234663852886e38;

function floatFromJSON(v: unknown, path: string, isFloat: boolean): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (v === 'NaN') return NaN;
  else if (v === 'Infinity') return Infinity;
  else if (v === '-Infinity') return -Infinity;
  else if (typeof v === 'string' && FLOAT_RE.test(v)) n = Number(v);
  else if (typeof v === 'string' && INF_NAN_RE.test(v)) n = /nan/i.test(v) ? NaN : v[0] === '-' ? -Infinity : Infinity;
  else throw new ConfigError(path, `expected a number, got ${describe(v)}`);
  if (isFloat && Math.abs(n) > FLOAT_MAX) throw new ConfigError(path, `value ${describe(v)} out of range for float`);
  return n;
}

const BASE64_RE = /^[A-Za-z0-9+/\-_]*={0,2}$/;

function scalarFromJSON(kind: number, v: unknown, path: string): unknown {
  switch (kind) {
    case K_STRING:
      if (typeof v === 'string') return v;
      throw new ConfigError(path, `expected a string, got ${describe(v)}`);
    case K_BOOL:
      if (typeof v === 'boolean') return v;
      if (typeof v === 'string') {
        // legacy syntax: absl::SimpleAtob
        const l = v.toLowerCase();
        if (l === 'true' || l === 't' || l === 'yes' || l === 'y' || l === '1') return true;
        if (l === 'false' || l === 'f' || l === 'no' || l === 'n' || l === '0') return false;
      }
      throw new ConfigError(path, `expected true or false, got ${describe(v)}`);
    case K_INT32:
      return intFromJSON(v, path, -2147483648, 2147483647, 'int32');
    case K_UINT32:
      return intFromJSON(v, path, 0, 4294967295, 'uint32');
    case K_INT64:
      return longFromJSON(v, path, false);
    case K_UINT64:
      return longFromJSON(v, path, true);
    case K_DOUBLE:
      return floatFromJSON(v, path, false);
    case K_FLOAT:
      return floatFromJSON(v, path, true);
    case K_BYTES:
      if (typeof v === 'string' && BASE64_RE.test(v)) return Buffer.from(v, 'base64');
      throw new ConfigError(path, `expected base64-encoded bytes, got ${describe(v)}`);
    default:
      throw new ConfigError(path, `unsupported scalar kind ${kind}`);
  }
}

const MAX_DURATION_SECONDS = 315576000000;
const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

/** "1.5s" -> { seconds, nanos }; throws ConfigError otherwise. */
export function parseDuration(v: unknown, path = ''): { seconds: number; nanos: number } {
  const m = typeof v === 'string' ? DURATION_RE.exec(v) : null;
  if (!m) {
    throw new ConfigError(path, `invalid duration ${describe(v)}: expected a string of seconds with an "s" suffix, e.g. "0.25s", "1s", "-1.5s"`);
  }
  const seconds = Number(m[2]);
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
  if (seconds > MAX_DURATION_SECONDS) throw new ConfigError(path, `invalid duration ${describe(v)}: out of range`);
  return m[1] ? { seconds: seconds === 0 ? 0 : -seconds, nanos: nanos === 0 ? 0 : -nanos } : { seconds, nanos };
}

function durationFromJSON(info: TypeInfo, v: unknown, path: string): Rec {
  const d = parseDuration(v, path);
  const m = newMsg(info);
  if (d.seconds) m.seconds = d.seconds;
  if (d.nanos) m.nanos = d.nanos;
  return m;
}

const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/** RFC 3339 -> { seconds, nanos } since the epoch; throws ConfigError otherwise. */
export function parseTimestamp(v: unknown, path = ''): { seconds: number; nanos: number } {
  const m = typeof v === 'string' ? TIMESTAMP_RE.exec(v) : null;
  if (!m) throw new ConfigError(path, `invalid timestamp ${describe(v)}: expected RFC 3339, e.g. "1972-01-01T10:00:20.021Z"`);
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (y === 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) throw new ConfigError(path, `invalid timestamp ${describe(v)}`);
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  if (date.getUTCDate() !== d) throw new ConfigError(path, `invalid timestamp ${describe(v)}`);
  let seconds = date.getTime() / 1000;
  if (m[9]) {
    const off = (Number(m[10]) * 60 + Number(m[11])) * 60;
    seconds += m[9] === '+' ? -off : off;
  }
  const nanos = m[7] ? Number(m[7].padEnd(9, '0')) : 0;
  return { seconds, nanos };
}

function timestampFromJSON(info: TypeInfo, v: unknown, path: string): Rec {
  const t = parseTimestamp(v, path);
  const m = newMsg(info);
  if (t.seconds) m.seconds = t.seconds;
  if (t.nanos) m.nanos = t.nanos;
  return m;
}

function structFromJSON(v: unknown, path: string): Rec {
  if (!isObject(v)) throw new ConfigError(path, `expected an object (google.protobuf.Struct), got ${describe(v)}`);
  const m = newMsg(wk().struct);
  const fields: Rec = {};
  for (const k of Object.keys(v)) setKey(fields, k, valueFromJSON(v[k], `${path}[${k}]`));
  m.fields = fields;
  return m;
}

function listFromJSON(v: unknown, path: string): Rec {
  if (!Array.isArray(v)) throw new ConfigError(path, `expected a list (google.protobuf.ListValue), got ${describe(v)}`);
  const m = newMsg(wk().list);
  const values = new Array(v.length);
  for (let i = 0; i < v.length; i++) values[i] = valueFromJSON(v[i], `${path}[${i}]`);
  m.values = values;
  return m;
}

function valueFromJSON(v: unknown, path: string): Rec {
  const w = wk();
  const n = w.v;
  const m = newMsg(w.value);
  if (v === null) m[n.nul] = 0;
  else if (typeof v === 'number') m[n.num] = v;
  else if (typeof v === 'string') m[n.str] = v;
  else if (typeof v === 'boolean') m[n.bool] = v;
  else if (typeof v === 'bigint') m[n.num] = Number(v);
  else if (Array.isArray(v)) m[n.list] = listFromJSON(v, path);
  else if (isObject(v)) m[n.struct] = structFromJSON(v, path);
  else throw new ConfigError(path, `expected a JSON value, got ${describe(v)}`);
  return m;
}

function anyFromJSON(v: unknown, path: string, validate: boolean): Rec {
  if (!isObject(v)) throw new ConfigError(path, `expected an object with "@type" (google.protobuf.Any), got ${describe(v)}`);
  const any = newMsg(wk().any);
  const url = v['@type'];
  if (url === undefined) {
    if (Object.keys(v).length === 0) return any;
    throw new ConfigError(path, 'missing "@type" in google.protobuf.Any');
  }
  if (typeof url !== 'string' || url === '') throw new ConfigError(path, `"@type" must be a non-empty type URL, got ${describe(url)}`);
  any.type_url = url;
  const t = lookupType(url);
  if (!t) {
    const body: Rec = {};
    for (const k of Object.keys(v)) if (k !== '@type') setKey(body, k, v[k]);
    const struct = structFromJSON(body, path);
    any.value = wk().struct.type.encode(struct).finish();
    anyCarry.set(any, { unknownStruct: struct as protobuf.Message });
    return any;
  }
  const info = typeInfo(t);
  let inner: Rec;
  if (isSpecialKind(info.kind)) {
    for (const k of Object.keys(v)) {
      if (k !== '@type' && k !== 'value') throw new ConfigError(joinPath(path, k), `unknown field "${k}" in Any of ${info.name} (expected "value")`);
    }
    const body = v.value;
    inner = body === undefined || (body === null && info.kind !== K_VALUE) ? newMsg(info) : typeFromJSON(info, body, joinPath(path, 'value'), validate);
  } else {
    inner = msgFromJSON(info, v, path, validate, true);
  }
  any.value = t.encode(inner).finish();
  anyCarry.set(any, { inner: inner as protobuf.Message });
  return any;
}

// =================================================================================
// toPlain
// =================================================================================

/**
 * Message -> plain form (src/config/plain.ts). Works on messages built by fromJSON, by
 * `Type.decode`, or plain objects with proto field names. `path` prefixes error paths
 * (Any bodies that fail to decode, TypedStruct bodies that fail to parse).
 */
export function toPlain(typeName: string, msg: protobuf.Message | object, path = ''): Plain {
  const info = typeInfoOf(typeName, path);
  try {
    return typeToPlain(info, msg as Rec, new Trail(path));
  } catch (e) {
    throw tooDeep(e, path);
  }
}

function typeToPlain(info: TypeInfo, v: Rec, t: Trail): Plain {
  switch (info.kind) {
    case K_DURATION:
    case K_TIMESTAMP:
      return secondsNanosMs(v);
    case K_WRAPPER:
      return wrapperToPlain(info.wrapKind, v);
    case K_STRUCT:
      return structToPlain(v);
    case K_VALUE:
      return valueToPlain(v);
    case K_LIST:
      return listToPlain(v);
    case K_ANY:
      return anyToPlain(v, t);
    case K_TYPED_STRUCT:
      return typedStructToPlain(v, t);
    default:
      return msgToPlain(info, v, t, {});
  }
}

function msgToPlain(info: TypeInfo, msg: Rec, t: Trail, out: Rec): Rec {
  const fields = info.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = msg[f.name];
    if (f.map) {
      const o: Rec = {};
      if (v) {
        t.push(f.name);
        for (const k of Object.keys(v)) {
          const kt = mapKeyText(k, f.keyKind);
          t.pushKey(kt);
          setKey(o, kt, fieldToPlain(f, v[k], t));
          t.pop();
        }
        t.pop();
      }
      out[f.name] = o;
      continue;
    }
    if (f.repeated) {
      const n = v ? v.length : 0;
      const a = new Array(n);
      if (n) {
        t.push(f.name);
        for (let j = 0; j < n; j++) {
          t.push(j);
          a[j] = fieldToPlain(f, v[j], t);
          t.pop();
        }
        t.pop();
      }
      out[f.name] = a;
      continue;
    }
    if (v == null) {
      if (f.kind < K_MESSAGE && !f.oneof) out[f.name] = scalarDefault(f);
      continue;
    }
    if (f.oneof && !hasOwn(msg, f.name)) continue;
    if (f.kind >= K_MESSAGE) {
      t.push(f.name);
      out[f.name] = typeToPlain(fieldTypeInfo(f), v, t);
      t.pop();
    } else out[f.name] = fieldToPlain(f, v, t);
  }
  return out;
}

function fieldToPlain(f: FieldInfo, v: unknown, t: Trail): unknown {
  const kind = f.kind;
  if (kind >= K_MESSAGE) return v == null ? undefined : typeToPlain(fieldTypeInfo(f), v as Rec, t);
  if (kind === K_ENUM) return typeof v === 'number' ? ((f.enumType as protobuf.Enum).valuesById[v] ?? v) : v;
  if (kind === K_NULL) return null;
  return scalarToPlain(kind, v);
}

function scalarToPlain(kind: number, v: unknown): unknown {
  switch (kind) {
    case K_INT64:
      return longToNumber(v, false);
    case K_UINT64:
      return longToNumber(v, true);
    case K_BYTES:
      return bytesCopy(v);
    default:
      return v;
  }
}

function bytesCopy(v: unknown): Buffer {
  if (v instanceof Uint8Array) return v.length ? Buffer.from(v) : EMPTY_BYTES;
  if (typeof v === 'string') return Buffer.from(v, 'base64');
  return EMPTY_BYTES;
}

function scalarDefault(f: FieldInfo): unknown {
  switch (f.kind) {
    case K_STRING:
      return '';
    case K_BOOL:
      return false;
    case K_BYTES:
      return EMPTY_BYTES;
    case K_ENUM: {
      const e = f.enumType as protobuf.Enum;
      return e.valuesById[0] ?? Object.keys(e.values)[0];
    }
    case K_NULL:
      return null;
    default:
      return 0;
  }
}

function wrapperToPlain(kind: number, w: Rec): unknown {
  const v = w.value;
  if (v == null) {
    switch (kind) {
      case K_STRING:
        return '';
      case K_BOOL:
        return false;
      case K_BYTES:
        return EMPTY_BYTES;
      default:
        return 0;
    }
  }
  return scalarToPlain(kind, v);
}

function secondsNanosMs(v: Rec): number {
  return longToNumber(v.seconds ?? 0, false) * 1000 + (Number(v.nanos) || 0) / 1e6;
}

function structToPlain(s: Rec): Rec {
  const out: Rec = {};
  const fields = s.fields;
  if (fields) for (const k of Object.keys(fields)) setKey(out, k, valueToPlain(fields[k]));
  return out;
}

function listToPlain(l: Rec): unknown[] {
  const values = l.values as Rec[] | undefined;
  if (!values) return [];
  const out = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = valueToPlain(values[i]);
  return out;
}

function valueToPlain(v: Rec | null | undefined): unknown {
  if (v == null) return null;
  const n = wk().v;
  if (isSet(v, n.struct)) return structToPlain(v[n.struct]);
  if (isSet(v, n.list)) return listToPlain(v[n.list]);
  if (isSet(v, n.str)) return v[n.str];
  if (isSet(v, n.num)) return v[n.num];
  if (isSet(v, n.bool)) return v[n.bool];
  // plain objects written with proto (snake_case) names
  if (isSet(v, 'struct_value')) return structToPlain(v.struct_value);
  if (isSet(v, 'list_value')) return listToPlain(v.list_value);
  if (isSet(v, 'string_value')) return v.string_value;
  if (isSet(v, 'number_value')) return v.number_value;
  if (isSet(v, 'bool_value')) return v.bool_value;
  return null;
}

function anyToPlain(any: Rec, t: Trail): Plain {
  const url: string = any.type_url || '';
  const carry = anyCarry.get(any);
  if (carry?.unknownStruct) return { '@type': url, '@unknown': true, struct: structToPlain(carry.unknownStruct as unknown as Rec) };
  const inner = anyInner(any, t);
  if (!inner) return { '@type': url, '@unknown': true, value: bytesCopy(any.value) };
  return packedToPlain(inner.info, inner.msg as unknown as Rec, url, t);
}

function packedToPlain(info: TypeInfo, msg: Rec, url: string, t: Trail): Plain {
  if (info.kind === K_TYPED_STRUCT) return typedStructToPlain(msg, t);
  if (isSpecialKind(info.kind)) return { '@type': url, value: typeToPlain(info, msg, t) };
  return msgToPlain(info, msg, t, { '@type': url });
}

function typedStructToPlain(ts: Rec, t: Trail): Plain {
  const url: string = ts.type_url || '';
  const body = ts.value ? structToPlain(ts.value) : {};
  const type = url ? lookupType(url) : undefined;
  if (!type) return { '@type': url, '@unknown': true, struct: body };
  const info = typeInfo(type);
  const path = t.text();
  const inner = isSpecialKind(info.kind)
    ? typeFromJSON(info, body.value ?? null, joinPath(path, 'value'), true)
    : msgFromJSON(info, body, path, true, false);
  return packedToPlain(info, inner, url, new Trail(path));
}

// =================================================================================
// toJSON
// =================================================================================

/**
 * Message -> proto3 JSON with proto (snake_case) field names, defaults omitted, int64 as
 * strings, Durations as "1.500s", Any with "@type". This is what /config_dump prints.
 */
export function toJSON(typeName: string, msg: protobuf.Message | object): Rec {
  const info = typeInfoOf(typeName);
  try {
    return typeToJSON(info, msg as Rec) as Rec;
  } catch (e) {
    throw tooDeep(e, '');
  }
}

function typeToJSON(info: TypeInfo, v: Rec): unknown {
  switch (info.kind) {
    case K_DURATION:
      return formatDuration(v.seconds ?? 0, v.nanos ?? 0);
    case K_TIMESTAMP:
      return formatTimestamp(v.seconds ?? 0, v.nanos ?? 0);
    case K_WRAPPER:
      return scalarToJSON(info.wrapKind, v.value ?? wrapperToPlain(info.wrapKind, {}), undefined);
    case K_STRUCT:
      return structToPlain(v);
    case K_VALUE:
      return valueToPlain(v);
    case K_LIST:
      return listToPlain(v);
    case K_ANY:
      return anyToJSON(v);
    default:
      return msgToJSON(info, v, {});
  }
}

function msgToJSON(info: TypeInfo, msg: Rec, out: Rec): Rec {
  const fields = info.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = msg[f.name];
    if (v == null) continue;
    if (f.map) {
      const keys = Object.keys(v);
      if (!keys.length) continue;
      const o: Rec = {};
      for (const k of keys) setKey(o, mapKeyText(k, f.keyKind), fieldToJSON(f, v[k]));
      out[f.name] = o;
      continue;
    }
    if (f.repeated) {
      if (!v.length) continue;
      const a = new Array(v.length);
      for (let j = 0; j < v.length; j++) a[j] = fieldToJSON(f, v[j]);
      out[f.name] = a;
      continue;
    }
    if (f.oneof) {
      if (!hasOwn(msg, f.name)) continue;
    } else if (f.kind < K_MESSAGE && isDefaultScalar(f.kind, v)) continue;
    out[f.name] = fieldToJSON(f, v);
  }
  return out;
}

function fieldToJSON(f: FieldInfo, v: unknown): unknown {
  if (f.kind >= K_MESSAGE) return typeToJSON(fieldTypeInfo(f), v as Rec);
  return scalarToJSON(f.kind, v, f.enumType);
}

function scalarToJSON(kind: number, v: unknown, e: protobuf.Enum | undefined): unknown {
  switch (kind) {
    case K_INT64:
      return longToString(v, false);
    case K_UINT64:
      return longToString(v, true);
    case K_DOUBLE:
    case K_FLOAT: {
      const n = Number(v);
      if (Number.isNaN(n)) return 'NaN';
      if (n === Infinity) return 'Infinity';
      if (n === -Infinity) return '-Infinity';
      return n;
    }
    case K_BYTES:
      return bytesCopy(v).toString('base64');
    case K_ENUM:
      return typeof v === 'number' && e ? (e.valuesById[v] ?? v) : v;
    case K_NULL:
      return null;
    default:
      return v;
  }
}

function anyToJSON(any: Rec): Rec {
  const url: string = any.type_url || '';
  if (!url) return {};
  const carry = anyCarry.get(any);
  if (carry?.unknownStruct) {
    const out: Rec = { '@type': url };
    const body = structToPlain(carry.unknownStruct as unknown as Rec);
    for (const k of Object.keys(body)) setKey(out, k, body[k]);
    return out;
  }
  const inner = anyInner(any, '');
  if (!inner) return { '@type': url, value: bytesCopy(any.value).toString('base64') };
  if (isSpecialKind(inner.info.kind)) return { '@type': url, value: typeToJSON(inner.info, inner.msg as unknown as Rec) };
  return msgToJSON(inner.info, inner.msg as unknown as Rec, { '@type': url });
}

/** proto3 JSON Duration text: "1s", "1.500s", "-0.000001s". */
export function formatDuration(seconds: unknown, nanos: unknown): string {
  const s = longToNumber(seconds, false);
  const n = Number(nanos) || 0;
  const neg = s < 0 || n < 0;
  const as = Math.abs(s);
  const an = Math.abs(n);
  let frac = '';
  if (an) {
    let str = String(an).padStart(9, '0');
    if (an % 1e6 === 0) str = str.slice(0, 3);
    else if (an % 1e3 === 0) str = str.slice(0, 6);
    frac = '.' + str;
  }
  return (neg ? '-' : '') + as + frac + 's';
}

/** proto3 JSON Timestamp text: RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits. */
export function formatTimestamp(seconds: unknown, nanos: unknown): string {
  const s = longToNumber(seconds, false);
  const n = Number(nanos) || 0;
  const iso = new Date(s * 1000).toISOString();
  let frac = '';
  if (n) {
    let str = String(n).padStart(9, '0');
    if (n % 1e6 === 0) str = str.slice(0, 3);
    else if (n % 1e3 === 0) str = str.slice(0, 6);
    frac = '.' + str;
  }
  return iso.slice(0, iso.length - 5) + frac + 'Z';
}

// =================================================================================
// conveniences
// =================================================================================

/** fromJSON (with validation) then toPlain. */
export function parse(typeName: string, json: unknown, path = ''): Plain {
  return toPlain(typeName, fromJSON(typeName, json, path), path);
}

/** Binary -> validated message. Throws ConfigError naming the path. */
export function decode(typeName: string, bytes: Uint8Array, path = ''): protobuf.Message {
  const info = typeInfoOf(typeName, path);
  let msg: protobuf.Message;
  try {
    // protobufjs' Buffer reader does not bounds-check string/bytes lengths (a truncated message
    // decodes silently); a plain Uint8Array view gets the checked reader.
    msg = info.type.decode(Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes);
  } catch (e) {
    throw new ConfigError(path, `unable to decode ${info.name}: ${e instanceof RangeError && /call stack/i.test(e.message) ? 'nested too deeply' : (e as Error).message}`);
  }
  validateMessage(info.name, msg, path);
  return msg;
}

/**
 * The plain form of a packed Any (type URL + bytes), validated. An unknown type gives
 * { '@type', '@unknown': true, value } (the registry decides whether that is acceptable).
 */
export function decodeAny(typeUrl: string, bytes: Uint8Array, path = ''): Plain {
  const url = typeUrlOf(typeUrl);
  const t = lookupType(typeUrl);
  if (!t) return { '@type': url, '@unknown': true, value: bytesCopy(bytes) };
  const info = typeInfo(t);
  const msg = decode(info.name, bytes, path);
  return packedToPlain(info, msg as unknown as Rec, url, new Trail(path));
}
