// Random numbers for load balancing: a RandomSource returns a uniformly distributed
// unsigned 32-bit integer. Production uses Math.random; tests and benches inject a seeded one.

export type RandomSource = () => number;

export const defaultRandom: RandomSource = () => (Math.random() * 4294967296) >>> 0;

/** mulberry32: a small, fast, seedable PRNG (deterministic tests and benches). */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
