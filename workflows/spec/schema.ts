import { z } from 'zod';
import { DurationSchema } from './duration';
import { StepNotifySchema } from './notify';
import { stepTypeNames } from './step-types';

/**
 * The workflow spec: one schema for the API (validation, OpenAPI) and the workflow (interpretation).
 * Structural checks live here; checks across steps (DAG, references, expressions, per-type `with`)
 * live in `validate.ts`.
 */

export const MAX_SPEC_BYTES = 1024 * 1024;
export const MAX_STEPS = 5000;

export const IdSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, {
    message: 'must start with a letter and hold only letters, digits, "_" or "-" (at most 64)',
  });

export const RetrySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(1000).default(3),
    initialInterval: DurationSchema.default('1s'),
    backoffCoefficient: z.number().min(1).max(100).default(2),
    maxInterval: DurationSchema.optional(),
    /** Error types (e.g. "HttpClientError") that fail the step at once. */
    nonRetryableErrors: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const OnErrorSchema = z.enum(['fail', 'continue', 'pause']);

/** The most items one `forEach` runs; a list expression that yields more fails the step. */
export const MAX_FOR_EACH_ITEMS = 10_000;
/** The most items of one `forEach` in flight at once (activities of one batch workflow). */
export const MAX_FOR_EACH_CONCURRENCY = 100;
export const DEFAULT_FOR_EACH_CONCURRENCY = 10;

/**
 * Runs the step once per item of a list: `items` is a bare expression (like `when`) yielding an
 * array; each run sees the item as `item` and its position as `index` in its `with` and `when`.
 */
export const ForEachSchema = z
  .object({
    items: z.string().min(1),
    concurrency: z.number().int().min(1).max(MAX_FOR_EACH_CONCURRENCY).default(DEFAULT_FOR_EACH_CONCURRENCY),
  })
  .strict();

export const StepSchema = z
  .object({
    id: IdSchema,
    type: z.enum(stepTypeNames),
    name: z.string().max(200).optional(),
    with: z.record(z.string(), z.unknown()).default({}),
    dependsOn: z.array(IdSchema).default([]),
    /** A condition in the spec's expression language; a false result skips the step. */
    when: z.string().min(1).optional(),
    retry: RetrySchema.optional(),
    timeout: DurationSchema.optional(),
    onError: OnErrorSchema.default('fail'),
    forEach: ForEachSchema.optional(),
    /** The step's own notifications (notify.ts): added to what the tenant's subscriptions route. */
    notify: StepNotifySchema.optional(),
  })
  .strict();

export const JoinPolicySchema = z.enum(['all', 'any', 'failFast']);

export const GroupSchema = z
  .object({
    id: IdSchema,
    steps: z.array(IdSchema).min(1),
    join: JoinPolicySchema.default('all'),
    timeout: DurationSchema.optional(),
  })
  .strict();

/** A JSON Schema for run inputs; compiled and checked by the API, never by the workflow. */
export const InputsSchema = z.record(z.string(), z.unknown());

export const SpecSchema = z
  .object({
    description: z.string().max(2000).optional(),
    inputs: InputsSchema.default({ type: 'object' }),
    timeout: DurationSchema.optional(),
    steps: z.array(StepSchema).min(1).max(MAX_STEPS),
    groups: z.array(GroupSchema).default([]),
  })
  .strict();

/** A spec as written by a user (defaults not yet applied). */
export type SpecInput = z.input<typeof SpecSchema>;
/** A spec after parsing, with every default applied: what versions store and the workflow runs. */
export type Spec = z.output<typeof SpecSchema>;
export type Step = z.output<typeof StepSchema>;
export type Group = z.output<typeof GroupSchema>;
export type RetryPolicySpec = z.output<typeof RetrySchema>;
export type OnError = z.output<typeof OnErrorSchema>;
export type ForEach = z.output<typeof ForEachSchema>;
export type JoinPolicy = z.output<typeof JoinPolicySchema>;
