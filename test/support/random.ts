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

/** An id sharing exactly `bits` leading bits with `base` (bits < 160), rest random. */
export const idWithPrefix = (base: string, bits: number, random: () => number): string => {
  const b = Array.from(base, (c) => parseInt(c, 16).toString(2).padStart(4, "0")).join("").split("")
  b[bits] = b[bits] === "0" ? "1" : "0"
  for (let i = bits + 1; i < 160; i++) b[i] = random() < 0.5 ? "0" : "1"
  let out = ""
  for (let i = 0; i < 160; i += 4) out += parseInt(b.slice(i, i + 4).join(""), 2).toString(16)
  return out
}
