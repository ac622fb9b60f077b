import { z } from 'zod';
import { registry } from '../openapi/registry';
import { IdSchema } from '../../../../workflows/spec/schema';

/** Requests and answers of template stats, version analysis and step dry runs. */

const DEFAULT_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;

/** The query's fields, as documented; `StatsQuery` parses them into a window. */
export const StatsQueryFields = z
  .object({
    from: z.iso.datetime({ offset: true }).optional().meta({ description: 'Runs started at or after this; default: 30 days before `to`' }),
    to: z.iso.datetime({ offset: true }).optional().meta({ description: 'Runs started before this; default: now. A window that ends before it begins holds no runs' }),
    version: z
      .string()
      .regex(/^[1-9][0-9]{0,9}$/)
      .transform(Number)
      .optional()
      .meta({ description: 'Only runs of this version' }),
  })
  .strict();

/** No run starts before 1970: earlier bounds (down to year 0, which PostgreSQL has no date for) mean the same. */
const EARLIEST = new Date(0);

export const StatsQuery = StatsQueryFields.transform(({ from, to, version }) => {
  const end = to ? laterOf(new Date(to), EARLIEST) : new Date();
  const start = from ? laterOf(new Date(from), EARLIEST) : new Date(Math.max(0, end.getTime() - DEFAULT_WINDOW_MS));
  return { from: start > end ? end : start, to: end, version };
});

function laterOf(a: Date, b: Date): Date {
  return a > b ? a : b;
}

const StepStatusSchema = z.enum(['pending', 'running', 'waiting_approval', 'succeeded', 'failed', 'skipped', 'cancelled']);

export const EvaluateBody = z
  .object({
    stepId: IdSchema.meta({ description: 'The step whose `when` and `with` are evaluated' }),
    inputs: z.record(z.string(), z.unknown()).default({}).meta({ description: 'Sample run inputs (`inputs.…` in expressions)' }),
    steps: z
      .record(
        IdSchema,
        z
          .object({ status: StepStatusSchema.default('succeeded'), output: z.unknown().optional() })
          .strict(),
      )
      .default({})
      .meta({ description: 'Sample states of other steps (`steps.<id>.output`, `.status`); steps left out are pending' }),
  })
  .strict();
export type EvaluateRequest = z.output<typeof EvaluateBody>;

// Answers (documentation only).

const Percentiles = z.object({ p50: z.number(), p95: z.number(), p99: z.number() }).nullable();
const Count = z.number().int().nullable();

export const TemplateStatsResource = registry.register(
  'TemplateStats',
  z.object({
    templateId: z.uuid(),
    version: z.number().int().nullable(),
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    summarisedBefore: z.iso
      .datetime()
      .nullable()
      .meta({ description: 'Runs that closed before this are counted as finished; later ones once the collector has passed' }),
    runs: z.object({
      total: z.number().int(),
      byStatus: z
        .object({
          running: Count,
          waiting_approval: Count,
          paused: Count,
          held: Count,
          succeeded: z.number().int(),
          failed: z.number().int(),
          cancelled: z.number().int(),
          timed_out: z.number().int(),
        })
        .meta({ description: 'Open statuses from Temporal visibility (null when it did not answer), finished ones from run summaries' }),
      successRate: z.number().nullable().meta({ description: 'Succeeded over finished runs' }),
      durationMs: Percentiles.meta({ description: 'Duration of finished runs, start to close' }),
      openCountsAvailable: z.boolean(),
    }),
    steps: z.array(
      z.object({
        stepId: z.string(),
        type: z.string(),
        runs: z.number().int(),
        succeeded: z.number().int(),
        failed: z.number().int(),
        skipped: z.number().int(),
        cancelled: z.number().int(),
        failureRate: z.number().nullable().meta({ description: 'Failed over succeeded + failed' }),
        durationMs: Percentiles,
        retries: z.object({ total: z.number().int(), runsWithRetries: z.number().int(), maxAttempts: z.number().int() }),
        approvalWaitMs: Percentiles.meta({ description: 'Approval steps: from the start of the wait to the settling decision' }),
      }),
    ),
  }),
);

export const VersionAnalysisResource = registry.register(
  'VersionAnalysis',
  z.object({
    templateId: z.uuid(),
    version: z.number().int(),
    steps: z.number().int(),
    groups: z.number().int(),
    depth: z.number().int().meta({ description: 'Steps on the longest dependency chain' }),
    maxParallelism: z.number().int().meta({ description: 'Steps of the widest level: the most that run at once when steps take equal time' }),
    levels: z.array(z.object({ level: z.number().int(), steps: z.array(z.string()) })),
    criticalPath: z.object({
      basis: z.enum(['observedMedians', 'declaredTimeouts', 'stepCount']).meta({
        description:
          'What the steps are weighed by: the median durations of summarised runs of this version, else the durations and timeouts the spec declares, else one per step',
      }),
      length: z.number().meta({ description: 'The sum of the weights on the path (ms, or steps for stepCount)' }),
      steps: z.array(
        z.object({
          id: z.string(),
          type: z.string(),
          weight: z.number(),
          source: z.enum(['observed', 'unobserved', 'declared', 'undeclared', 'count']),
        }),
      ),
      approvals: z.array(z.string()).meta({ description: 'Approval steps on the critical path' }),
    }),
  }),
);

export const DryRunResource = registry.register(
  'StepDryRun',
  z.object({
    stepId: z.string(),
    type: z.string(),
    when: z.object({ source: z.string(), value: z.boolean() }).nullable(),
    runs: z.boolean().meta({ description: 'False when the condition is false: a run would skip the step' }),
    with: z.unknown().meta({ description: 'The rendered `with`; null when the step would be skipped' }),
    withIssues: z
      .array(z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() }))
      .meta({ description: 'Where the rendered `with` breaks the step type’s schema (a run would fail the step)' }),
  }),
);
