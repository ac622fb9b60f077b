import { z } from 'zod';

/**
 * A step's own notification settings (`notify`): which of its moments to tell, on which of the
 * tenant's channels (by name), and whom to mention there. They add to what the tenant's and the
 * template's subscriptions route; they never take anything away (an approval's approvers are told
 * wherever a channel reaches them, with or without them).
 */

/** Whitespace as String.prototype.trim sees it. */
const TRIMMED_SPACE = '\\t-\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';

/**
 * Text PostgreSQL can store (no NUL) with at least one character that is not whitespace. Published
 * as it is in the OpenAPI document, so it stays a pattern Python's `re` and Rust's `regex` read the
 * same way (see apps/api/src/http/validation.ts, which uses it for every non-blank field).
 */
export const NOT_BLANK_PATTERN = new RegExp(`^[${TRIMMED_SPACE}]*[^\\u0000${TRIMMED_SPACE}][^\\u0000]*$`);

export const CHANNEL_NAME_MAX_CHARS = 100;

/** A notification channel's name: the rule channels are created with, and steps name them by. */
export const ChannelNameSchema = z
  .string()
  .max(CHANNEL_NAME_MAX_CHARS)
  .regex(NOT_BLANK_PATTERN, { message: `must hold a non-blank name of at most ${CHANNEL_NAME_MAX_CHARS} characters` });

/** The most channels one step names, people it mentions, and roles whose members it mentions. */
export const MAX_NOTIFY_CHANNELS = 5;
export const MAX_NOTIFY_USERS = 10;
export const MAX_NOTIFY_ROLES = 5;

/**
 * The moments of a step that can be told: `failed` and `succeeded` (of any step, as the notice
 * kinds `step_failed` and `step_succeeded`, sent only for steps that ask for them), `held` (a step
 * with `onError: pause` that failed: `run_held`), and an approval step's `approval_requested`,
 * `approval_reminder` and `approval_settled`.
 */
export const STEP_NOTIFY_EVENTS = ['failed', 'succeeded', 'held', 'approval_requested', 'approval_reminder', 'approval_settled'] as const;
export type StepNotifyEvent = (typeof STEP_NOTIFY_EVENTS)[number];

/** Events only approval steps have. */
export const APPROVAL_NOTIFY_EVENTS: readonly StepNotifyEvent[] = ['approval_requested', 'approval_reminder', 'approval_settled'];

const Subject = z.string().min(1).max(200);
const Role = z.string().min(1).max(100);

export const StepNotifySchema = z
  .object({
    on: z
      .array(z.enum(STEP_NOTIFY_EVENTS))
      .min(1)
      .max(STEP_NOTIFY_EVENTS.length)
      .meta({ description: 'The moments of this step to tell: failed, succeeded, held (onError: pause), and for approval steps approval_requested, approval_reminder, approval_settled' }),
    channels: z
      .array(ChannelNameSchema)
      .min(1)
      .max(MAX_NOTIFY_CHANNELS)
      .meta({ description: "Names of the tenant's channels these notices go to, besides the subscribed ones; each must exist when the version is created" }),
    mention: z
      .object({
        users: z.array(Subject).max(MAX_NOTIFY_USERS).default([]),
        roles: z.array(Role).max(MAX_NOTIFY_ROLES).default([]),
      })
      .strict()
      .optional()
      .meta({ description: 'People to mention (IM user ids from the directory) or mail, besides the approvers or the run’s owner: users by subject, and the members of roles' }),
  })
  .strict()
  .meta({ description: "This step's own notifications, added to what the subscriptions route" });

export type StepNotify = z.output<typeof StepNotifySchema>;
