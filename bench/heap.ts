import { DEFAULT_HEAP_GROWING_PERCENT } from '@vicinal/config';

/**
 * The heap setting of the bench's teacher server and of its raw-inference
 * process alike: VICINAL_HEAP_GROWING_PERCENT as a deployed teacher reads it,
 * else the teacher server's default. Both sides get it, so server / raw
 * still measures only what serving adds.
 */
export function benchHeapPercent(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.VICINAL_HEAP_GROWING_PERCENT;
  return raw === undefined || raw === '' ? DEFAULT_HEAP_GROWING_PERCENT : Number(raw);
}
