// Redaction of sensitive fields for /config_dump, driven by the Envoy protos: every field
// annotated `(udpa.annotations.sensitive)` (TlsCertificate.private_key / password / pkcs12,
// GenericSecret.secret, TlsSessionTicketKeys.keys, ...) has each string leaf below it
// replaced by "[redacted]" (bytes leaves by the base64 of "[redacted]"), like Envoy's
// MessageUtil::redact. Works on proto3 JSON with proto field names (what toJSON prints).
import * as protobuf from 'protobufjs';
import { lookupType } from '../config/protos';

export const REDACTED = '[redacted]';
const REDACTED_BYTES = Buffer.from(REDACTED).toString('base64');
const SENSITIVE = '(udpa.annotations.sensitive)';

type Json = Record<string, unknown>;

/** A copy of `json` (proto3 JSON of message `typeNameOrUrl`) with sensitive fields redacted. */
export function redactJson<T>(typeNameOrUrl: string, json: T): T {
  const t = lookupType(typeNameOrUrl);
  if (!t) return json;
  return walk(t, json, 0) as T;
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function walk(t: protobuf.Type, v: unknown, depth: number): unknown {
  if (!isObject(v) || depth > 100) return v;
  if (t.fullName === '.google.protobuf.Any') {
    const url = typeof v['@type'] === 'string' ? v['@type'] : '';
    const inner = url ? lookupType(url) : undefined;
    if (!inner || inner.fullName.startsWith('.google.protobuf.')) return v;
    return walk(inner, v, depth + 1);
  }
  let out: Json | undefined;
  for (const key of Object.keys(v)) {
    const f = t.fields[key];
    if (!f) continue;
    const val = v[key];
    let next: unknown = val;
    f.resolve();
    if (f.options?.[SENSITIVE] === true) {
      next = redactAll(f, val, depth + 1);
    } else if (f.resolvedType instanceof protobuf.Type) {
      const ft = f.resolvedType;
      if (f instanceof protobuf.MapField) {
        if (isObject(val)) {
          const m: Json = {};
          for (const k of Object.keys(val)) m[k] = walk(ft, val[k], depth + 1);
          next = m;
        }
      } else if (f.repeated && Array.isArray(val)) {
        next = val.map((x) => walk(ft, x, depth + 1));
      } else {
        next = walk(ft, val, depth + 1);
      }
    }
    if (next !== val) {
      if (!out) out = { ...v };
      out[key] = next;
    }
  }
  return out ?? v;
}

/** Redact every string/bytes leaf of a sensitive field's value. */
function redactAll(f: protobuf.Field | undefined, v: unknown, depth: number): unknown {
  if (depth > 100) return REDACTED;
  if (typeof v === 'string') return f?.type === 'bytes' ? REDACTED_BYTES : REDACTED;
  if (Array.isArray(v)) return v.map((x) => redactAll(f, x, depth + 1));
  if (!isObject(v)) return v;
  let t = f?.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
  if (t && t.fullName === '.google.protobuf.Any' && typeof v['@type'] === 'string') t = lookupType(v['@type']);
  const out: Json = {};
  for (const key of Object.keys(v)) {
    if (key === '@type') { out[key] = v[key]; continue; }
    const sub = t?.fields[key];
    sub?.resolve();
    out[key] = redactAll(sub, v[key], depth + 1);
  }
  return out;
}
