/** Seeded PRNG (mulberry32): randomized checks are reproducible. */
export const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** A random 40-hex peer id from `random`. */
export const randomId = (random: () => number): string =>
  Array.from({ length: 40 }, () => Math.floor(random() * 16).toString(16)).join("")
