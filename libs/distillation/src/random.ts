/**
 * Seeded random numbers for everything that decides a result: mixing
 * partners, lambdas, shuffles. The generator is xoshiro128** (32-bit state
 * words), its state filled by a splitmix32 sequence from the seed, so equal
 * seeds give equal streams on every platform. Not for cryptography.
 */
export interface Random {
  /** The seed this generator started from. */
  readonly seed: number;
  /** Uniform float in [0, 1) with 32 random bits. */
  next(): number;
  /** Uniform float in [low, high). */
  uniform(low?: number, high?: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller; the second value of a pair is kept). */
  normal(mean?: number, std?: number): number;
  /** Gamma(shape, 1) (Marsaglia-Tsang; shape < 1 by the power boost). */
  gamma(shape: number): number;
  /** Beta(a, b) as X/(X+Y) of two gammas; Beta(1, 1) is drawn as a uniform. */
  beta(a: number, b: number): number;
  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array;
  /** Shuffles `values` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: number }>(values: T): T;
}

const TWO_POW_32 = 4294967296;

/** Creates a generator whose whole stream is determined by `seed`. */
export function createRandom(seed: number): Random {
  if (!Number.isFinite(seed))
    throw new RangeError(`seed: expected a finite number, got ${seed}`);
  return new Xoshiro128(seed);
}

class Xoshiro128 implements Random {
  readonly seed: number;
  private readonly s = new Uint32Array(4);
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.seed = seed;
    // splitmix32 over the integer part and the (scaled) fraction of the seed
    let x =
      (Math.trunc(seed) ^ Math.imul(Math.round((seed % 1) * 1e9), 0x2545f491)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      this.s[i] = (z ^ (z >>> 15)) >>> 0;
    }
    // An all-zero state would stay zero forever.
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  private nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.next();
  }

  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`int(n): expected an integer in [1, 2^32], got ${n}`);
    }
    // Rejection sampling keeps every value equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const u = this.nextUint32();
      if (u < limit) return u % n;
    }
  }

  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    // 1 - next() lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    const angle = 2 * Math.PI * this.next();
    this.spareNormal = radius * Math.sin(angle);
    return mean + std * radius * Math.cos(angle);
  }

  gamma(shape: number): number {
    if (!(shape > 0) || !Number.isFinite(shape)) {
      throw new RangeError(`gamma(shape): expected a finite shape > 0, got ${shape}`);
    }
    if (shape < 1) {
      // Gamma(a) = Gamma(a + 1) * U^(1/a)
      const u = 1 - this.next();
      return this.gamma(shape + 1) * u ** (1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let z: number;
      let v: number;
      do {
        z = this.normal();
        v = 1 + c * z;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next();
      if (u < 1 - 0.0331 * z ** 4) return d * v;
      if (Math.log(u) < 0.5 * z * z + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  beta(a: number, b: number): number {
    if (a === 1 && b === 1) return this.next();
    const x = this.gamma(a);
    const y = this.gamma(b);
    const sum = x + y;
    // Tiny shapes can underflow both draws; the limit is a coin with P(1) = a/(a+b).
    if (sum === 0) return this.next() < a / (a + b) ? 1 : 0;
    return x / sum;
  }

  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`permutation(n): expected an integer >= 0, got ${n}`);
    }
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  shuffle<T extends { length: number; [i: number]: number }>(values: T): T {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = values[i];
      values[i] = values[j];
      values[j] = tmp;
    }
    return values;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
