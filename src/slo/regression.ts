/** Ordinary least squares on (x, y) points: the one model RTO forecasts use. */

export interface LinearFit {
  intercept: number;
  slope: number;
  /** Points the fit was made from. */
  n: number;
}

/** The line minimising squared error in y; null with fewer than two points or when every x is equal. */
export function leastSquares(points: ReadonlyArray<readonly [number, number]>): LinearFit | null {
  const n = points.length;
  if (n < 2) return null;
  let sumX = 0;
  let sumY = 0;
  for (const [x, y] of points) {
    sumX += x;
    sumY += y;
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let covariance = 0;
  let varianceX = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    varianceX += (x - meanX) ** 2;
  }
  if (varianceX === 0) return null;
  const slope = covariance / varianceX;
  return { slope, intercept: meanY - slope * meanX, n };
}

export function predict(fit: LinearFit, x: number): number {
  return fit.intercept + fit.slope * x;
}

/** (max − min) / mean: how far apart values are, relative to their size; 0 for fewer than two values. */
export function relativeSpread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (mean <= 0) return 0;
  return (Math.max(...values) - Math.min(...values)) / mean;
}
