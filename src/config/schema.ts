// Per-Type reflection data computed once and cached: field kinds, snake_case and
// lowerCamelCase name lookup, oneof membership, well-known-type classification.
// json.ts (fromJSON/toPlain/toJSON), validate.ts and merge.ts all walk messages
// through these tables instead of re-inspecting protobufjs reflection per value.
import * as protobuf from 'protobufjs';
import { ConfigError } from './errors';
import { lookupType } from './protos';

// Value kinds. Scalars first; message-like kinds from K_MESSAGE on.
export const K_DOUBLE = 0;
export const K_FLOAT = 1;
export const K_INT32 = 2;
export const K_UINT32 = 3;
export const K_INT64 = 4;
export const K_UINT64 = 5;
export const K_BOOL = 6;
export const K_STRING = 7;
export const K_BYTES = 8;
export const K_ENUM = 9;
export const K_NULL = 10; // google.protobuf.NullValue
export const K_MESSAGE = 11;
export const K_DURATION = 12;
export const K_TIMESTAMP = 13;
export const K_WRAPPER = 14;
export const K_STRUCT = 15;
export const K_VALUE = 16;
export const K_LIST = 17;
export const K_ANY = 18;
export const K_TYPED_STRUCT = 19; // udpa.type.v1.TypedStruct / xds.type.v3.TypedStruct
export const K_EMPTY = 20; // google.protobuf.Empty (a normal message, listed for clarity)

const SCALAR_KIND: Record<string, number> = {
  double: K_DOUBLE,
  float: K_FLOAT,
  int32: K_INT32,
  sint32: K_INT32,
  sfixed32: K_INT32,
  uint32: K_UINT32,
  fixed32: K_UINT32,
  int64: K_INT64,
  sint64: K_INT64,
  sfixed64: K_INT64,
  uint64: K_UINT64,
  fixed64: K_UINT64,
  bool: K_BOOL,
  string: K_STRING,
  bytes: K_BYTES,
};

const WRAPPER_KIND: Record<string, number> = {
  '.google.protobuf.DoubleValue': K_DOUBLE,
  '.google.protobuf.FloatValue': K_FLOAT,
  '.google.protobuf.Int64Value': K_INT64,
  '.google.protobuf.UInt64Value': K_UINT64,
  '.google.protobuf.Int32Value': K_INT32,
  '.google.protobuf.UInt32Value': K_UINT32,
  '.google.protobuf.BoolValue': K_BOOL,
  '.google.protobuf.StringValue': K_STRING,
  '.google.protobuf.BytesValue': K_BYTES,
};

const MESSAGE_KIND: Record<string, number> = {
  '.google.protobuf.Duration': K_DURATION,
  '.google.protobuf.Timestamp': K_TIMESTAMP,
  '.google.protobuf.Struct': K_STRUCT,
  '.google.protobuf.Value': K_VALUE,
  '.google.protobuf.ListValue': K_LIST,
  '.google.protobuf.Any': K_ANY,
  '.google.protobuf.Empty': K_EMPTY,
  '.udpa.type.v1.TypedStruct': K_TYPED_STRUCT,
  '.xds.type.v3.TypedStruct': K_TYPED_STRUCT,
};

export interface OneofInfo {
  name: string;
  index: number;
  /** Field names of the members. */
  members: string[];
  /** `(validate.required)`: exactly one member must be set. */
  required: boolean;
}

export interface FieldInfo {
  /** Proto field name (snake_case). */
  name: string;
  /** lowerCamelCase json_name. */
  jsonName: string;
  field: protobuf.Field;
  /** Kind of the value (for maps: of the map value). */
  kind: number;
  repeated: boolean;
  map: boolean;
  /** For maps: kind of the key (K_STRING, K_INT32, K_UINT32, K_INT64, K_UINT64, K_BOOL). */
  keyKind: number;
  /** For K_WRAPPER: kind of the wrapped value. */
  wrapKind: number;
  /** Message types (message-like kinds). */
  msgType: protobuf.Type | undefined;
  /** For K_ENUM. */
  enumType: protobuf.Enum | undefined;
  oneof: OneofInfo | undefined;
  /** Compiled PGV rules (validate.ts); undefined = not compiled yet, null = none. */
  rules: unknown;
  /** TypeInfo of msgType, filled on first use. */
  msgInfo: TypeInfo | undefined;
}

