import ms from 'ms';
import { z } from 'zod';

/**
 * The longest duration a spec may name. Deadlines are absolute dates inside the run, and a
 * duration past the last date JavaScript can hold (about 275,000 years) would make them invalid;
 * ten years is beyond any approval or run a user means and far inside that.
 */
export const MAX_DURATION_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/**
 * Parses "30s", "5m", "1.5h", "2 days" into milliseconds; undefined when it is not a positive duration.
 * The ten-year bound is the schema's, not this function's: runs started before it existed replay with
 * the durations they were given.
 */
export function parseDuration(value: string): number | undefined {
  if (value === '') return undefined; // ms() throws on an empty string rather than answering undefined
  const millis = ms(value as ms.StringValue);
  return typeof millis === 'number' && Number.isFinite(millis) && millis > 0 ? millis : undefined;
}

export const DurationSchema = z
  .string()
  .refine((value) => (parseDuration(value) ?? Infinity) <= MAX_DURATION_MS, {
    message: 'must be a positive duration of at most ten years, such as "30s", "5m", "2h" or "1d"',
  })
  .meta({ description: 'A duration such as "30s", "5m", "2h" or "1d"', example: '5m' });
