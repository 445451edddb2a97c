// Query-string parsing as Envoy's admin does it (Http::Utility::QueryParamsMulti with
// PercentEncoding::urlDecodeQueryParameter): "&"-separated, key and value split at the
// first "=", a key without "=" has the value "", %XX decoded, "+" left as is. Invalid
// escapes are kept literally, so no input can make parsing throw.

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Percent-decode; undecodable sequences stay as they are, bytes are read as UTF-8. */
export function percentDecode(s: string): string {
  if (s.indexOf('%') < 0) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */ && i + 2 < s.length) {
      const hi = hexVal(s.charCodeAt(i + 1));
      const lo = hexVal(s.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) { bytes.push(hi * 16 + lo); i += 2; continue; }
    }
    if (c < 0x80) { bytes.push(c); continue; }
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length - 1;
  }
  return Buffer.from(bytes).toString('utf8');
}

export class QueryParams {
  private readonly data = new Map<string, string[]>();

  static parse(query: string): QueryParams {
    const q = new QueryParams();
    q.addEncoded(query);
    return q;
  }

  /** Add "a=1&b" style pairs (a query string without "?", or a form body). */
  addEncoded(encoded: string): void {
    if (!encoded) return;
    for (const part of encoded.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const key = percentDecode(eq < 0 ? part : part.slice(0, eq));
      const value = eq < 0 ? '' : percentDecode(part.slice(eq + 1));
      const list = this.data.get(key);
      if (list) list.push(value); else this.data.set(key, [value]);
    }
  }

  has(key: string): boolean { return this.data.has(key); }
  /** First value of the key, undefined when absent. */
  get(key: string): string | undefined { return this.data.get(key)?.[0]; }
  /** First value when present and non-empty. */
  nonEmpty(key: string): string | undefined {
    const v = this.get(key);
    return v === undefined || v === '' ? undefined : v;
  }
  remove(key: string): void { this.data.delete(key); }
  keys(): string[] { return [...this.data.keys()]; }
  get size(): number { return this.data.size; }
  entries(): Array<[string, string]> {
    return [...this.data.entries()].map(([k, v]) => [k, v[0]]);
  }
}
