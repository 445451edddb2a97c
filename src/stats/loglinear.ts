// Log-linear histogram bins with the same bin layout and the same approximation
// formulas as libcircllhist, which Envoy uses for every histogram. A sample v lands
// in the bin [m*10^e, (m+1)*10^e) where m*10^e has two significant digits
// (m in 10..99 after scaling), so quantiles, bucket counts and sums computed here
// come out exactly as Envoy reports them for the same samples.
//
// A bin is encoded as one small integer key (a V8 Smi), so recording a sample is a
// log10 plus one Map update and never allocates.

/** Key of the NaN bin (NaN, +-Infinity, out-of-range values). */
export const NAN_KEY = -1;

const POW10: Float64Array = (() => {
  const t = new Float64Array(256);
  for (let e = -128; e <= 127; e++) t[e + 128] = Number('1e' + e);
  return t;
})();

function encode(val: number, exp: number): number {
  return ((exp + 128) << 8) | (val + 128);
}
const ZERO_KEY = encode(0, 0);

function keyVal(key: number): number { return (key & 255) - 128; }
function keyExp(key: number): number { return (key >> 8) - 128; }

/** The bin key for a sample (circllhist double_to_hist_bucket). */
export function binKey(d: number): number {
  // Most samples are small integers (milliseconds, bytes): look those up.
  if ((d >>> 0) === d && d < SMALL_INTS) return smallIntKeys[d];
  return computeBinKey(d);
}

function computeBinKey(d: number): number {
  if (d !== d || d === Infinity || d === -Infinity) return NAN_KEY;
  if (d === 0) return ZERO_KEY;
  const sign = d < 0 ? -1 : 1;
  let a = d < 0 ? -d : d;
  let exp = Math.floor(Math.log10(a));
  if (exp < -128 || exp > 127) return exp >= 0 ? NAN_KEY : ZERO_KEY;
  a = (a / POW10[exp + 128]) * 10;
  let val = Math.floor(a + 1e-13);
  if (val === 100) {
    if (exp < 127) { val = 10; exp++; } else return NAN_KEY;
  }
  if (val === 0) return ZERO_KEY;
  if (val < 10 || val >= 100) return NAN_KEY;
  return encode(sign * val, exp);
}

const SMALL_INTS = 65536;
const smallIntKeys: Int32Array = (() => {
  const t = new Int32Array(SMALL_INTS);
  for (let i = 0; i < SMALL_INTS; i++) t[i] = computeBinKey(i);
  return t;
})();

/** Lower value of the bin as circllhist defines it (negative bins: their value closest to zero). */
export function binValue(key: number): number {
  const val = keyVal(key);
  if (val === 0) return 0;
  return (val / 10) * POW10[keyExp(key) + 128];
}

export function binWidth(key: number): number {
  if (keyVal(key) === 0) return 0;
  return POW10[keyExp(key) + 128] / 10;
}

/** Edge of the bin closest to -infinity. */
export function binLeft(key: number): number {
  const out = binValue(key);
  if (out >= 0) return out;
  return out - binWidth(key);
}

export function binMidpoint(key: number): number {
  const out = binValue(key);
  if (out === 0) return 0;
  const w = binWidth(key);
  return out + (out < 0 ? -w : w) / 2;
}

/** One non-NaN bin of a histogram, ordered along the real axis. */
export interface Bin { key: number; left: number; width: number; count: number }

/**
 * The sorted non-NaN bins of one or more bin maps added together, plus the total
 * sample count (which, like hist_sample_count, includes the NaN bin).
 */
export function sortedBins(maps: ReadonlyArray<ReadonlyMap<number, number>>): { bins: Bin[]; total: number } {
  const merged = new Map<number, number>();
  let total = 0;
  for (const m of maps) {
    for (const [k, c] of m) {
      if (c === 0) continue;
      total += c;
      if (k === NAN_KEY) continue;
      merged.set(k, (merged.get(k) ?? 0) + c);
    }
  }
  const bins: Bin[] = [];
  for (const [key, count] of merged) bins.push({ key, left: binLeft(key), width: binWidth(key), count });
  bins.sort((a, b) => a.left - b.left);
  return { bins, total };
}

/** hist_approx_count_below: samples in bins lying entirely at or below threshold. */
export function countBelow(bins: readonly Bin[], threshold: number): number {
  let n = 0;
  for (const b of bins) {
    const value = binValue(b.key);
    const upper = value < 0 ? value : value + b.width;
    if (upper <= threshold) n += b.count; else break;
  }
  return n;
}

/** hist_approx_sum: each sample counted at its bin's midpoint. */
export function approxSum(bins: readonly Bin[]): number {
  let s = 0;
  for (const b of bins) s += binMidpoint(b.key) * b.count;
  return s;
}

/** hist_approx_quantile for an ascending list of quantiles in [0,1]; NaN for an empty histogram. */
export function approxQuantiles(bins: readonly Bin[], qs: readonly number[]): number[] {
  const out = new Array<number>(qs.length);
  let total = 0;
  for (const b of bins) total += b.count;
  if (total === 0 || bins.length === 0) { out.fill(NaN); return out; }
  let ib = 0;
  let width = 0, left = 0, lower = 0, upper = 0;
  const track = (i: number) => { width = bins[i].width; left = bins[i].left; lower = upper; upper = lower + bins[i].count; };
  while (ib < bins.length && bins[ib].count === 0) ib++;
  if (ib >= bins.length) { out.fill(NaN); return out; }
  track(ib);
  for (let iq = 0; iq < qs.length; iq++) {
    const target = total * qs[iq];
    while (ib < bins.length - 1 && upper < target) { ib++; track(ib); }
    if (lower === target) out[iq] = left;
    else if (upper === target) out[iq] = left + width;
    else if (width === 0) out[iq] = left;
    else out[iq] = left + ((target - lower) / (upper - lower)) * width;
  }
  return out;
}
