import { z } from 'zod';
import '../openapi/registry'; // extends zod with `.openapi()` before the schemas below use it
import { DurationSchema, parseDuration } from '../../../../workflows/spec/duration';
import type { InvalidParam } from '../http/problem';
import { storableText } from '../http/validation';

/** Request and response shapes of a template's schedules: validation in the router, documentation in openapi.ts. */

const MAX_INT4 = 2_147_483_647;

/** Named macros Temporal's cron parser reads; `@every` is not offered (it could fire every second). */
const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'] as const;

/**
 * Five fields (minute, hour, day of month, month, day of week) or a named macro: the finest a
 * schedule fires is once a minute. The fields' contents are Temporal's to parse (ranges, steps,
 * names like MON or JAN); what it refuses is a 422 with its own message. The time zone is a
 * field of its own, so `CRON_TZ=` and `TZ=` prefixes are refused.
 */
const CRON = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*,/?#-]+( +[0-9A-Za-z*,/?#-]+){4})$/;

/**
 * Cron and time zone are text in the body's shape (a 400 when they are not); what they say is
 * checked by `clockProblems` and by Temporal, both 422s naming the field.
 */
export const CronExpression = storableText(200).meta({
  description: `Five cron fields (minute hour day-of-month month day-of-week, read in the schedule's time zone), or one of ${CRON_MACROS.join(', ')}`,
  example: '0 9 * * MON-FRI',
});

export const TimeZone = storableText(64).meta({
  description: 'An IANA time zone as the IANA database spells it, which the cron fields are read in (daylight saving included)',
  example: 'Europe/Berlin',
});

/** What is wrong with a schedule's cron expressions and time zone, as invalid parameters (empty when nothing is). */
export function clockProblems(body: { cron?: string[]; timeZone?: string }): InvalidParam[] {
  const found: InvalidParam[] = [];
  (body.cron ?? []).forEach((cron, index) => {
    const trimmed = cron.trim();
    if (/^(CRON_)?TZ=/i.test(trimmed)) {
      found.push({ path: ['cron', index], message: 'name the time zone in `timeZone`, not in the cron expression' });
    } else if (!CRON.test(trimmed)) {
      found.push({
        path: ['cron', index],
        message: `${JSON.stringify(cron)} is not five cron fields (minute hour day-of-month month day-of-week, e.g. "0 9 * * MON-FRI") or one of ${CRON_MACROS.join(', ')}`,
      });
    }
  });
  if (body.timeZone !== undefined) {
    const resolved = resolvedTimeZone(body.timeZone);
    if (resolved === undefined) {
      found.push({ path: ['timeZone'], message: `${JSON.stringify(body.timeZone)} is not an IANA time zone (e.g. "Europe/Berlin", "UTC")` });
    } else if (resolved !== body.timeZone && resolved.toLowerCase() === body.timeZone.toLowerCase()) {
      // Node's ICU reads names case-insensitively; Temporal's Go runtime does not.
      found.push({ path: ['timeZone'], message: `time zone names are case-sensitive: did you mean "${resolved}"?` });
    }
  }
  return found;
}

