import type { RunMetric, Spread } from './aggregate.js';

/** How each per-run figure is printed: scale (100 for %) and decimals. */
export const METRIC_FORMAT: Record<
  RunMetric,
  { title: string; scale: number; digits: number; signed: boolean }
> = {
  accuracy: { title: 'accuracy (%)', scale: 100, digits: 2, signed: false },
  ece: { title: 'ECE', scale: 1, digits: 4, signed: false },
  mce: { title: 'MCE', scale: 1, digits: 4, signed: false },
  overconfidence: { title: 'conf − acc', scale: 1, digits: 4, signed: true },
  nll: { title: 'NLL', scale: 1, digits: 4, signed: false },
  brier: { title: 'Brier', scale: 1, digits: 4, signed: false },
  adaptiveEce: { title: 'adaptive ECE', scale: 1, digits: 4, signed: false },
  postHocTemperature: { title: 'post-hoc T', scale: 1, digits: 3, signed: false },
  eceAfterScaling: { title: 'ECE after T-scaling', scale: 1, digits: 4, signed: false },
  samplesPerSecond: { title: 'samples/s', scale: 1, digits: 0, signed: false },
};

/** x with `digits` decimals, a leading + when `signed` and x >= 0. */
export function fixed(x: number, digits: number, signed = false): string {
  let text = x.toFixed(digits);
  // a value that rounds to zero prints without a minus sign
  if (text.startsWith('-') && Number(text) === 0) text = text.slice(1);
  return signed && !text.startsWith('-') ? `+${text}` : text;
}

/** "mean ± std" of a metric as the tables print it; "mean" alone when n = 1. */
export function metricText(metric: RunMetric, spread: Spread): string {
  const f = METRIC_FORMAT[metric];
  return spreadText(spread, f.scale, f.digits, f.signed);
}

/** "mean ± std" scaled; the mean alone when the std is not known (n = 1). */
export function spreadText(
  spread: Spread,
  scale = 1,
  digits = 4,
  signed = false,
): string {
  const mean = fixed(spread.mean * scale, digits, signed);
  return spread.std === null ? mean : `${mean} ± ${fixed(spread.std * scale, digits)}`;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
