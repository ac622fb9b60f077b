import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient } from '@prisma/client';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import { RUN_WORKFLOW_TYPE, type RunState, type StepState } from '../../../../workflows/contract';
import { RunStatusKey, TemplateIdKey, TemplateVersionKey, TenantIdKey } from '../../../../workflows/search-attributes';
import type { Logger } from '../../../common/logger';
import { quote } from '../runs/list-query';
import { runStatusOf } from '../runs/run-status';
import { outcomeOf } from '../runs/run-view';
import { histogramOf } from './histogram';

/**
 * Writes one summary per finished run (and one row per step of it) into PostgreSQL, once, after the
 * run has closed: template stats are SQL aggregates over those rows. The workflow does nothing for
 * it, so the engine's hot path costs what it did; the collector reads what Temporal already keeps.
 *
 * Each pass lists, through visibility, the runs that closed since the watermark, reads the result of
 * each one not yet summarised (the run's final state: every step's status, attempts and times), and
 * writes them in batches. Visibility is eventually consistent, so the next pass starts `overlapMs`
 * before this pass began: a run that shows up late is still listed, and one listed twice is written
 * once (the rows are keyed by the Temporal run id, and existing ones are skipped before their result
 * is read). Several API instances may run a collector: a lease on the watermark row lets one of
 * them collect at a time.
 */

export interface CollectorDependencies {
  prisma: PrismaClient;
  temporal: Client;
  logger: Logger;
}

export interface CollectorOptions {
  /** How far before a pass's start the next pass lists again (visibility's lag, generously). */
  overlapMs?: number;
  /** Executions per visibility page, which is also the write batch. */
  pageSize?: number;
  /** Results read from Temporal at once. */
  concurrency?: number;
  /** How long a pass may hold the lease before another instance may take over. */
  leaseMs?: number;
}

export interface CollectionPass {
  /** False when another instance held the lease: this one did nothing. */
  leased: boolean;
  listed: number;
  written: number;
}

const WATERMARK_ID = 'closed-runs';
const DEFAULTS: Required<CollectorOptions> = { overlapMs: 60_000, pageSize: 500, concurrency: 8, leaseMs: 5 * 60_000 };

/** Only the engine's runs, only the execution that ended a run (not one that continued as new). */
const CLOSED_RUNS = `WorkflowType = ${quote(RUN_WORKFLOW_TYPE)} AND ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew'`;

export interface RunSummaryRow {
  executionRunId: string;
  runId: string;
  tenantId: string;
  templateId: string;
  templateVersion: number;
  status: string;
  startedAt: string;
  closedAt: string;
  durationMs: number;
  stepsKnown: boolean;
}

export interface StepSummaryRow {
  executionRunId: string;
  stepId: string;
  tenantId: string;
  templateId: string;
  templateVersion: number;
  runStartedAt: string;
  type: string;
  status: string;
  attempts: number;
  durationMs: number | null;
  approvalWaitMs: number | null;
}

