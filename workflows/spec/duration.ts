import ms from 'ms';
import { z } from 'zod';

/** Parses "30s", "5m", "1.5h", "2 days" into milliseconds; undefined when it is not a positive duration. */
export function parseDuration(value: string): number | undefined {
  if (value === '') return undefined; // ms() throws on an empty string rather than answering undefined
  const millis = ms(value as ms.StringValue);
  return typeof millis === 'number' && Number.isFinite(millis) && millis > 0 ? millis : undefined;
}

export const DurationSchema = z
  .string()
  .refine((value) => parseDuration(value) !== undefined, {
    message: 'must be a positive duration such as "30s", "5m", "2h" or "1d"',
  })
  .meta({ description: 'A duration such as "30s", "5m", "2h" or "1d"', example: '5m' });
