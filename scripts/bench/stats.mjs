// Small statistics helpers for the benchmark: percentiles over samples in microseconds.
export function percentile(samples, p) {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export function round(x, digits = 2) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function summary(samplesUs) {
  return { p50_us: round(percentile(samplesUs, 50)), p99_us: round(percentile(samplesUs, 99)), n: samplesUs.length };
}

export const hrUs = () => Number(process.hrtime.bigint()) / 1000;

/** Median of the finite values in `xs` (failed runs carry none); NaN when there are none. */
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}