export class RunSummaryCollector {
  private readonly options: Required<CollectorOptions>;
  /** Names this instance in the lease. */
  private readonly holder = randomUUID();
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    private readonly deps: CollectorDependencies,
    options: CollectorOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** Collects every `intervalMs`, the first pass at once; a failed pass is logged and the next one tries again. */
  start(intervalMs: number): void {
    const tick = () => {
      this.running = this.collect()
        .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'run summary collection failed; the next pass retries'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, intervalMs).unref();
        });
    };
    tick();
  }

  /** Stops collecting; a pass under way ends after the page it is writing. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: everything that closed since the watermark, then the watermark moved to this pass's start less the overlap. */
  async collect(): Promise<CollectionPass> {
    const passStart = new Date();
    const closedFrom = await this.takeLease();
    if (!closedFrom) return { leased: false, listed: 0, written: 0 };
    const query = `${CLOSED_RUNS} AND CloseTime >= ${quote(closedFrom.toISOString())}`;
    const { workflowService, options } = this.deps.temporal;
    let listed = 0;
    let written = 0;
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await workflowService.listWorkflowExecutions({
        namespace: options.namespace,
        query,
        pageSize: this.options.pageSize,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      const executions = await Promise.all(
        (page.executions ?? []).map((raw) => executionInfoFromRaw(raw, options.loadedDataConverter, raw, options.namespace)),
      );
      listed += executions.length;
      written += await this.summarise(executions);
      if (this.stopped) {
        // Shutting down: the next pass, here or on another instance, lists this pass's runs again.
        await this.releaseLease(closedFrom);
        return { leased: true, listed, written };
      }
      await this.renewLease();
      nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    } while (nextPageToken);
    await this.releaseLease(new Date(passStart.getTime() - this.options.overlapMs));
    if (written > 0) this.deps.logger.info({ listed, written }, 'run summaries collected');
    return { leased: true, listed, written };
  }

  /** Summarises the executions of one page not summarised yet; answers how many it wrote. */
  private async summarise(executions: WorkflowExecutionInfo[]): Promise<number> {
    // Runs the API started name their tenant and template by uuid; a run started in Temporal by
    // other means may carry anything there, and must not stop the collection of the others.
    const owned = executions.filter(
      (info) =>
        info.closeTime &&
        isUuid(info.typedSearchAttributes.get(TenantIdKey)) &&
        isUuid(info.typedSearchAttributes.get(TemplateIdKey)) &&
        isStorableVersion(info.typedSearchAttributes.get(TemplateVersionKey)),
    );
    if (owned.length === 0) return 0;
    const known = await this.deps.prisma.runSummary.findMany({
      where: { executionRunId: { in: owned.map((info) => info.runId) } },
      select: { executionRunId: true },
    });
    const done = new Set(known.map((row) => row.executionRunId));
    const fresh = owned.filter((info) => !done.has(info.runId));
    const summaries = await mapWithConcurrency(fresh, this.options.concurrency, (info) => this.summaryOf(info));
    const runs = summaries.map(({ run }) => run);
    if (runs.length === 0) return 0;
    const steps = summaries.flatMap((summary) => summary.steps);
    return writeSummaries(this.deps.prisma, runs, steps);
  }

  private async summaryOf(info: WorkflowExecutionInfo): Promise<{ run: RunSummaryRow; steps: StepSummaryRow[] }> {
    const attributes = info.typedSearchAttributes;
    const state = await this.finalStateOf(info);
    const startedAt = validDate(state?.startedAt) ?? info.startTime;
    const closedAt = info.closeTime!;
    const run: RunSummaryRow = {
      executionRunId: info.runId,
      runId: info.workflowId,
      tenantId: attributes.get(TenantIdKey)!,
      templateId: attributes.get(TemplateIdKey)!,
      templateVersion: attributes.get(TemplateVersionKey) ?? 0,
      status: runStatusOf(info.status.name, state?.status ?? attributes.get(RunStatusKey)),
      startedAt: startedAt.toISOString(),
      closedAt: closedAt.toISOString(),
      durationMs: Math.max(0, closedAt.getTime() - startedAt.getTime()),
      stepsKnown: state !== undefined,
    };
    const steps = Object.values(state?.steps ?? {}).map((step) => stepRowOf(run, step));
    return { run, steps };
  }

  /** The run's last state, from its result or its failure; undefined when it left none or its history is gone. */
  private async finalStateOf(info: WorkflowExecutionInfo): Promise<RunState | undefined> {
    try {
      return (await outcomeOf(this.deps.temporal.workflow.getHandle(info.workflowId, info.runId))).state;
    } catch (error) {
      // Removed by the namespace's retention before it was collected: what visibility said is kept.
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    }
  }

  /** Takes the lease when it is free (or ours), answering the watermark; undefined when another instance holds it. */
  private async takeLease(): Promise<Date | undefined> {
    await this.deps.prisma.runSummaryWatermark.createMany({
      data: [{ id: WATERMARK_ID, closedFrom: new Date(0) }],
      skipDuplicates: true,
    });
    const rows = await this.deps.prisma.$queryRaw<{ closedFrom: Date }[]>`
      UPDATE "RunSummaryWatermark"
      SET "leasedBy" = ${this.holder}, "leaseUntil" = now() + ${this.options.leaseMs} * interval '1 millisecond'
      WHERE id = ${WATERMARK_ID} AND ("leaseUntil" IS NULL OR "leaseUntil" < now() OR "leasedBy" = ${this.holder})
      RETURNING "closedFrom"`;
    return rows[0]?.closedFrom;
  }

  private async renewLease(): Promise<void> {
    await this.deps.prisma.$executeRaw`
      UPDATE "RunSummaryWatermark" SET "leaseUntil" = now() + ${this.options.leaseMs} * interval '1 millisecond'
      WHERE id = ${WATERMARK_ID} AND "leasedBy" = ${this.holder}`;
  }

  private async releaseLease(closedFrom: Date): Promise<void> {
    await this.deps.prisma.$executeRaw`
      UPDATE "RunSummaryWatermark" SET "closedFrom" = GREATEST("closedFrom", ${closedFrom}), "leasedBy" = NULL, "leaseUntil" = NULL
      WHERE id = ${WATERMARK_ID} AND "leasedBy" = ${this.holder}`;
  }
}

