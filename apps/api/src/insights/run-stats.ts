import { Prisma, type PrismaClient } from '@prisma/client';
import type { Client } from '@temporalio/client';
import type { RunStatus } from '../../../../workflows/contract';
import type { Logger } from '../../../common/logger';
import { buildRunsQuery } from '../runs/list-query';
import { summarisedBefore } from './collector';

/**
 * A template's run stats over a window of start times: finished runs from the run summaries the
 * collector wrote (SQL aggregates, one pass over each table's index range), runs still open from
 * Temporal visibility's counts. Runs that finished after the collector's last pass are not counted
 * yet; `summarisedBefore` says how far it got.
 */

export interface StatsWindow {
  tenantId: string;
  templateId: string;
  from: Date;
  to: Date;
  version?: number;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

const OPEN_STATUSES = ['running', 'waiting_approval', 'paused', 'held'] as const satisfies readonly RunStatus[];
const FINISHED_STATUSES = ['succeeded', 'failed', 'cancelled', 'timed_out'] as const satisfies readonly RunStatus[];

export interface TemplateStats {
  templateId: string;
  version: number | null;
  from: string;
  to: string;
  /** Runs that closed before this are summarised; null before the collector's first pass. */
  summarisedBefore: string | null;
  runs: {
    total: number;
    byStatus: Record<RunStatus, number | null>;
    /** Succeeded over finished; null with none finished. */
    successRate: number | null;
    /** Of finished runs; null with none. */
    durationMs: Percentiles | null;
    /** Null when visibility could not be asked (Temporal down): the finished runs are still shown. */
    openCountsAvailable: boolean;
  };
  steps: StepStats[];
}

export interface StepStats {
  stepId: string;
  type: string;
  /** Runs in which the step has a state. */
  runs: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
  /** Failed over those that ran to an outcome (succeeded or failed); null if none did. */
  failureRate: number | null;
  durationMs: Percentiles | null;
  retries: { total: number; runsWithRetries: number; maxAttempts: number };
  /** Approval steps: from the start of the wait to the settling decision. */
  approvalWaitMs: Percentiles | null;
}

interface RunAggregate {
  status: string;
  count: number;
}

interface DurationAggregate {
  percentiles: number[] | null;
}

interface StepAggregate {
  stepId: string;
  type: string;
  runs: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
  retries: number;
  runsWithRetries: number;
  maxAttempts: number;
  duration: number[] | null;
  approvalWait: number[] | null;
}

export async function templateStats(
  deps: { prisma: PrismaClient; temporal: Client; logger: Logger },
  window: StatsWindow,
): Promise<TemplateStats> {
  const [byStatus, durations, steps, open, watermark] = await Promise.all([
    deps.prisma.$queryRaw<RunAggregate[]>`
      SELECT status, count(*)::int AS count FROM "RunSummary"
      WHERE ${runFilter(window, Prisma.sql`"startedAt"`)}
      GROUP BY status`,
    deps.prisma.$queryRaw<DurationAggregate[]>`
      SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY "durationMs") AS percentiles
      FROM "RunSummary"
      WHERE ${runFilter(window, Prisma.sql`"startedAt"`)}`,
    deps.prisma.$queryRaw<StepAggregate[]>`
      SELECT "stepId", max(type) AS type, count(*)::int AS runs,
        count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
        count(*) FILTER (WHERE status = 'failed')::int AS failed,
        count(*) FILTER (WHERE status = 'skipped')::int AS skipped,
        count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
        coalesce(sum(GREATEST(attempts - 1, 0)), 0)::int AS retries,
        count(*) FILTER (WHERE attempts > 1)::int AS "runsWithRetries",
        coalesce(max(attempts), 0)::int AS "maxAttempts",
        percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY "durationMs") AS duration,
        percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY "approvalWaitMs") AS "approvalWait"
      FROM "RunStepSummary"
      WHERE ${runFilter(window, Prisma.sql`"runStartedAt"`)}
      GROUP BY "stepId"
      ORDER BY "stepId"`,
    openCounts(deps, window),
    summarisedBefore(deps.prisma),
  ]);

  const counts = Object.fromEntries(byStatus.map((row) => [row.status, row.count]));
  const finishedByStatus = Object.fromEntries(FINISHED_STATUSES.map((status) => [status, counts[status] ?? 0]));
  const finished = FINISHED_STATUSES.reduce((sum, status) => sum + (counts[status] ?? 0), 0);
  const openByStatus = Object.fromEntries(OPEN_STATUSES.map((status) => [status, open?.[status] ?? null]));
  const openTotal = open ? OPEN_STATUSES.reduce((sum, status) => sum + open[status], 0) : 0;
  return {
    templateId: window.templateId,
    version: window.version ?? null,
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    summarisedBefore: watermark?.toISOString() ?? null,
    runs: {
      total: finished + openTotal,
      byStatus: { ...openByStatus, ...finishedByStatus } as Record<RunStatus, number | null>,
      successRate: finished === 0 ? null : ratio(counts.succeeded ?? 0, finished),
      durationMs: percentilesOf(durations[0]?.percentiles ?? null),
      openCountsAvailable: open !== undefined,
    },
    steps: steps.map((row) => ({
      stepId: row.stepId,
      type: row.type,
      runs: row.runs,
      succeeded: row.succeeded,
      failed: row.failed,
      skipped: row.skipped,
      cancelled: row.cancelled,
      failureRate: row.succeeded + row.failed === 0 ? null : ratio(row.failed, row.succeeded + row.failed),
      durationMs: percentilesOf(row.duration),
      retries: { total: row.retries, runsWithRetries: row.runsWithRetries, maxAttempts: row.maxAttempts },
      approvalWaitMs: percentilesOf(row.approvalWait),
    })),
  };
}

/**
 * Observed median durations of a version's steps (for the critical path); steps never seen to start
 * are absent. One index range of the step summaries.
 */
export async function observedStepMedians(prisma: PrismaClient, tenantId: string, templateId: string, version: number): Promise<Map<string, number>> {
  const rows = await prisma.$queryRaw<{ stepId: string; median: number }[]>`
    SELECT "stepId", percentile_cont(0.5) WITHIN GROUP (ORDER BY "durationMs") AS median
    FROM "RunStepSummary"
    WHERE "tenantId" = ${tenantId}::uuid AND "templateId" = ${templateId}::uuid AND "templateVersion" = ${version} AND "durationMs" IS NOT NULL
    GROUP BY "stepId"`;
  return new Map(rows.map((row) => [row.stepId, row.median]));
}

function runFilter(window: StatsWindow, startedAt: Prisma.Sql): Prisma.Sql {
  const version = window.version === undefined ? Prisma.empty : Prisma.sql`AND "templateVersion" = ${window.version}`;
  return Prisma.sql`"tenantId" = ${window.tenantId}::uuid AND "templateId" = ${window.templateId}::uuid
    AND ${startedAt} >= ${window.from} AND ${startedAt} < ${window.to} ${version}`;
}

/** Open runs by status from visibility's counts, with the runs list's own filters; undefined when Temporal does not answer. */
async function openCounts(deps: { temporal: Client; logger: Logger }, window: StatsWindow): Promise<Record<(typeof OPEN_STATUSES)[number], number> | undefined> {
  try {
    const counts = await Promise.all(
      OPEN_STATUSES.map(async (status) => {
        const query = buildRunsQuery(window.tenantId, {
          templateId: window.templateId,
          version: window.version,
          status: [status],
          startedAfter: window.from.toISOString(),
          startedBefore: window.to.toISOString(),
        });
        return [status, (await deps.temporal.workflow.count(query)).count] as const;
      }),
    );
    return Object.fromEntries(counts) as Record<(typeof OPEN_STATUSES)[number], number>;
  } catch (error) {
    deps.logger.warn({ err: error, templateId: window.templateId }, 'counting open runs failed; stats show finished runs only');
    return undefined;
  }
}

function percentilesOf(values: number[] | null): Percentiles | null {
  if (!values || values.some((value) => value === null)) return null;
  const [p50, p95, p99] = values.map((value) => Math.round(value));
  return { p50: p50!, p95: p95!, p99: p99! };
}

function ratio(part: number, whole: number): number {
  return Math.round((part / whole) * 10_000) / 10_000;
}
