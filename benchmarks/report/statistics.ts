// Statistics per metric, and the test that says whether two sets of measurements differ by
// more than their noise.

export interface Summary {
  n: number;
  median: number;
  mean: number;
  min: number;
  max: number;
  stdev: number;
  /** 95% confidence interval of the mean (Student's t); equal to [mean, mean] when n < 2. */
  ci95: [number, number];
}

// Two-sided 95% critical values of Student's t for 1..30 degrees of freedom.
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function tCritical95(df: number): number {
  if (df < 1) return Infinity;
  if (df <= 30) return T95[Math.floor(df) - 1]!;
  return 1.96 + 2.4 / df; // close to the table beyond 30, tending to the normal quantile
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { n: 0, median: NaN, mean: NaN, min: NaN, max: NaN, stdev: NaN, ci95: [NaN, NaN] };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : 0;
  const stdev = Math.sqrt(variance);
  const half = n > 1 ? tCritical95(n - 1) * stdev / Math.sqrt(n) : 0;
  return { n, median: median(values), mean, min: Math.min(...values), max: Math.max(...values), stdev, ci95: [mean - half, mean + half] };
}

export interface Difference {
  /** b.mean - a.mean */
  delta: number;
  /** delta / a.mean */
  relative: number;
  /** 95% CI of delta (Welch). */
  ci95: [number, number];
  /** The CI excludes zero and the change is at least `minRelative` of a. */
  beyondNoise: boolean;
}

/** Welch's interval for the difference of two means; needs n >= 2 on both sides to say "beyond noise". */
export function difference(a: readonly number[], b: readonly number[], minRelative = 0.02): Difference {
  const sa = summarize(a), sb = summarize(b);
  const delta = sb.mean - sa.mean;
  const relative = sa.mean !== 0 ? delta / sa.mean : NaN;
  if (sa.n < 2 || sb.n < 2) return { delta, relative, ci95: [NaN, NaN], beyondNoise: false };
  const va = sa.stdev ** 2 / sa.n, vb = sb.stdev ** 2 / sb.n;
  const se = Math.sqrt(va + vb);
  const df = se === 0 ? Infinity : (va + vb) ** 2 / ((va * va) / (sa.n - 1) + (vb * vb) / (sb.n - 1));
  const half = (se === 0 ? 0 : tCritical95(df)) * se;
  const ci95: [number, number] = [delta - half, delta + half];
  const beyondNoise = (ci95[0] > 0 || ci95[1] < 0) && Math.abs(relative) >= minRelative;
  return { delta, relative, ci95, beyondNoise };
}
