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
  .strict()
  .refine((s) => s.startTime < s.endTime, { message: 'startTime must come before endTime', path: ['endTime'] });

export type PublishSchedule = z.output<typeof PublishScheduleSchema>;
