/**
 * Index of the equal-width bin of [0, 1] that holds `value`: bin b covers
 * [b/n, (b+1)/n) and the last bin is closed, [(n-1)/n, 1]. The boundaries are
 * compared as the quotients b/n, so a value equal to a boundary always opens
 * the upper bin. Values below 0 or above 1 go to the first or last bin.
 */
export function binIndex(value: number, numBins: number): number {
  if (!(value > 0)) return 0;
  if (value >= 1) return numBins - 1;
  let b = Math.floor(value * numBins);
  if (b > 0 && value < b / numBins) b -= 1;
  else if (b + 1 < numBins && value >= (b + 1) / numBins) b += 1;
  return Math.min(b, numBins - 1);
}

/** Checks a bin count (an integer >= 1) and names the option when it is not. */
export function checkNumBins(numBins: number, option = 'numBins'): void {
  if (!Number.isInteger(numBins) || numBins < 1) {
    throw new RangeError(`${option}: expected an integer >= 1, got ${numBins}`);
  }
}
