import fc from 'fast-check';
import { GROWTH, percentilesOf, type Histogram } from '../../../apps/api/src/insights/histogram';

/** What PostgreSQL's percentile_cont answers over the exact values. */
function percentileCont(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = fraction * (sorted.length - 1);
  const lower = Math.floor(rank);
  return lower === rank ? sorted[lower]! : sorted[lower]! + (rank - lower) * (sorted[lower + 1]! - sorted[lower]!);
}

/** The histogram the rollups hold of `values` (the SQL of histogram.ts, bucket for bucket). */
function histogramOf(values: number[]): Histogram {
  const histogram: Histogram = new Map();
  for (const value of values) {
    const bucket = Math.floor(Math.log(value + 1) / Math.log(GROWTH));
    histogram.set(bucket, (histogram.get(bucket) ?? 0) + 1);
  }
  return histogram;
}

const FRACTIONS = [0.5, 0.95, 0.99];

test('percentiles from a histogram are within 2% of the exact ones (plus a millisecond for tiny values)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 100_000_000 }), { minLength: 1, maxLength: 400 }), (values) => {
      const estimated = percentilesOf(histogramOf(values), FRACTIONS)!;
      FRACTIONS.forEach((fraction, i) => {
        const exact = percentileCont(values, fraction);
        expect(Math.abs(estimated[i]! - exact)).toBeLessThanOrEqual(exact * (GROWTH - 1) + 1);
      });
    }),
  );
});

test('skewed durations over many runs: each percentile within 1% of the exact one', () => {
  // A log-normal-ish spread, as run durations are: 2 s to 2 min.
  let seed = 7;
  const next = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const values = Array.from({ length: 50_000 }, () => Math.round(2000 * Math.exp(next() * 4)));
  const estimated = percentilesOf(histogramOf(values), FRACTIONS)!;
  FRACTIONS.forEach((fraction, i) => {
    const exact = percentileCont(values, fraction);
    expect(Math.abs(estimated[i]! - exact) / exact).toBeLessThan(0.01);
  });
});

test('an empty histogram has no percentiles; one value is every percentile', () => {
  expect(percentilesOf(new Map(), FRACTIONS)).toBeNull();
  const [p50, p95, p99] = percentilesOf(histogramOf([1234]), FRACTIONS)!;
  expect(p50).toBe(p99);
  expect(p95).toBe(p99);
  expect(Math.abs(p50! - 1234) / 1234).toBeLessThan(0.01);
});
