// Stable serialization of plain config objects: object keys sorted, Buffers as
// base64, undefined members dropped. Two configs serialize equally iff they are
// the same message, which is how listener updates decide which filter chains changed.

export function stableStringify(v: unknown): string {
  const parts: string[] = [];
  write(v, parts);
  return parts.join('');
}

function write(v: unknown, out: string[]): void {
  if (v === undefined || v === null) { out.push('null'); return; }
  if (typeof v === 'string') { out.push(JSON.stringify(v)); return; }
  if (typeof v === 'number' || typeof v === 'boolean') { out.push(String(v)); return; }
  if (typeof v === 'bigint') { out.push(v.toString()); return; }
  if (Buffer.isBuffer(v)) { out.push('"b64:' + v.toString('base64') + '"'); return; }
  if (v instanceof Uint8Array) { out.push('"b64:' + Buffer.from(v).toString('base64') + '"'); return; }
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) { if (i) out.push(','); write(v[i], out); }
    out.push(']');
    return;
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    out.push('{');
    for (let i = 0; i < keys.length; i++) {
      if (i) out.push(',');
      out.push(JSON.stringify(keys[i]), ':');
      write(o[keys[i]], out);
    }
    out.push('}');
    return;
  }
  out.push('null');
}