export interface TypeInfo {
  type: protobuf.Type;
  /** Full name without the leading dot. */
  name: string;
  /** Kind of this message type itself (K_MESSAGE or a well-known kind). */
  kind: number;
  /** For wrapper types. */
  wrapKind: number;
  fields: FieldInfo[];
  /** snake_case and lowerCamelCase names -> field. */
  byName: Map<string, FieldInfo>;
  oneofs: OneofInfo[];
  /** Fields that hold messages (singular, repeated or map values), for recursive walks. */
  nested: FieldInfo[];
  /** Validation tables (validate.ts); undefined = not compiled yet. */
  check: unknown;
}

/** protoc's ToJsonName: drop underscores, upper-case the letter after each. */
export function jsonNameOf(name: string): string {
  let out = '';
  let upper = false;
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '_') upper = true;
    else if (upper) {
      out += c.toUpperCase();
      upper = false;
    } else out += c;
  }
  return out;
}

/** The `long` library protobufjs uses (present: protobufjs depends on it). */
export interface LongStatic {
  fromNumber(n: number, unsigned?: boolean): protobuf.Long;
  fromString(s: string, unsigned?: boolean): protobuf.Long;
  fromBits(low: number, high: number, unsigned?: boolean): protobuf.Long;
}
export const Long = protobuf.util.Long as unknown as LongStatic | undefined;

const infos = new Map<protobuf.Type, TypeInfo>();

function kindOfType(fullName: string): number {
  if (WRAPPER_KIND[fullName] !== undefined) return K_WRAPPER;
  return MESSAGE_KIND[fullName] ?? K_MESSAGE;
}

function fieldKind(f: protobuf.Field): { kind: number; wrapKind: number; msgType?: protobuf.Type; enumType?: protobuf.Enum } {
  const scalar = SCALAR_KIND[f.type];
  if (scalar !== undefined) return { kind: scalar, wrapKind: -1 };
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Enum) {
    return { kind: rt.fullName === '.google.protobuf.NullValue' ? K_NULL : K_ENUM, wrapKind: -1, enumType: rt };
  }
  if (rt instanceof protobuf.Type) {
    const kind = kindOfType(rt.fullName);
    return { kind, wrapKind: kind === K_WRAPPER ? WRAPPER_KIND[rt.fullName] : -1, msgType: rt };
  }
  throw new Error(`unresolved type ${f.type} of field ${f.fullName}`);
}

export function typeInfo(type: protobuf.Type): TypeInfo {
  let info = infos.get(type);
  if (info) return info;
  const name = type.fullName.startsWith('.') ? type.fullName.slice(1) : type.fullName;
  const kind = kindOfType(type.fullName);
  const oneofs: OneofInfo[] = type.oneofsArray.map((o, index) => ({
    name: o.name,
    index,
    members: o.oneof.slice(),
    required: !!(o.options && o.options['(validate.required)']),
  }));
  const fields: FieldInfo[] = [];
  const byName = new Map<string, FieldInfo>();
  for (const f of type.fieldsArray) {
    f.resolve();
    const k = fieldKind(f);
    const mapField = f instanceof protobuf.MapField;
    const fi: FieldInfo = {
      name: f.name,
      jsonName: (f.options && typeof f.options.json_name === 'string' && f.options.json_name) || jsonNameOf(f.name),
      field: f,
      kind: k.kind,
      repeated: f.repeated && !mapField,
      map: mapField,
      keyKind: mapField ? SCALAR_KIND[(f as protobuf.MapField).keyType] : -1,
      wrapKind: k.wrapKind,
      msgType: k.msgType,
      enumType: k.enumType,
      oneof: f.partOf ? oneofs[type.oneofsArray.indexOf(f.partOf)] : undefined,
      rules: undefined,
      msgInfo: undefined,
    };
    fields.push(fi);
    byName.set(fi.name, fi);
    if (fi.jsonName !== fi.name) byName.set(fi.jsonName, fi);
  }
  const nested = fields.filter((f) => f.kind >= K_MESSAGE && f.kind !== K_EMPTY);
  info = {
    type,
    name,
    kind,
    wrapKind: kind === K_WRAPPER ? WRAPPER_KIND[type.fullName] : -1,
    fields,
    byName,
    oneofs,
    nested,
    check: undefined,
  };
  infos.set(type, info);
  return info;
}

