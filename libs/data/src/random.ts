/**
 * A small seeded generator for deterministic sampling (xorshift over 32 bits,
 * the seed scrambled first so nearby seeds start far apart). Returns floats
 * in [0, 1). Good enough to pick subsets; not for cryptography.
 */
export function seededRandom(seed: number): () => number {
  let state = Math.imul(Math.trunc(seed) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  if (state === 0) state = 0x2545f491;
  const step = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  for (let i = 0; i < 8; i++) step();
  return () => step() / 4294967296;
}
