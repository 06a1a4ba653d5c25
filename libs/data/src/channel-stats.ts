import type { ImageSplit } from './dataset.js';

/** Per-channel mean and standard deviation of pixel / 255. */
export interface ChannelStats {
  mean: number[];
  std: number[];
}

/**
 * Mean and (population) standard deviation of pixel / 255 per channel over
 * all images of a channels-last split. Exact: a histogram of the 256 byte
 * values per channel is summed in double precision. A channel without any
 * variance (or an empty split) gets std 1, so normalising stays finite.
 */
export function channelStats(split: ImageSplit, channels: number): ChannelStats {
  const hist = new Float64Array(256 * channels);
  const { images } = split;
  if (channels === 1) {
    for (let i = 0; i < images.length; i++) hist[images[i]]++;
  } else {
    for (let i = 0; i < images.length; i++) hist[(i % channels) * 256 + images[i]]++;
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let n = 0;
    let sum = 0;
    for (let v = 0; v < 256; v++) {
      n += hist[c * 256 + v];
      sum += hist[c * 256 + v] * (v / 255);
    }
    const m = n > 0 ? sum / n : 0;
    let squares = 0;
    for (let v = 0; v < 256; v++) squares += hist[c * 256 + v] * (v / 255 - m) ** 2;
    const s = n > 0 ? Math.sqrt(squares / n) : 0;
    mean.push(m);
    std.push(s > 0 ? s : 1);
  }
  return { mean, std };
}
