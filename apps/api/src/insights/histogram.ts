import { Prisma } from '@prisma/client';

/**
 * Durations kept as log-scale histograms, so that percentiles over any number of runs cost the same:
 * bucket b holds the milliseconds in [GROWTH^b − 1, GROWTH^(b+1) − 1), each bucket 2% wider than the
 * one before. A percentile read from them is within about 1% of the exact one (the value is placed
 * inside its bucket by its rank), while counts stay exact. Stored as JSON objects, bucket → count.
 */
export const GROWTH = 1.02;

export type Histogram = Map<number, number>;

/** SQL: the histogram (a JSON object) of the non-null values of `column` over the rows of the current group. */
export function histogramOf(column: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(
    SELECT coalesce(jsonb_object_agg(bucket, count), '{}'::jsonb)
    FROM (
      SELECT floor(ln(value + 1) / ln(${Prisma.raw(String(GROWTH))}))::int AS bucket, count(*) AS count
      FROM unnest(array_agg(${column})) AS value
      WHERE value IS NOT NULL
      GROUP BY 1
    ) AS buckets)`;
}

/** SQL: the sum of the histograms in `column` over the rows of the current group. */
export function mergedHistograms(column: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(
    SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
    FROM (
      SELECT key, sum(value::bigint) AS total
      FROM unnest(array_agg(${column})) AS histogram, jsonb_each_text(histogram)
      GROUP BY key
    ) AS merged)`;
}

export function histogramFrom(json: Record<string, number | string>): Histogram {
  const histogram: Histogram = new Map();
  for (const [bucket, count] of Object.entries(json)) histogram.set(Number(bucket), Number(count));
  return histogram;
}

/**
 * The `fractions` percentiles (0.5 for the median) as percentile_cont defines them, between the two
 * values of rank fraction × (n − 1), each value placed in its bucket by its rank there; null when
 * the histogram is empty.
 */
export function percentilesOf(histogram: Histogram, fractions: readonly number[]): number[] | null {
  const buckets = [...histogram.entries()].filter(([, count]) => count > 0).sort(([a], [b]) => a - b);
  const total = buckets.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return null;
  /** The estimated value of rank `rank` (0-based) among all. */
  const valueOfRank = (rank: number): number => {
    let before = 0;
    for (const [bucket, count] of buckets) {
      if (rank < before + count) {
        const low = GROWTH ** bucket - 1;
        const high = GROWTH ** (bucket + 1) - 1;
        return low + ((rank - before + 0.5) / count) * (high - low);
      }
      before += count;
    }
    const [lastBucket] = buckets.at(-1)!;
    return GROWTH ** (lastBucket + 1) - 1;
  };
  return fractions.map((fraction) => {
    const rank = fraction * (total - 1);
    const lower = Math.floor(rank);
    const low = valueOfRank(lower);
    return lower === rank ? low : low + (rank - lower) * (valueOfRank(lower + 1) - low);
  });
}
