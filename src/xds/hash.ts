// xxHash64 (XXH64, seed 0), the hash Envoy puts in the xDS subscription `version` gauge
// (HashUtil::xxHash64(version_info)). Runs once per accepted update, so BigInt is fine.

const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;
const M64 = (1n << 64n) - 1n;

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & M64;
}

function round(acc: bigint, input: bigint): bigint {
  acc = (acc + input * P2) & M64;
  acc = rotl(acc, 31n);
  return (acc * P1) & M64;
}

function mergeRound(acc: bigint, val: bigint): bigint {
  acc ^= round(0n, val);
  return (acc * P1 + P4) & M64;
}

/** XXH64 of the bytes (or the UTF-8 bytes of a string) as an unsigned 64-bit BigInt. */
export function xxHash64(input: string | Uint8Array, seed = 0n): bigint {
  const b = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const len = b.length;
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M64;
    let v2 = (seed + P2) & M64;
    let v3 = seed & M64;
    let v4 = (seed - P1) & M64;
    while (i + 32 <= len) {
      v1 = round(v1, b.readBigUInt64LE(i));
      v2 = round(v2, b.readBigUInt64LE(i + 8));
      v3 = round(v3, b.readBigUInt64LE(i + 16));
      v4 = round(v4, b.readBigUInt64LE(i + 24));
      i += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = (seed + P5) & M64;
  }
  h = (h + BigInt(len)) & M64;
  while (i + 8 <= len) {
    h ^= round(0n, b.readBigUInt64LE(i));
    h = (rotl(h, 27n) * P1 + P4) & M64;
    i += 8;
  }
  if (i + 4 <= len) {
    h ^= (BigInt(b.readUInt32LE(i)) * P1) & M64;
    h = (rotl(h, 23n) * P2 + P3) & M64;
    i += 4;
  }
  while (i < len) {
    h ^= (BigInt(b[i]) * P5) & M64;
    h = (rotl(h, 11n) * P1) & M64;
    i++;
  }
  h ^= h >> 33n;
  h = (h * P2) & M64;
  h ^= h >> 29n;
  h = (h * P3) & M64;
  h ^= h >> 32n;
  return h;
}

/**
 * The value remora puts in the `version` gauge: xxHash64 of the version text, truncated to
 * its low 53 bits so the JS-number gauge holds it exactly (Envoy's gauge holds all 64 bits).
 */
export function versionHash(version: string): number {
  return Number(xxHash64(version) & ((1n << 53n) - 1n));
}
