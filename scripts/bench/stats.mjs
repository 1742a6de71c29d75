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
