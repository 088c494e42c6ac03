/** Latency statistics over a bounded sample array. */

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of an ascending array (p in [0, 100]). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summarises the first `count` samples (ms). Sorts a copy. */
export function summarize(samplesMs: Float64Array, count: number): LatencySummary {
  const sorted = samplesMs.slice(0, count).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count,
    meanMs: count > 0 ? sum / count : 0,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    p999Ms: percentile(sorted, 99.9),
    maxMs: count > 0 ? sorted[count - 1]! : 0,
  };
}
