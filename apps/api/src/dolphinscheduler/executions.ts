import type { DolphinSchedulerExecution, Prisma } from '@prisma/client';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import {
  HISTORY_SYNC_WORKFLOW_TYPE,
  historySyncWorkflowId,
  type HistorySyncResult,
  type HistorySyncScope,
} from '../../../../workflows/dolphinscheduler/contract';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import type { ExecutionListQuery } from './execution-schemas';

/** How long `?refresh=true` waits for the sync before answering from the cache. */
export const DEFAULT_REFRESH_WAIT_MS = 15_000;
/** A refresh within this long of the last sync answers from the cache. */
export const DEFAULT_REFRESH_MIN_INTERVAL_MS = 5_000;
const REFRESH_POLL_MS = 200;

export interface ExecutionsAnswer {
  items: ReturnType<typeof executionView>[];
  sync: { target: string; definitionCode: number; lastSyncAt: string | null; lastSuccessAt: string | null; lastError: Prisma.JsonValue }[];
  refresh?: { status: 'completed' | 'pending' | 'recent'; workflowId: string; errors: { target: string; message: string }[] };
}

/**
 * A template's executions in DolphinScheduler, from the cache the history sync fills. A refresh
 * starts (or joins) the sync workflow for this template on the worker, which holds the target's
 * token; the API never calls DolphinScheduler itself.
 */
export class ExecutionService {
  constructor(private readonly deps: ApiDependencies) {}

  async list(tenantId: string, templateId: string, query: ExecutionListQuery): Promise<ExecutionsAnswer> {
    const template = await this.deps.prisma.template.findFirst({ where: { id: templateId, tenantId }, select: { id: true } });
    if (!template) throw problems.notFound(`template ${templateId} does not exist`);
    const refresh = query.refresh ? await this.refresh({ tenantId, templateId, ...(query.target ? { target: query.target } : {}) }) : undefined;
    const where = { tenantId, templateId, ...(query.target ? { target: query.target } : {}) };
    const [rows, cursors] = await Promise.all([
      this.deps.prisma.dolphinSchedulerExecution.findMany({
        where,
        orderBy: [{ startTime: { sort: 'desc', nulls: 'first' } }, { instanceId: 'desc' }],
        take: query.limit,
      }),
      this.deps.prisma.dolphinSchedulerHistoryCursor.findMany({ where, orderBy: [{ target: 'asc' }, { definitionCode: 'asc' }] }),
    ]);
    return {
      items: rows.map(executionView),
      sync: cursors.map((cursor) => ({
        target: cursor.target,
        definitionCode: Number(cursor.definitionCode),
        lastSyncAt: cursor.lastSyncAt?.toISOString() ?? null,
        lastSuccessAt: cursor.lastSuccessAt?.toISOString() ?? null,
        lastError: cursor.lastError,
      })),
      ...(refresh ? { refresh } : {}),
    };
  }

  /** Runs the template's sync, waiting for it a bounded time; a sync already running for the same scope is joined. */
  private async refresh(scope: HistorySyncScope): Promise<NonNullable<ExecutionsAnswer['refresh']>> {
    const workflowId = historySyncWorkflowId(scope);
    const minInterval = this.deps.historyRefreshMinIntervalMs ?? DEFAULT_REFRESH_MIN_INTERVAL_MS;
    if (minInterval > 0) {
      const cursors = await this.deps.prisma.dolphinSchedulerHistoryCursor.findMany({
        where: { tenantId: scope.tenantId!, templateId: scope.templateId!, ...(scope.target ? { target: scope.target } : {}) },
        select: { lastSyncAt: true },
      });
      const since = Date.now() - minInterval;
      if (cursors.length > 0 && cursors.every((cursor) => cursor.lastSyncAt !== null && cursor.lastSyncAt.getTime() > since)) {
        return { status: 'recent', workflowId, errors: [] };
      }
    }
    const handle = await this.deps.temporal.workflow.start<(scope: HistorySyncScope) => Promise<HistorySyncResult>>(HISTORY_SYNC_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: this.deps.taskQueue,
      args: [scope],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowExecutionTimeout: '10m',
    });
    const deadline = Date.now() + (this.deps.historyRefreshWaitMs ?? DEFAULT_REFRESH_WAIT_MS);
    // Short describes rather than one long poll: each call stays within the client's call deadline.
    for (;;) {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') break;
      if (Date.now() >= deadline) return { status: 'pending', workflowId, errors: [] };
      await new Promise((resolve) => setTimeout(resolve, REFRESH_POLL_MS));
    }
    let result: HistorySyncResult;
    try {
      result = await handle.result();
    } catch (error) {
      return { status: 'completed', workflowId, errors: [{ target: scope.target ?? '*', message: (error as Error).message }] };
    }
    const errors = result.targets.flatMap((target) => [
      ...(target.error ? [{ target: target.target, message: target.error.message }] : []),
      ...target.definitions.filter((d) => d.error).map((d) => ({ target: target.target, message: d.error!.message })),
    ]);
    return { status: 'completed', workflowId, errors };
  }
}

export function executionView(row: DolphinSchedulerExecution) {
  return {
    target: row.target,
    instanceId: Number(row.instanceId),
    name: row.name,
    state: row.state,
    definitionCode: Number(row.definitionCode),
    definitionVersion: row.definitionVersion,
    startTime: row.startTime?.toISOString() ?? null,
    endTime: row.endTime?.toISOString() ?? null,
    durationMs: row.durationMs === null ? null : Number(row.durationMs),
    duration: row.durationText,
    host: row.host,
    runTimes: row.runTimes,
    commandType: row.commandType,
    scheduleTime: row.scheduleTime?.toISOString() ?? null,
    executorName: row.executorName,
    tasks: row.tasks,
    taskStates: row.taskStates,
    syncedAt: row.syncedAt.toISOString(),
  };
}
