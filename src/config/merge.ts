// protobuf MergeFrom semantics on protobufjs messages, used to lay `--config-yaml` over
// the bootstrap file the way Envoy does (`bootstrap.MergeFrom(config_yaml_bootstrap)`):
//  - repeated fields: src elements are appended;
//  - map fields: src entries replace dst entries with the same key;
//  - singular sub-messages: merged recursively (this includes Duration and wrapper
//    messages, exactly like protobuf: a src Duration of "0.5s" over "1s" gives "1.5s",
//    because src.seconds == 0 is not copied);
//  - scalars (proto3, implicit presence): copied when src's value is not the default;
//  - oneofs: setting a member in src clears the other members in dst;
//  - google.protobuf.Any: replaced as a whole when src's has a type URL.
// dst is modified in place and returned; src must not be used afterwards (sub-objects
// may be shared).
import type * as protobuf from 'protobufjs';
import { TypeInfo, typeInfoOf, fieldTypeInfo, hasOwn, isSet, setKey, isDefaultScalar, K_MESSAGE, K_ANY } from './schema';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rec = Record<string, any>;

export function mergeMessage(typeName: string, dst: protobuf.Message | object, src: protobuf.Message | object): protobuf.Message {
  mergeInto(typeInfoOf(typeName), dst as Rec, src as Rec);
  return dst as protobuf.Message;
}

function mergeInto(info: TypeInfo, dst: Rec, src: Rec): void {
  const fields = info.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const sv = src[f.name];
    if (sv == null) continue;
    if (f.map) {
      const keys = Object.keys(sv);
      if (!keys.length) continue;
      const out: Rec = {};
      const dv = hasOwn(dst, f.name) ? dst[f.name] : undefined;
      if (dv) for (const k of Object.keys(dv)) setKey(out, k, dv[k]);
      for (const k of keys) setKey(out, k, sv[k]);
      dst[f.name] = out;
      continue;
    }
    if (f.repeated) {
      if (!sv.length) continue;
      const dv = hasOwn(dst, f.name) && dst[f.name] ? dst[f.name] : [];
      dst[f.name] = dv.concat(sv);
      continue;
    }
    if (f.oneof) {
      if (!hasOwn(src, f.name)) continue;
      for (const m of f.oneof.members) if (m !== f.name && hasOwn(dst, m)) delete dst[m];
    } else if (f.kind < K_MESSAGE) {
      if (!isDefaultScalar(f.kind, sv)) dst[f.name] = sv;
      continue;
    }
    if (f.kind < K_MESSAGE) {
      dst[f.name] = sv; // a oneof scalar member that src sets
      continue;
    }
    if (f.kind === K_ANY) {
      if (sv.type_url || !isSet(dst, f.name)) dst[f.name] = sv;
      continue;
    }
    if (isSet(dst, f.name)) mergeInto(fieldTypeInfo(f), dst[f.name], sv);
    else dst[f.name] = sv;
  }
}