/**
 * Writes run summaries and their steps, and adds them to their days' rollups, in one statement: a
 * run is written with its steps and rolled up, or not at all, and a run already written (by another
 * pass) is skipped with its steps. Answers how many runs it wrote.
 */
export async function writeSummaries(prisma: PrismaClient, runs: RunSummaryRow[], steps: StepSummaryRow[]): Promise<number> {
  const [{ written }] = await prisma.$queryRaw<[{ written: number }]>`
    WITH inserted AS (
      INSERT INTO "RunSummary" ("executionRunId", "runId", "tenantId", "templateId", "templateVersion", status, "startedAt", "closedAt", "durationMs", "stepsKnown")
      SELECT "executionRunId", "runId", "tenantId", "templateId", "templateVersion", status, "startedAt", "closedAt", "durationMs", "stepsKnown"
      FROM jsonb_to_recordset(${JSON.stringify(runs)}::jsonb) AS run(
        "executionRunId" text, "runId" text, "tenantId" uuid, "templateId" uuid, "templateVersion" int, status text,
        "startedAt" timestamptz, "closedAt" timestamptz, "durationMs" float8, "stepsKnown" boolean)
      ON CONFLICT DO NOTHING
      RETURNING *
    ),
    inserted_steps AS (
      INSERT INTO "RunStepSummary" ("executionRunId", "stepId", "tenantId", "templateId", "templateVersion", "runStartedAt", type, status, attempts, "durationMs", "approvalWaitMs")
      SELECT step."executionRunId", "stepId", "tenantId", "templateId", "templateVersion", "runStartedAt", type, status, attempts, "durationMs", "approvalWaitMs"
      FROM jsonb_to_recordset(${JSON.stringify(steps)}::jsonb) AS step(
        "executionRunId" text, "stepId" text, "tenantId" uuid, "templateId" uuid, "templateVersion" int, "runStartedAt" timestamptz,
        type text, status text, attempts int, "durationMs" float8, "approvalWaitMs" float8)
      WHERE step."executionRunId" IN (SELECT "executionRunId" FROM inserted)
      RETURNING *
    ),
    rolled_up AS (
      INSERT INTO "RunRollup" ("tenantId", "templateId", day, "templateVersion", "stepId", type, runs, succeeded, failed, skipped, cancelled,
        "timedOut", retries, "runsWithRetries", "maxAttempts", durations, "approvalWaits")
      SELECT "tenantId", "templateId", ("startedAt" AT TIME ZONE 'UTC')::date, "templateVersion", '', '', count(*),
        count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed'), 0,
        count(*) FILTER (WHERE status = 'cancelled'), count(*) FILTER (WHERE status = 'timed_out'), 0, 0, 0,
        ${histogramOf(Prisma.sql`"durationMs"`)}, '{}'::jsonb
      FROM inserted
      GROUP BY 1, 2, 3, 4
      UNION ALL
      SELECT "tenantId", "templateId", ("runStartedAt" AT TIME ZONE 'UTC')::date, "templateVersion", "stepId", max(type), count(*),
        count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'skipped'),
        count(*) FILTER (WHERE status = 'cancelled'), 0, sum(GREATEST(attempts - 1, 0)), count(*) FILTER (WHERE attempts > 1), max(attempts),
        ${histogramOf(Prisma.sql`"durationMs"`)}, ${histogramOf(Prisma.sql`"approvalWaitMs"`)}
      FROM inserted_steps
      GROUP BY 1, 2, 3, 4, 5
      ON CONFLICT ("tenantId", "templateId", day, "templateVersion", "stepId") DO UPDATE SET
        runs = "RunRollup".runs + excluded.runs,
        succeeded = "RunRollup".succeeded + excluded.succeeded,
        failed = "RunRollup".failed + excluded.failed,
        skipped = "RunRollup".skipped + excluded.skipped,
        cancelled = "RunRollup".cancelled + excluded.cancelled,
        "timedOut" = "RunRollup"."timedOut" + excluded."timedOut",
        retries = "RunRollup".retries + excluded.retries,
        "runsWithRetries" = "RunRollup"."runsWithRetries" + excluded."runsWithRetries",
        "maxAttempts" = GREATEST("RunRollup"."maxAttempts", excluded."maxAttempts"),
        durations = "addHistograms"("RunRollup".durations, excluded.durations),
        "approvalWaits" = "addHistograms"("RunRollup"."approvalWaits", excluded."approvalWaits")
      RETURNING 1
    )
    SELECT count(*)::int AS written FROM inserted`;
  return written;
}

