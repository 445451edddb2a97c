// The "plain" form of Envoy config that every part of remora reads.
//
// Config arrives as proto3 JSON/YAML (bootstrap files) or as protobuf binary (xDS).
// Both are decoded against the real Envoy protos (src/config/protos.ts) and turned
// into this one plain-object shape; there is no second hand-written config model.
//
// Conventions (implemented by src/config/json.ts `toPlain`):
//  - field names are the proto field names, snake_case (`route_config`, `virtual_hosts`);
//  - scalar fields always present with proto3 defaults (0, '', false, first enum name);
//    members of a oneof are present only when set;
//  - sub-messages: undefined when absent;
//  - repeated fields: arrays (empty when absent); map fields: plain objects ({} when absent),
//    keys as text (integer keys in decimal, bool keys "true"/"false");
//  - enums: their value NAME as a string ("ROUND_ROBIN"); a number the enum does not define
//    (possible from binary xDS when PGV does not require defined_only) stays a number;
//  - int64/uint64: JS numbers;
//  - bytes: Buffer;
//  - google.protobuf.Duration: milliseconds as a number (fractional allowed), undefined when absent;
//  - google.protobuf.Timestamp: milliseconds since the epoch;
//  - wrapper types (UInt32Value, BoolValue, ...): the bare value, undefined when absent;
//  - google.protobuf.Struct / Value / ListValue: plain JSON;
//  - google.protobuf.Any: the plain form of the packed message plus '@type' (its full type URL);
//    a TypedStruct (udpa.type.v1 / xds.type.v3) is unwrapped the same way, with '@type' set to its
//    inner type_url. A packed well-known type (Duration, Struct, a wrapper, ...) is
//    { '@type': url, value: <its plain form> }. When the packed type is unknown to the schema the object is
//    { '@type': url, '@unknown': true, value?: Buffer, struct?: <json> } and the extension
//    registry decides whether that is acceptable (is_optional) or an error. `struct` is there
//    when the config came as JSON/YAML (or a TypedStruct), `value` when it came as binary.

/** A decoded config message in plain form. Deliberately loose: shapes follow the Envoy protos. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Plain = any;

/** A typed extension config: the plain form of an Any. */
export interface PlainAny {
  '@type': string;
  '@unknown'?: true;
  [field: string]: unknown;
}

/** Duration fields are already milliseconds in plain form; this returns a default when absent. */
export function ms(value: number | undefined, dflt: number): number {
  return value === undefined ? dflt : value;
}

export function typeUrl(any: PlainAny | undefined): string | undefined {
  return any ? any['@type'] : undefined;
}
