import { z } from 'zod';
import '../openapi/registry'; // extends zod with `.openapi()` before the schemas below use it
import { storableText, text, timestamp } from '../http/validation';
import { runEventTypes } from './history-events';

/** Request and response shapes of the runs API: validation in the router, documentation in openapi.ts. */

export const runStatuses = [
  'running',
  'waiting_approval',
  'paused',
  'held',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
] as const;

/** Version numbers are PostgreSQL integers. */
const MAX_VERSION = 2_147_483_647;

export const RunStatusSchema = z.enum(runStatuses).openapi('RunStatus');

/** Run ids are Temporal workflow ids this API made: `run-` and a uuid or a hash prefix. */
export const RunIdSchema = z
  .string()
  .regex(/^run-[0-9a-f-]{8,64}$/, { message: 'is not a run id' })
  .openapi({ example: 'run-0b0c5a3e-5d0f-4b7e-9a51-4b0f6a1c2d3e' });

export const StepIdSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, { message: 'is not a step id' });

export const RunParamsSchema = z.object({ id: RunIdSchema });
export const StepParamsSchema = z.object({ id: RunIdSchema, stepId: StepIdSchema });

/**
 * Idempotency keys are visible ASCII (what HTTP header values are in practice: Node reads other
 * bytes as Latin-1), so a key's length is the same in characters, bytes and code units.
 */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
export const IdempotencyKeySchema = z
  .string()
  .regex(IDEMPOTENCY_KEY, { message: 'must be 1 to 200 visible ASCII characters (no spaces)' })
  .openapi({
    description:
      'Repeating a request with the same key returns the first answer instead of acting twice. 1 to 200 visible ASCII characters.',
    example: 'deploy-42',
  });

/** Who started a run, as a filter: no control characters (they would make queries ambiguous) and no backslash. */
// eslint-disable-next-line no-control-regex -- matching NUL (and control characters) is the point
const STARTED_BY = /^[^\\\u0000-\u001f\u007f-\u009f]+$/;

export const StartRunBodySchema = z
  .object({
    templateId: z.uuid(),
    version: z.number().int().min(1).max(MAX_VERSION).optional().openapi({ description: "Defaults to the template's latest version" }),
    input: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({ description: "Run inputs, checked against the version's `spec.inputs` JSON Schema" }),
  })
  .strict()
  .openapi('StartRunRequest');
export type StartRunBody = z.output<typeof StartRunBodySchema>;

export const RunLinksSchema = z.object({ self: z.string(), events: z.string(), cancel: z.string() });

export const StartRunResponseSchema = z
  .object({
    runId: z.string(),
    workflowId: z.string(),
    templateId: z.string(),
    version: z.number().int(),
    status: RunStatusSchema,
    links: RunLinksSchema,
  })
  .openapi('StartRunResponse');
export type StartRunResponse = z.output<typeof StartRunResponseSchema>;

/** One status or several, comma-separated (spaces around commas allowed); repeats are harmless. */
const STATUS_LIST = new RegExp(`^(?:${runStatuses.join('|')})(?: *, *(?:${runStatuses.join('|')}))*$`);
const commaSeparatedStatuses = text(STATUS_LIST, 200, `must be one or more of ${runStatuses.join(', ')}, comma-separated`)
  .transform((value) => [...new Set(value.split(',').map((part) => part.trim()))])
  .pipe(z.array(RunStatusSchema).min(1));