/** What is known of runs up to: runs that closed before this are summarised (undefined before any pass). */
export async function summarisedBefore(prisma: PrismaClient): Promise<Date | undefined> {
  const row = await prisma.runSummaryWatermark.findUnique({ where: { id: WATERMARK_ID } });
  return row && row.closedFrom.getTime() > 0 ? row.closedFrom : undefined;
}

function stepRowOf(run: RunSummaryRow, step: StepState): StepSummaryRow {
  const startedAt = validDate(step.startedAt);
  const finishedAt = validDate(step.finishedAt);
  const durationMs = startedAt && finishedAt ? Math.max(0, finishedAt.getTime() - startedAt.getTime()) : null;
  return {
    executionRunId: run.executionRunId,
    stepId: step.id,
    tenantId: run.tenantId,
    templateId: run.templateId,
    templateVersion: run.templateVersion,
    runStartedAt: run.startedAt,
    type: step.type,
    status: step.status,
    attempts: Number.isInteger(step.attempts) ? step.attempts : 0,
    durationMs,
    approvalWaitMs: step.type === 'approval' && startedAt ? approvalWaitOf(step, startedAt, finishedAt) : null,
  };
}

/** From the start of the wait to the last decision (the one that settled it), or to the step's end (a timeout). */
function approvalWaitOf(step: StepState, startedAt: Date, finishedAt: Date | undefined): number | null {
  const decisions = (step.approvals ?? []).map((decision) => validDate(decision.at)).filter((at): at is Date => at !== undefined);
  const decidedAt = decisions.length > 0 ? new Date(Math.max(...decisions.map((at) => at.getTime()))) : finishedAt;
  return decidedAt ? Math.max(0, decidedAt.getTime() - startedAt.getTime()) : null;
}

function validDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

async function mapWithConcurrency<T, R>(items: T[], concurrency: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const work = async () => {
    for (let index = next++; index < items.length; index = next++) results[index] = await map(items[index]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, work));
  return results;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isUuid(value: string | undefined): value is string {
  return value !== undefined && UUID.test(value);
}

function isStorableVersion(value: number | undefined): boolean {
  return value === undefined || (Number.isInteger(value) && value >= 0 && value <= 2 ** 31 - 1);
}
