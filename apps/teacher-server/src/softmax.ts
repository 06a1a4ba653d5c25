/**
 * softmax(logits / temperature) per row of a row-major [B,K] array,
 * computed stably (the row maximum is subtracted first).
 */
export function softmaxRows(
  logits: Float32Array,
  k: number,
  temperature: number,
): Float32Array {
  const out = new Float32Array(logits.length);
  for (let row = 0; row < logits.length; row += k) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[row + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const e = Math.exp((logits[row + j] - max) / temperature);
      out[row + j] = e;
      sum += e;
    }
    for (let j = 0; j < k; j++) out[row + j] /= sum;
  }
  return out;
}