export const ListRunsQuerySchema = z
  .object({
    templateId: z.uuid().optional(),
    version: z.coerce.number().int().min(1).max(MAX_VERSION).optional(),
    status: commaSeparatedStatuses.optional().openapi({ description: 'One status or several, comma-separated' }),
    // Temporal's SQL visibility stores backslashes but no quoting of one in a query matches them.
    startedBy: text(STARTED_BY, 200, 'must not be empty or contain control characters or a backslash').optional(),
    startedAfter: timestamp({ offset: true }).optional(),
    startedBefore: timestamp({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: storableText(4096).optional().openapi({ description: 'The nextCursor of the previous page' }),
  })
  .strict();
export type ListRunsQuery = z.output<typeof ListRunsQuerySchema>;

export const RunSummarySchema = z
  .object({
    runId: z.string(),
    templateId: z.string().nullable(),
    version: z.number().int().nullable(),
    status: RunStatusSchema,
    startedBy: z.string().nullable(),
    startedAt: z.string(),
    closedAt: z.string().nullable(),
    summary: z.string().nullable(),
  })
  .openapi('RunSummary');
export type RunSummary = z.output<typeof RunSummarySchema>;

export const RunListSchema = z
  .object({ items: z.array(RunSummarySchema), nextCursor: z.string().nullable() })
  .openapi('RunList');

export const StepErrorSchema = z.object({ message: z.string(), type: z.string().optional() }).openapi('StepError');

export const StepViewSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    status: z.enum(['pending', 'running', 'waiting_approval', 'succeeded', 'failed', 'skipped', 'cancelled']),
    attempts: z.number().int(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    output: z.unknown().optional(),
    error: StepErrorSchema.optional(),
    lastError: StepErrorSchema.optional().openapi({ description: 'Failure of the previous attempt of a running step' }),
    skipReason: z.enum(['condition', 'upstream', 'operator', 'group']).optional(),
    approvals: z
      .array(z.object({ decision: z.enum(['approved', 'rejected']), by: z.string(), at: z.string(), comment: z.string().optional() }))
      .optional(),
    approvers: z
      .object({
        users: z.array(z.string()),
        roles: z.array(z.string()),
        required: z.number().int(),
        allowSelfApproval: z.boolean(),
        requireRejectReason: z.boolean(),
      })
      .optional()
      .openapi({ description: 'For an approval step once it waits: who may decide, as its `with` rendered then (approver lists may be expressions)' }),
    deadline: z.string().optional(),
    childRunId: z.string().optional().openapi({ description: 'For a `template` step once its child run started: the child run (GET /runs/{childRunId})' }),
    forEach: z
      .object({ total: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), skipped: z.number().int() })
      .optional()
      .openapi({ description: 'For a `forEach` step once its list is known: its items, and how many succeeded, failed or were skipped by `when`' }),
  })
  .openapi('RunStep');

export const RunDetailSchema = z
  .object({
    runId: z.string(),
    status: RunStatusSchema,
    templateId: z.string().nullable(),
    version: z.number().int().nullable(),
    startedBy: z.string().nullable(),
    startedAt: z.string(),
    closedAt: z.string().nullable(),
    paused: z.boolean(),
    held: z.array(z.string()),
    error: StepErrorSchema.optional().openapi({ description: "Why the run failed; for a terminated run, the termination's reason (type `Terminated`)" }),
    note: z
      .string()
      .optional()
      .openapi({ description: 'Present when the run could not report its steps (no worker answered, or its workflow task keeps failing): `steps` is then empty' }),
    steps: z.array(StepViewSchema),
    parent: z
      .object({ runId: z.string(), stepId: z.string() })
      .optional()
      .openapi({ description: 'For a run a `template` step started: the run and step that started it' }),
    children: z
      .array(z.object({ runId: z.string(), stepId: z.string() }))
      .openapi({ description: 'Runs this run started through its `template` steps' }),
  })
  .openapi('Run');

export const RunEventSchema = z
  .object({
    id: z.string().openapi({ description: 'Stable event id; send it back as `after` or `Last-Event-ID` to resume' }),
    type: z.enum(runEventTypes),
    at: z.string(),
    stepId: z.string().optional(),
    stepType: z.string().optional(),
    groupId: z.string().optional(),
    reason: z.enum(['condition', 'upstream', 'group', 'operator']).optional().openapi({ description: 'step.skipped: why the step was skipped' }),
    outcome: z
      .enum(['approved', 'rejected', 'failed'])
      .optional()
      .openapi({ description: 'approval.settled: how the decisions settled it; approval.timed_out: what its `onTimeout` made of it' }),
    attempt: z.number().int().optional(),
    output: z.unknown().optional(),
    error: StepErrorSchema.optional(),
    actor: z.string().optional(),
    comment: z.string().optional(),
    status: RunStatusSchema.optional(),
    state: z.unknown().optional(),
    nextRunId: z.string().optional(),
  })
  .openapi('RunEvent');

export const EventsQuerySchema = z
  .object({
    after: storableText(200).optional().openapi({ description: 'The nextCursor of the previous page' }),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

export const EventsPageSchema = z
  .object({
    events: z.array(RunEventSchema),
    nextCursor: z.string().nullable().openapi({ description: 'Pass as `after`; null when nothing has happened yet' }),
    finished: z.boolean().openapi({ description: 'The run has finished and every event has been returned' }),
  })
  .openapi('RunEventsPage');

export const ApproveBodySchema = z.object({ comment: storableText(2000).optional() }).strict().openapi('ApproveRequest');
export const RejectBodySchema = z.object({ reason: storableText(2000).optional() }).strict().openapi('RejectRequest');
export const ControlBodySchema = z.object({ reason: storableText(2000).optional() }).strict().openapi('RunControlRequest');
