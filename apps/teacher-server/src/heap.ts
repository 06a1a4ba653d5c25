import { setFlagsFromString } from 'node:v8';
import { DEFAULT_HEAP_GROWING_PERCENT } from '@vicinal/config';

/**
 * Lets V8's old generation grow by `percent` of the live heap between full
 * (mark-compact) collections, in this process and in the threads it starts
 * afterwards (so call it before the inference thread starts). 0 leaves the
 * choice to V8. A teacher server's heap holds TensorFlow.js, gRPC and the
 * model's bookkeeping; V8's choice for it (about 10 %) ran a full collection
 * about once a second under load, on the teacher's one core.
 */
export function tuneServingHeap(percent: number = DEFAULT_HEAP_GROWING_PERCENT): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) {
    throw new RangeError(
      `heap growing percent: expected an integer in 0..1000, got ${percent}`,
    );
  }
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