function resolvedTimeZone(zone: string): string | undefined {
  if (!/^[A-Za-z0-9_+\-/]{1,64}$/.test(zone)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

export const OVERLAP_POLICIES = ['skip', 'bufferOne', 'bufferAll', 'cancelOther', 'terminateOther', 'allowAll'] as const;
export const OverlapPolicy = z.enum(OVERLAP_POLICIES).meta({
  description:
    'What a firing does while the previous run of the schedule still runs: `skip` it, buffer one or all to start after, cancel or terminate the running one, or `allowAll` to run side by side',
});

export const ScheduleVersion = z
  .union([z.literal('latest'), z.int().min(1).max(MAX_INT4)])
  .meta({ description: 'A version number to pin, or `latest`: the template’s latest version when each firing happens' });

/** At most an hour: jitter spreads firings of many schedules, it does not move them by hours. */
const Jitter = DurationSchema.refine((value) => (parseDuration(value) ?? 0) <= 3_600_000, { message: 'must be at most 1h' }).meta({
  description: 'Each firing is delayed by a random time up to this (at most 1h), to spread load',
  example: '30s',
});
/** Temporal's scheduler needs at least ten seconds. */
const CatchupWindow = DurationSchema.refine((value) => (parseDuration(value) ?? 0) >= 10_000, { message: 'must be at least 10s' }).meta({
  description: 'How late a firing missed while Temporal was unavailable may still start (default 1m, at least 10s)',
  example: '1m',
});

const Description = storableText(500).meta({ description: 'What the schedule is for' });
const Note = storableText(500).meta({ description: 'Why it was paused or resumed; shown with the schedule and in the Temporal Web UI' });
const Cron = z
  .union([CronExpression, z.array(CronExpression).min(1).max(10)])
  .transform((cron) => (Array.isArray(cron) ? cron : [cron]))
  .meta({ description: 'One cron expression, or up to ten: the schedule fires at every time any of them names' });

export const CreateScheduleBody = z
  .object({
    description: Description.default(''),
    cron: Cron,
    timeZone: TimeZone.default('UTC'),
    version: ScheduleVersion.default('latest'),
    input: z.record(z.string(), z.unknown()).default({}).meta({ description: 'The run input of every firing, checked against the version’s `inputs` schema' }),
    overlap: OverlapPolicy.default('skip'),
    jitter: Jitter.optional(),
    catchupWindow: CatchupWindow.default('1m'),
    paused: z.boolean().default(false).meta({ description: 'Create it paused' }),
    note: Note.optional(),
  })
  .strict()
  .openapi('CreateSchedule');
export type CreateScheduleBody = z.output<typeof CreateScheduleBody>;

export const UpdateScheduleBody = z
  .object({
    description: Description.optional(),
    cron: Cron.optional(),
    timeZone: TimeZone.optional(),
    version: ScheduleVersion.optional(),
    input: z.record(z.string(), z.unknown()).optional(),
    overlap: OverlapPolicy.optional(),
    jitter: Jitter.nullable().optional().meta({ description: 'A duration, or null for none' }),
    catchupWindow: CatchupWindow.optional(),
  })
  .strict()
  .openapi('UpdateSchedule');
export type UpdateScheduleBody = z.output<typeof UpdateScheduleBody>;

export const PauseBody = z.object({ note: Note.optional() }).strict().openapi('SchedulePause');

export const TriggerBody = z
  .object({ overlap: OverlapPolicy.optional().meta({ description: 'For this firing only; the schedule’s policy by default' }) })
  .strict()
  .openapi('ScheduleTrigger');

/** Backfills reach at most a year back, and span at most 31 days: Temporal's scheduler buffers at most 1,000 firings anyway. */
const MAX_BACKFILL_SPAN_MS = 31 * 24 * 3_600_000;
const MAX_BACKFILL_AGE_MS = 366 * 24 * 3_600_000;

export const BackfillBody = z
  .object({
    start: z.iso.datetime({ offset: true }).meta({ description: 'Start of the past range (inclusive); at most 366 days ago' }),
    end: z.iso.datetime({ offset: true }).meta({ description: 'End of the past range (exclusive), not in the future; at most 31 days after start' }),
    overlap: OverlapPolicy.default('allowAll').meta({ description: 'For the backfilled firings; `allowAll` by default' }),
  })
  .strict()
  .openapi('ScheduleBackfill');

/** What is wrong with a backfill's range (empty when nothing is): checked against the clock, so a 422 rather than the body's shape. */
export function backfillProblems(range: { start: string; end: string }, now = Date.now()): InvalidParam[] {
  const start = Date.parse(range.start);
  const end = Date.parse(range.end);
  const found: InvalidParam[] = [];
  if (!(start < end)) found.push({ path: ['end'], message: 'must be after start' });
  if (end > now + 1_000) found.push({ path: ['end'], message: 'must not be in the future: a backfill replays the past' });
  if (end - start > MAX_BACKFILL_SPAN_MS) found.push({ path: ['end'], message: 'a backfill spans at most 31 days' });
  if (now - start > MAX_BACKFILL_AGE_MS) found.push({ path: ['start'], message: 'a backfill reaches at most 366 days back' });
  return found;
}

// Responses (documentation only).

const Timestamp = z.iso.datetime();

export const ScheduleResource = z
  .object({
    id: z.string().meta({ example: 'schedule-3f6c2a9e-0d1b-4c1e-9a8f-2b7d5e4c3a10' }),
    templateId: z.string(),
    description: z.string(),
    cron: z.array(z.string()),
    timeZone: z.string(),
    version: ScheduleVersion,
    input: z.record(z.string(), z.unknown()),
    overlap: OverlapPolicy,
    jitter: z.string().nullable(),
    catchupWindow: z.string(),
    paused: z.boolean(),
    note: z.string(),
    createdBy: z.string(),
    createdAt: Timestamp,
    updatedBy: z.string(),
    updatedAt: Timestamp,
    nextRunTimes: z.array(Timestamp).meta({ description: 'The next firings (up to 5; none while paused)' }),
    recentRuns: z
      .array(z.object({ runId: z.string().nullable(), scheduledAt: Timestamp, startedAt: Timestamp }))
      .meta({ description: 'The latest firings (up to 10), oldest first; `runId` names the run each started' }),
    runningRuns: z.array(z.string()).meta({ description: 'Runs of this schedule still running' }),
    firings: z.number().int().meta({ description: 'Firings so far, triggers and backfills included' }),
  })
  .openapi('Schedule');
export type ScheduleResource = z.output<typeof ScheduleResource>;

export const ScheduleList = z.object({ items: z.array(ScheduleResource) }).openapi('ScheduleList');

export const ScheduleAccepted = z
  .object({ scheduleId: z.string(), accepted: z.literal(true), detail: z.string() })
  .openapi('ScheduleAccepted');
