// Route hash_policy evaluation (Envoy's HashPolicyImpl) for ring-hash / maglev
// load balancing, with Envoy's xxHash64 (seed 0).
import type { Headers } from '../../../http/headers';
import type { CompiledHashPolicy } from '../../../router';
import { applyRegexRewrite, firstQueryValue } from '../../../router';

const M64 = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;

function rotl(x: bigint, r: bigint): bigint { return ((x << r) | (x >> (64n - r))) & M64; }
function round(acc: bigint, input: bigint): bigint {
  acc = (acc + input * P2) & M64;
  acc = rotl(acc, 31n);
  return (acc * P1) & M64;
}
function mergeRound(acc: bigint, val: bigint): bigint {
  val = round(0n, val);
  acc ^= val;
  return (acc * P1 + P4) & M64;
}
function u64(b: Buffer, i: number): bigint { return b.readBigUInt64LE(i); }
function u32(b: Buffer, i: number): bigint { return BigInt(b.readUInt32LE(i)); }

/** XXH64(data, seed = 0). */
export function xxHash64(data: Buffer | string, seed = 0n): bigint {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  const len = b.length;
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M64;
    let v2 = (seed + P2) & M64;
    let v3 = seed;
    let v4 = (seed - P1) & M64;
    const limit = len - 32;
    do {
      v1 = round(v1, u64(b, i)); i += 8;
      v2 = round(v2, u64(b, i)); i += 8;
      v3 = round(v3, u64(b, i)); i += 8;
      v4 = round(v4, u64(b, i)); i += 8;
    } while (i <= limit);
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = mergeRound(h, v1); h = mergeRound(h, v2); h = mergeRound(h, v3); h = mergeRound(h, v4);
  } else {
    h = (seed + P5) & M64;
  }
  h = (h + BigInt(len)) & M64;
  while (i + 8 <= len) {
    h ^= round(0n, u64(b, i));
    h = (rotl(h, 27n) * P1 + P4) & M64;
    i += 8;
  }
  if (i + 4 <= len) {
    h ^= (u32(b, i) * P1) & M64;
    h = (rotl(h, 23n) * P2 + P3) & M64;
    i += 4;
  }
  while (i < len) {
    h ^= (BigInt(b[i]) * P5) & M64;
    h = (rotl(h, 11n) * P1) & M64;
    i++;
  }
  h ^= h >> 33n; h = (h * P2) & M64;
  h ^= h >> 29n; h = (h * P3) & M64;
  h ^= h >> 32n;
  return h;
}

function cookieValue(h: Headers, name: string): string | undefined {
  const c = h['cookie'];
  if (c === undefined) return undefined;
  const all = typeof c === 'string' ? [c] : c;
  for (const line of all) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() === name) {
        let v = part.slice(eq + 1).trim();
        if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
        return v;
      }
    }
  }
  return undefined;
}

/**
 * Envoy HashPolicyImpl::generateHash: each policy that yields a value is combined
 * as rotl(hash, 1) ^ new; a terminal policy that yields stops the walk.
 * Returns undefined when no policy produced a hash.
 */
export function computeHash(policies: ReadonlyArray<CompiledHashPolicy>, headers: Headers,
  downstreamAddress: string, filterState: Map<string, unknown> | undefined): bigint | undefined {
  let hash: bigint | undefined;
  for (const p of policies) {
    let v: bigint | undefined;
    switch (p.kind) {
      case 'header': {
        const raw = headers[p.headerName ?? ''];
        if (raw === undefined) break;
        let vals = typeof raw === 'string' ? [raw] : raw.slice();
        if (p.regexRewrite) vals = vals.map((x) => applyRegexRewrite(p.regexRewrite!, x));
        vals.sort();
        v = xxHash64(vals.join(''));
        break;
      }
      case 'cookie': {
        const c = cookieValue(headers, p.name ?? '');
        if (c !== undefined) v = xxHash64(c);
        break;
      }
      case 'connection_properties':
        if (p.sourceIp && downstreamAddress) v = xxHash64(downstreamAddress);
        break;
      case 'query_parameter': {
        const path = headers[':path'];
        const ps = typeof path === 'string' ? path : path?.[0] ?? '';
        const q = firstQueryValue(ps, p.name ?? '');
        if (q !== undefined) v = xxHash64(q);
        break;
      }
      case 'filter_state': {
        const s = filterState?.get(p.key ?? '');
        if (typeof s === 'string') v = xxHash64(s);
        break;
      }
    }
    if (v !== undefined) {
      hash = hash === undefined ? v : ((((hash << 1n) | (hash >> 63n)) & M64) ^ v);
      if (p.terminal) break;
    }
  }
  return hash;
}
