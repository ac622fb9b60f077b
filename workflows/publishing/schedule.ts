import { z } from 'zod';

/**
 * A DolphinScheduler schedule as a publish request gives it: a Quartz cron expression (with
 * seconds, as DolphinScheduler reads it), the window it applies in and its time zone.
 */

/** Quartz cron: 6 or 7 space-separated fields (seconds first, optional year). Checked for its shape; the server checks the rest. */
const QUARTZ_CRON = /^\S+( \S+){5,6}$/;
const DS_DATE_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

export const PublishScheduleSchema = z
  .object({
    crontab: z.string().max(200).regex(QUARTZ_CRON, { message: 'must be a Quartz cron expression with seconds, e.g. "0 0 2 * * ? *"' }),
    startTime: z.string().regex(DS_DATE_TIME, { message: 'must be "yyyy-MM-dd HH:mm:ss"' }),
    endTime: z.string().regex(DS_DATE_TIME, { message: 'must be "yyyy-MM-dd HH:mm:ss"' }),
    timezoneId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_+\-/]+$/, { message: 'must be an IANA time zone, e.g. "UTC"' }).default('UTC'),
    failureStrategy: z.enum(['END', 'CONTINUE']).default('END'),
    warningType: z.enum(['NONE', 'SUCCESS', 'FAILURE', 'ALL']).default('NONE'),
  })
  .strict();

export type PublishSchedule = z.output<typeof PublishScheduleSchema>;

/**
 * What the schema cannot say (so the API answers it as a 422, not a 400): real dates, in order.
 * Each problem names its field.
 */
export function scheduleProblems(schedule: PublishSchedule): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = [];
  for (const field of ['startTime', 'endTime'] as const) {
    if (!isRealDateTime(schedule[field])) problems.push({ path: ['schedule', field], message: 'must be a real date and time' });
  }
  const zoneProblem = timeZoneProblem(schedule.timezoneId);
  if (zoneProblem) problems.push({ path: ['schedule', 'timezoneId'], message: zoneProblem });
  if (problems.length === 0 && schedule.startTime >= schedule.endTime) {
    problems.push({ path: ['schedule', 'endTime'], message: 'must come after startTime' });
  }
  return problems;
}

/**
 * DolphinScheduler hands the zone to Quartz, which reads a name it does not know as GMT without a
 * word: a misspelt zone would fire the schedule at the wrong hour. Names are case-sensitive there,
 * while ICU reads them case-insensitively, so only names exactly as ICU lists them pass (plus
 * UTC and GMT); an alias or a wrongly cased name is refused with the name to use instead.
 */
function timeZoneProblem(zone: string): string | undefined {
  if (UNIVERSAL_ZONES.has(zone) || canonicalZones().has(zone)) return undefined;
  let resolved: string | undefined;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    resolved = undefined;
  }
  const suggestion = resolved && canonicalZones().has(resolved) ? `; use ${JSON.stringify(resolved)}` : ' (e.g. "UTC", "Asia/Shanghai")';
  return `${JSON.stringify(zone)} is not an IANA time zone as the IANA database spells it${suggestion}`;
}

const UNIVERSAL_ZONES: ReadonlySet<string> = new Set(['UTC', 'GMT', 'Etc/UTC', 'Etc/GMT']);
let canonical: ReadonlySet<string> | undefined;
const canonicalZones = () => (canonical ??= new Set(Intl.supportedValuesOf('timeZone')));

function isRealDateTime(value: string): boolean {
  const [date, time] = value.split(' ') as [string, string];
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const [hour, minute, second] = time.split(':').map(Number) as [number, number, number];
  const parsed = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return (
    year >= 1970 &&
    parsed.getUTCFullYear() === year &&
    parsed.getUTCMonth() === month - 1 &&
    parsed.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60
  );
}
