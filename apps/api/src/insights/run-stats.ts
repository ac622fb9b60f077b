import { Prisma, type PrismaClient } from '@prisma/client';
import type { Client } from '@temporalio/client';
import type { RunStatus } from '../../../../workflows/contract';
import type { Logger } from '../../../common/logger';
import { buildRunsQuery } from '../runs/list-query';
import { summarisedBefore } from './collector';
import { histogramFrom, histogramOf, mergedHistograms, percentilesOf } from './histogram';

/**
 * A template's run stats over a window of start times. Finished runs come from what the collector
 * wrote: the daily rollups for the whole UTC days inside the window and the run summaries for the
 * partial days at its ends, so a query reads a few rows per day and series plus at most two days of
 * summaries, whatever the number of runs. Counts are exact; percentiles come from the rollups'
 * histograms (histogram.ts), within about 1% of the exact ones. Runs still open come from Temporal
 * visibility's counts. Runs that finished after the collector's last pass are not counted yet;
 * `summarisedBefore` says how far it got.
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
type FinishedStatus = Extract<RunStatus, 'succeeded' | 'failed' | 'cancelled' | 'timed_out'>;

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

/** One series (the runs: stepId "", or a step) summed over the window: the counts a StepStats reports, and what it is computed from. */
interface SeriesRow extends Pick<StepStats, 'stepId' | 'type' | 'runs' | 'succeeded' | 'failed' | 'skipped' | 'cancelled'> {
  timedOut: number;
  retries: number;
  runsWithRetries: number;
  maxAttempts: number;
  durations: Record<string, string>;
  approvalWaits: Record<string, string>;
}

const FRACTIONS = [0.5, 0.95, 0.99];
const DAY_MS = 24 * 60 * 60 * 1000;

export async function templateStats(
  deps: { prisma: PrismaClient; temporal: Client; logger: Logger },
  window: StatsWindow,
): Promise<TemplateStats> {
  const [series, open, watermark] = await Promise.all([seriesOf(deps.prisma, window), openCounts(deps, window), summarisedBefore(deps.prisma)]);
  const runSeries = series.find((row) => row.stepId === '');
  const counts: Record<FinishedStatus, number> = {
    succeeded: runSeries?.succeeded ?? 0,
    failed: runSeries?.failed ?? 0,
    cancelled: runSeries?.cancelled ?? 0,
    timed_out: runSeries?.timedOut ?? 0,
  };
  const finished = runSeries?.runs ?? 0;
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
      byStatus: { ...openByStatus, ...counts } as Record<RunStatus, number | null>,
      successRate: finished === 0 ? null : ratio(counts.succeeded, finished),
      durationMs: percentiles(runSeries?.durations),
      openCountsAvailable: open !== undefined,
    },
    steps: series
      .filter((row) => row.stepId !== '')
      .map((row) => ({
        stepId: row.stepId,
        type: row.type,
        runs: row.runs,
        succeeded: row.succeeded,
        failed: row.failed,
        skipped: row.skipped,
        cancelled: row.cancelled,
        failureRate: row.succeeded + row.failed === 0 ? null : ratio(row.failed, row.succeeded + row.failed),
        durationMs: percentiles(row.durations),
        retries: { total: row.retries, runsWithRetries: row.runsWithRetries, maxAttempts: row.maxAttempts },
        approvalWaitMs: percentiles(row.approvalWaits),
      })),
  };
}

/**
 * Every series of the window, in one query: whole UTC days from the rollups, the partial days at
 * either end from the summaries (by their start time, through the summaries' indexes), summed.
 */