/** TypeInfo for a full type name or type URL; throws ConfigError when the schema lacks it. */
export function typeInfoOf(typeName: string, path = ''): TypeInfo {
  const t = lookupType(typeName);
  if (!t) throw new ConfigError(path, `unknown type "${typeName}"`);
  return typeInfo(t);
}

/** The TypeInfo of a field's message type. */
export function fieldTypeInfo(f: FieldInfo): TypeInfo {
  return f.msgInfo ?? (f.msgInfo = typeInfo(f.msgType as protobuf.Type));
}

// ---- Any side data -------------------------------------------------------------
// An Any built by fromJSON remembers its decoded inner message (so toPlain/validate
// do not decode the bytes again) or, for a type the schema lacks, the JSON it was
// given (as a google.protobuf.Struct message, which is also what `value` holds).

export interface AnyCarry {
  /** Decoded inner message of a known type. */
  inner?: protobuf.Message;
  /** Unknown type: the JSON body (everything but '@type') as a Struct message. */
  unknownStruct?: protobuf.Message;
}

export const anyCarry = new WeakMap<object, AnyCarry>();

// ---- small helpers shared by the walkers ----------------------------------------

export const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** True when a oneof member / presence-tracked field is set on a message or plain object. */
export function isSet(msg: Record<string, unknown>, name: string): boolean {
  return hasOwn(msg, name) && msg[name] != null;
}

/** Set a key on an object, safe for '__proto__'. */
export function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** int64/uint64 as a JS number, whatever the representation (number, Long, string). */
export function longToNumber(v: unknown, unsigned: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (v && typeof v === 'object' && 'low' in v) {
    const l = v as { low: number; high: number; unsigned?: boolean; toNumber?: () => number };
    if (typeof l.toNumber === 'function') return l.toNumber();
    return protobuf.util.LongBits.from(l as protobuf.Long).toNumber(unsigned);
  }
  if (typeof v === 'bigint') return Number(v);
  return 0;
}

/** int64/uint64 as an exact decimal string. */
export function longToString(v: unknown, unsigned: boolean): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && 'low' in v) {
    const l = v as protobuf.Long;
    if (Long) return Long.fromBits(l.low, l.high, unsigned).toString();
    return String(protobuf.util.LongBits.from(l).toNumber(unsigned));
  }
  if (typeof v === 'bigint') return v.toString();
  return '0';
}

/** Map keys as the decimal/text form (protobufjs decodes 64-bit keys to 8-char hashes). */
export function mapKeyText(key: string, keyKind: number): string {
  if ((keyKind === K_INT64 || keyKind === K_UINT64) && key.length === 8 && !/^-?\d+$/.test(key)) {
    return longToString(protobuf.util.longFromHash(key, keyKind === K_UINT64), keyKind === K_UINT64);
  }
  return key;
}

export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

/** proto3 implicit-presence default test for scalar kinds (used by toJSON and merge). */
export function isDefaultScalar(kind: number, v: unknown): boolean {
  if (v == null) return true;
  switch (typeof v) {
    case 'number':
      return v === 0 && !Object.is(v, -0);
    case 'string':
      return kind === K_BYTES ? v.length === 0 : v === '';
    case 'boolean':
      return v === false;
    case 'bigint':
      return v === 0n;
    default:
      if (v instanceof Uint8Array) return v.length === 0;
      if (typeof v === 'object' && 'low' in v) {
        const l = v as { low: number; high: number };
        return l.low === 0 && l.high === 0;
      }
      return false;
  }
}
