// IPv4/IPv6 address parsing, CIDR ranges and a longest-prefix-match table.
//
// Addresses are parsed once into a family plus 16 bytes (IPv4 uses the first 4).
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d), which a dual-stack Node server
// reports for IPv4 peers, are normalised to IPv4, as Envoy does for sockets that
// are not v6-only.

export interface IpAddress {
  readonly family: 4 | 6;
  /** 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
  readonly bytes: Uint8Array;
}

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(s: string, out: Uint8Array, off: number): boolean {
  const m = V4_RE.exec(s);
  if (!m) return false;
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1];
    if (part.length > 1 && part[0] === '0') return false; // no octal-looking octets
    const n = Number(part);
    if (n > 255) return false;
    out[off + i] = n;
  }
  return true;
}

function parseV6(s: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return null;
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === '' ? [] : tail.split(':');
  const groups: number[] = [];
  const tailGroups: number[] = [];
  const parseGroups = (parts: string[], dst: number[], allowV4Last: boolean): boolean => {
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (allowV4Last && i === parts.length - 1 && p.includes('.')) {
        const b = new Uint8Array(4);
        if (!parseV4(p, b, 0)) return false;
        dst.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return false;
      dst.push(parseInt(p, 16));
    }
    return true;
  };
  if (!parseGroups(headParts, groups, dbl < 0)) return null;
  if (!parseGroups(tailParts, tailGroups, true)) return null;
  const total = groups.length + tailGroups.length;
  if (dbl >= 0 ? total > 7 : total !== 8) return null;
  const all = groups.concat(new Array(8 - total).fill(0), tailGroups);
  for (let i = 0; i < 8; i++) { out[i * 2] = all[i] >> 8; out[i * 2 + 1] = all[i] & 0xff; }
  return out;
}

/** Parse an IPv4 or IPv6 literal (brackets and a %zone suffix are accepted). null when invalid. */
export function parseIp(input: string): IpAddress | null {
  let s = input;
  if (s.length === 0) return null;
  if (s[0] === '[' && s[s.length - 1] === ']') s = s.slice(1, -1);
  if (!s.includes(':')) {
    const b = new Uint8Array(4);
    return parseV4(s, b, 0) ? { family: 4, bytes: b } : null;
  }
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const b = parseV6(s);
  if (!b) return null;
  if (isV4Mapped(b)) return { family: 4, bytes: b.slice(12, 16) };
  return { family: 6, bytes: b };
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** '::ffff:1.2.3.4' -> '1.2.3.4'; anything else unchanged. Cheap enough for every accepted socket. */
export function normalizeIpString(s: string): string {
  if (s.length > 7 && s.charCodeAt(0) === 58 /* : */ && s.startsWith('::ffff:') && s.includes('.', 7)) return s.slice(7);
  return s;
}

export function isLoopback(ip: IpAddress): boolean {
  if (ip.family === 4) return ip.bytes[0] === 127;
  for (let i = 0; i < 15; i++) if (ip.bytes[i] !== 0) return false;
  return ip.bytes[15] === 1;
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((ip.bytes[i * 2] << 8) | ip.bytes[i * 2 + 1]);
  // RFC 5952: compress the longest run (>= 2) of zero groups.
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return hex(g.slice(0, bestStart)) + '::' + hex(g.slice(bestStart + bestLen));
}

/** A masked network prefix. */
export class CidrRange {
  private constructor(readonly family: 4 | 6, readonly bytes: Uint8Array, readonly prefixLen: number) {}

  /**
   * Build from an address and prefix length. Host bits are cleared (Envoy normalises
   * "10.1.2.3/8" to "10.0.0.0/8"). Throws Error with a readable message when invalid.
   */
  static create(address: string, prefixLen: number): CidrRange {
    const ip = parseIp(address);
    if (!ip) throw new Error(`malformed IP address: "${address}"`);
    const max = ip.family === 4 ? 32 : 128;
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) {
      throw new Error(`invalid prefix length ${prefixLen} for "${address}" (must be 0..${max})`);
    }
    return new CidrRange(ip.family, maskBytes(ip.bytes, prefixLen), prefixLen);
  }

  /** From the plain form of envoy.config.core.v3.CidrRange {address_prefix, prefix_len}. */
  static fromPlain(c: { address_prefix?: string; prefix_len?: number }): CidrRange {
    return CidrRange.create(c.address_prefix ?? '', c.prefix_len ?? 0);
  }

  /** "0.0.0.0/0" (IPv4 catch-all) or "::/0". */
  static any(family: 4 | 6): CidrRange {
    return new CidrRange(family, new Uint8Array(family === 4 ? 4 : 16), 0);
  }

  contains(ip: IpAddress): boolean {
    if (ip.family !== this.family) return false;
    return keyOf(ip.bytes, this.prefixLen) === keyOf(this.bytes, this.prefixLen);
  }

  /** Canonical text, e.g. "10.0.0.0/8", "2001:db8::/32". */
  toString(): string { return formatIp({ family: this.family, bytes: this.bytes }) + '/' + this.prefixLen; }

  /** Key used by LpmTable buckets. */
  key(): string { return keyOf(this.bytes, this.prefixLen); }
}

function maskBytes(b: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    out[i] = bits === 0 ? 0 : b[i] & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Prefix-masked key as a compact string (one char per byte). */
function keyOf(b: Uint8Array, len: number): string {
  let s = '';
  const full = len >> 3;
  for (let i = 0; i < full; i++) s += String.fromCharCode(b[i]);
  const rem = len & 7;
  if (rem) s += String.fromCharCode(b[full] & ((0xff << (8 - rem)) & 0xff));
  return s;
}

/**
 * Longest-prefix-match table: add(range, value) at build time, then lookup(ip)
 * returns the value of the most specific range containing ip (or undefined).
 * Lookup cost is one Map probe per distinct prefix length present in the table.
 */
export class LpmTable<T> {
  private readonly v4 = new Map<number, Map<string, T>>();
  private readonly v6 = new Map<number, Map<string, T>>();
  private lens4: number[] = [];
  private lens6: number[] = [];

  /** Returns false (and does not overwrite) when the exact same range is already present. */
  add(range: CidrRange, value: T): boolean {
    const byLen = range.family === 4 ? this.v4 : this.v6;
    let m = byLen.get(range.prefixLen);
    if (!m) {
      m = new Map();
      byLen.set(range.prefixLen, m);
      const lens = [...byLen.keys()].sort((a, b) => b - a);
      if (range.family === 4) this.lens4 = lens; else this.lens6 = lens;
    }
    const k = range.key();
    if (m.has(k)) return false;
    m.set(k, value);
    return true;
  }

  get(range: CidrRange): T | undefined {
    return (range.family === 4 ? this.v4 : this.v6).get(range.prefixLen)?.get(range.key());
  }

  lookup(ip: IpAddress): T | undefined {
    const lens = ip.family === 4 ? this.lens4 : this.lens6;
    const byLen = ip.family === 4 ? this.v4 : this.v6;
    for (let i = 0; i < lens.length; i++) {
      const v = byLen.get(lens[i])!.get(keyOf(ip.bytes, lens[i]));
      if (v !== undefined) return v;
    }
    return undefined;
  }

  get size(): number {
    let n = 0;
    for (const m of this.v4.values()) n += m.size;
    for (const m of this.v6.values()) n += m.size;
    return n;
  }
}