async function seriesOf(prisma: PrismaClient, window: StatsWindow): Promise<SeriesRow[]> {
  const { from, to } = window;
  let wholeFrom = new Date(Math.ceil(from.getTime() / DAY_MS) * DAY_MS);
  let wholeTo = new Date(Math.floor(to.getTime() / DAY_MS) * DAY_MS);
  // No whole day inside: the summaries answer for all of it.
  if (wholeFrom >= wholeTo) wholeFrom = wholeTo = to;
  // As bigint: a version past the column's range is no error, it matches nothing.
  const version = window.version === undefined ? Prisma.empty : Prisma.sql`AND "templateVersion" = ${window.version}::bigint`;
  const owner = Prisma.sql`"tenantId" = ${window.tenantId}::uuid AND "templateId" = ${window.templateId}::uuid ${version}`;
  const partialDays = (startedAt: Prisma.Sql) =>
    Prisma.sql`((${startedAt} >= ${from} AND ${startedAt} < ${wholeFrom}) OR (${startedAt} >= ${wholeTo} AND ${startedAt} < ${to}))`;
  return prisma.$queryRaw<SeriesRow[]>`
    WITH parts AS (
      SELECT "stepId", type, runs, succeeded, failed, skipped, cancelled, "timedOut", retries, "runsWithRetries", "maxAttempts", durations, "approvalWaits"
      FROM "RunRollup"
      WHERE ${owner} AND day >= (${wholeFrom}::timestamptz AT TIME ZONE 'UTC')::date AND day < (${wholeTo}::timestamptz AT TIME ZONE 'UTC')::date
      UNION ALL
      SELECT '', '', count(*)::int, count(*) FILTER (WHERE status = 'succeeded')::int, count(*) FILTER (WHERE status = 'failed')::int, 0,
        count(*) FILTER (WHERE status = 'cancelled')::int, count(*) FILTER (WHERE status = 'timed_out')::int, 0, 0, 0,
        ${histogramOf(Prisma.sql`"durationMs"`)}, '{}'::jsonb
      FROM "RunSummary"
      WHERE ${owner} AND ${partialDays(Prisma.sql`"startedAt"`)}
      UNION ALL
      SELECT "stepId", max(type), count(*)::int, count(*) FILTER (WHERE status = 'succeeded')::int, count(*) FILTER (WHERE status = 'failed')::int,
        count(*) FILTER (WHERE status = 'skipped')::int, count(*) FILTER (WHERE status = 'cancelled')::int, 0,
        sum(GREATEST(attempts - 1, 0))::int, count(*) FILTER (WHERE attempts > 1)::int, max(attempts),
        ${histogramOf(Prisma.sql`"durationMs"`)}, ${histogramOf(Prisma.sql`"approvalWaitMs"`)}
      FROM "RunStepSummary"
      WHERE ${owner} AND ${partialDays(Prisma.sql`"runStartedAt"`)}
      GROUP BY "stepId"
    )
    SELECT "stepId", max(type) AS type, sum(runs)::int AS runs, sum(succeeded)::int AS succeeded, sum(failed)::int AS failed,
      sum(skipped)::int AS skipped, sum(cancelled)::int AS cancelled, sum("timedOut")::int AS "timedOut", sum(retries)::int AS retries,
      sum("runsWithRetries")::int AS "runsWithRetries", coalesce(max("maxAttempts"), 0)::int AS "maxAttempts",
      ${mergedHistograms(Prisma.sql`durations`)} AS durations, ${mergedHistograms(Prisma.sql`"approvalWaits"`)} AS "approvalWaits"
    FROM parts
    GROUP BY "stepId"
    HAVING sum(runs) > 0
    ORDER BY "stepId"`;
}

/**
 * Median durations of a version's steps over all its summarised runs (for the critical path), from
 * the rollups; steps never seen to start are absent.
 */
export async function observedStepMedians(prisma: PrismaClient, tenantId: string, templateId: string, version: number): Promise<Map<string, number>> {
  const rows = await prisma.$queryRaw<{ stepId: string; durations: Record<string, string> }[]>`
    SELECT "stepId", ${mergedHistograms(Prisma.sql`durations`)} AS durations
    FROM "RunRollup"
    WHERE "tenantId" = ${tenantId}::uuid AND "templateId" = ${templateId}::uuid AND "templateVersion" = ${version} AND "stepId" <> ''
    GROUP BY "stepId"`;
  const medians = new Map<string, number>();
  for (const row of rows) {
    const [median] = percentilesOf(histogramFrom(row.durations), [0.5]) ?? [];
    if (median !== undefined) medians.set(row.stepId, median);
  }
  return medians;
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

function percentiles(json: Record<string, string> | undefined): Percentiles | null {
  const values = json && percentilesOf(histogramFrom(json), FRACTIONS);
  if (!values) return null;
  const [p50, p95, p99] = values.map((value) => Math.round(value));
  return { p50: p50!, p95: p95!, p99: p99! };
}

function ratio(part: number, whole: number): number {
  return Math.round((part / whole) * 10_000) / 10_000;
}
