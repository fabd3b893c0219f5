/**
 * Internal: the few statistics and number formats bench/compare.ts reports
 * with (medians, nearest-rank percentiles, microseconds and KiB as text).
 *
 * @module
 */

/** A sample's size, extremes, median and 99th percentile. */
export interface Stats {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
}

/** The {@linkcode Stats} of `values` (NaN everywhere when there are none). */
export function stats(values: number[]): Stats {
  if (values.length === 0) return { n: 0, min: NaN, p50: NaN, p99: NaN, max: NaN };
  return {
    n: values.length,
    min: Math.min(...values),
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: Math.max(...values),
  };
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The median; the mean of the two middle values for an even count. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Three significant digits or so: `151`, `59.3`. */
export function fmt(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/** Bytes as KiB with one decimal. */
export function kib(bytes: number): string {
  return (bytes / 1024).toFixed(1);
}
