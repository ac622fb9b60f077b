import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Prisma, type PrismaClient } from '@prisma/client';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type {
  DefinitionSyncResult,
  HistoryActivities,
  HistorySyncScope,
  HistoryTargetGroup,
  SyncError,
  TargetSyncResult,
} from '../../workflows/dolphinscheduler/contract';
import type { SecretResolver } from '../secrets';
import {
  DolphinSchedulerError,
  DolphinSchedulerNotFoundError,
  FINISHED_INSTANCE_STATES,
  type DolphinSchedulerClient,
  type DolphinSchedulerClientOptions,
  type TaskInstance,
  type WorkflowInstance,
} from './client';
import { definitionBindings, type DefinitionBinding } from './bindings';
import { openTargetClient, TargetUnusableError } from './target-client';

/**
 * The execution history sync: the instances of published definitions, copied page by page from
 * DolphinScheduler into DolphinSchedulerExecution.
 *
 * Incremental: each definition keeps a watermark, the newest start time a complete sync saw. The
 * instance list comes newest start first, so a later sync stops at the first page holding an
 * instance that started before the watermark: one new instance costs one list request, plus one
 * for its task states. A rerun of an old instance moves it to the top (its start time changes),
 * so it is seen too. Cached instances that were not finished and did not show up on the pages read
 * are asked for one by one (a bounded number per sync).
 *
 * States are stored as the server sends them: a state this code does not know is kept as it is,
 * and counts as not finished (it is looked at again), never as an error.
 */

export const HISTORY_PAGE_SIZE = 100;
/** A first sync fetches task states for this many of a definition's newest instances (what the API shows). */
export const TASK_DETAIL_NEWEST = 100;
/** Unfinished cached instances missing from the pages read, looked up one by one per sync. */
const STALE_LOOKUPS_PER_SYNC = 20;
/** Task lists fetched at once per definition. */
const TASK_FETCH_CONCURRENCY = 8;
/** Definitions of one target synced at once. */
const DEFINITION_CONCURRENCY = 4;

export interface HistoryDependencies {
  logger: Logger;
  prisma?: PrismaClient;
  secrets?: SecretResolver;
  clientFor?: (options: DolphinSchedulerClientOptions) => DolphinSchedulerClient;
  requestTimeoutMs?: number;
  /** The worker's egress-guarded connection pool (activities/index.ts). */
  dispatcher?: Dispatcher;
}

export function createHistoryActivities(deps: HistoryDependencies): HistoryActivities {
  const logger = deps.logger.child({ component: 'dolphinscheduler-history' });
  const database = (): PrismaClient => {
    if (deps.prisma) return deps.prisma;
    throw ApplicationFailure.create({ type: 'HistoryUnavailable', message: 'this worker has no DATABASE_URL; the history sync waits for a worker that has one' });
  };

  return {
    async listHistoryTargets(scope: HistorySyncScope): Promise<HistoryTargetGroup[]> {
      const bindings = await definitionBindings(database(), scope);
      const groups = new Map<string, HistoryTargetGroup>();
      for (const binding of bindings) {
        groups.set(`${binding.tenantId}/${binding.target}`, {
          tenantId: binding.tenantId,
          target: binding.target,
          ...(scope.templateId ? { templateId: scope.templateId } : {}),
        });
      }
      return [...groups.values()];
    },

    async syncTargetHistory(group: HistoryTargetGroup): Promise<TargetSyncResult> {
      const prisma = database();
      const bindings = await definitionBindings(prisma, group);
      const log = logger.child({ tenantId: group.tenantId, target: group.target });
      let client: DolphinSchedulerClient;
      try {
        ({ client } = await openTargetClient({ ...deps, prisma, logger: log }, group.tenantId, group.target));
      } catch (error) {
        if (!(error instanceof TargetUnusableError)) throw error;
        const failure: SyncError = { type: error.type, message: error.message, retryable: false };
        await Promise.all(bindings.map((binding) => recordCursor(prisma, binding, { error: failure })));
        log.warn({ error: failure }, 'history sync: target unusable');
        return { ...group, definitions: [], error: failure };
      }

      const results: DefinitionSyncResult[] = [];
      // After a failure that says the server is unreachable, the target's other definitions wait for the next sync.
      let unreachable: SyncError | undefined;
      const queue = [...bindings];
      const heartbeat = () => {
        try {
          Context.current().heartbeat({ done: results.length, of: bindings.length });
        } catch {
          // Outside an activity (tests calling the function directly) there is nothing to tell.
        }
      };
      const worker = async () => {
        for (let binding = queue.shift(); binding; binding = queue.shift()) {
          if (unreachable) {
            await recordCursor(prisma, binding, { error: unreachable });
            results.push({ templateId: binding.templateId, definitionCode: binding.definitionCode, added: 0, updated: 0, requests: 0, error: unreachable });
            continue;
          }
          const result = await syncDefinition(prisma, client, binding, heartbeat);
          if (result.error?.retryable) unreachable = result.error;
          results.push(result);
        }
      };
      await Promise.all(Array.from({ length: DEFINITION_CONCURRENCY }, worker));
      const failed = results.filter((result) => result.error);
      log.info(
        { definitions: results.length, failed: failed.length, added: sum(results, 'added'), updated: sum(results, 'updated'), requests: sum(results, 'requests') },
        'history sync of target done',
      );
      return { ...group, definitions: results };
    },
  };
}

/** Syncs one definition; DolphinScheduler failures are recorded on its cursor and answered, not thrown. */
export async function syncDefinition(
  prisma: PrismaClient,
  client: DolphinSchedulerClient,
  binding: DefinitionBinding,
  heartbeat: () => void = () => undefined,
): Promise<DefinitionSyncResult> {
  const key = { tenantId: binding.tenantId, target: binding.target };
  const cursor = await prisma.dolphinSchedulerHistoryCursor.findUnique({
    where: { tenantId_target_definitionCode: { ...key, definitionCode: BigInt(binding.definitionCode) } },
  });
  const watermark = cursor?.watermark?.getTime();
  const result: DefinitionSyncResult = { templateId: binding.templateId, definitionCode: binding.definitionCode, added: 0, updated: 0, requests: 0 };
  let newest = watermark;
  const seen = new Set<number>();
  try {
    for (let pageNo = 1; ; pageNo++) {
      const page = await client.listInstances(binding.projectCode, { definitionCode: binding.definitionCode, pageNo, pageSize: HISTORY_PAGE_SIZE });
      result.requests++;
      const instances = page.items;
      const cached = await cachedStates(prisma, binding, instances.map((instance) => instance.id));
      const changed: { instance: WorkflowInstance; withTasks: boolean }[] = [];
      for (const [index, instance] of instances.entries()) {
        seen.add(instance.id);
        const started = parseServerTime(instance.startTime)?.getTime();
        if (started !== undefined && (newest === undefined || started > newest)) newest = started;
        const before = cached.get(instance.id);
        if (before && !differs(before, instance)) continue;
        if (before) result.updated++;
        else result.added++;
        // Incremental syncs see recent instances only: all get their tasks. A first sync, the newest.
        const position = (pageNo - 1) * HISTORY_PAGE_SIZE + index;
        changed.push({ instance, withTasks: watermark !== undefined || position < TASK_DETAIL_NEWEST });
      }
      const tasks = await fetchTasks(client, binding, changed.filter((entry) => entry.withTasks).map((entry) => entry.instance));
      result.requests += tasks.size;
      await storeInstances(prisma, binding, changed.map(({ instance }) => ({ instance, tasks: tasks.get(instance.id) })));
      heartbeat();
      const reachedKnown = watermark !== undefined && instances.some((instance) => (parseServerTime(instance.startTime)?.getTime() ?? Infinity) < watermark);
      if (reachedKnown || instances.length === 0 || pageNo >= page.totalPage) break;
    }
    result.requests += await refreshStale(prisma, client, binding, seen, result);
    await recordCursor(prisma, binding, { watermark: newest });
  } catch (error) {
    if (!(error instanceof DolphinSchedulerError)) throw error;
    result.error = syncErrorOf(error);
    await recordCursor(prisma, binding, { error: result.error });
  }
  return result;
}

interface CachedState {
  state: string;
  runTimes: number | null;
  endTime: Date | null;
  hasTasks: boolean;
}

async function cachedStates(prisma: PrismaClient, binding: DefinitionBinding, ids: number[]): Promise<Map<number, CachedState>> {
  if (ids.length === 0) return new Map();
  const rows = await prisma.$queryRaw<{ instanceId: bigint; state: string; runTimes: number | null; endTime: Date | null; hasTasks: boolean }[]>`
    SELECT "instanceId", "state", "runTimes", "endTime", "tasks" IS NOT NULL AS "hasTasks"
    FROM "DolphinSchedulerExecution"
    WHERE "tenantId" = ${binding.tenantId}::uuid AND "target" = ${binding.target} AND "instanceId" = ANY(${ids.map(BigInt)}::bigint[])`;
  return new Map(rows.map((row) => [Number(row.instanceId), row]));
}

function differs(before: CachedState, instance: WorkflowInstance): boolean {
  return (
    before.state !== instance.state ||
    before.runTimes !== instance.runTimes ||
    (before.endTime?.getTime() ?? null) !== (parseServerTime(instance.endTime)?.getTime() ?? null)
  );
}

async function fetchTasks(client: DolphinSchedulerClient, binding: DefinitionBinding, instances: WorkflowInstance[]): Promise<Map<number, TaskInstance[]>> {
  const tasks = new Map<number, TaskInstance[]>();
  const queue = [...instances];
  const worker = async () => {
    for (let instance = queue.shift(); instance; instance = queue.shift()) {
      try {
        tasks.set(instance.id, await client.getInstanceTasks(binding.projectCode, instance.id));
      } catch (error) {
        // Deleted between the list and this call: it is gone from the next list too.
        if (!(error instanceof DolphinSchedulerNotFoundError)) throw error;
        tasks.set(instance.id, []);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TASK_FETCH_CONCURRENCY, queue.length) }, worker));
  return tasks;
}

/** Unfinished cached instances the pages did not show: asked for one by one, the longest unsynced first. */
async function refreshStale(
  prisma: PrismaClient,
  client: DolphinSchedulerClient,
  binding: DefinitionBinding,
  seen: Set<number>,
  result: DefinitionSyncResult,
): Promise<number> {
  // The ids seen travel as one array parameter: a first sync sees tens of thousands.
  const stale = await prisma.$queryRaw<{ instanceId: bigint }[]>`
    SELECT "instanceId" FROM "DolphinSchedulerExecution"
    WHERE "tenantId" = ${binding.tenantId}::uuid AND "target" = ${binding.target} AND "definitionCode" = ${BigInt(binding.definitionCode)}
      AND "state" <> ALL(${[...FINISHED_INSTANCE_STATES]}::text[])
      AND "instanceId" <> ALL(${[...seen].map(BigInt)}::bigint[])
    ORDER BY "syncedAt" ASC
    LIMIT ${STALE_LOOKUPS_PER_SYNC}`;
  let requests = 0;
  for (const { instanceId } of stale) {
    const id = Number(instanceId);
    requests++;
    let instance: WorkflowInstance;
    try {
      instance = await client.getInstance(binding.projectCode, id);
    } catch (error) {
      if (!(error instanceof DolphinSchedulerNotFoundError)) throw error;
      // Deleted in DolphinScheduler: the cache follows.
      await prisma.dolphinSchedulerExecution.delete({ where: { tenantId_target_instanceId: { tenantId: binding.tenantId, target: binding.target, instanceId } } });
      continue;
    }
    const tasks = await fetchTasks(client, binding, [instance]);
    requests += tasks.size;
    result.updated++;
    await storeInstances(prisma, binding, [{ instance, tasks: tasks.get(id) }]);
  }
  return requests;
}

/** One INSERT … ON CONFLICT for a page: a first sync of 10,000 instances is 100 statements. */
async function storeInstances(prisma: PrismaClient, binding: DefinitionBinding, entries: { instance: WorkflowInstance; tasks?: TaskInstance[] }[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map(({ instance, tasks }) => {
    const start = parseServerTime(instance.startTime);
    const end = parseServerTime(instance.endTime);
    return {
      instanceId: instance.id,
      definitionVersion: instance.definitionVersion,
      name: instance.name,
      state: instance.state,
      startTime: start?.toISOString() ?? null,
      endTime: end?.toISOString() ?? null,
      durationMs: start && end ? Math.max(0, end.getTime() - start.getTime()) : null,
      durationText: instance.duration,
      host: instance.host,
      runTimes: instance.runTimes,
      commandType: instance.commandType,
      scheduleTime: parseServerTime(instance.scheduleTime)?.toISOString() ?? null,
      executorName: instance.executorName,
      tasks: tasks ? tasks.map(taskSummary) : null,
      taskStates: tasks ? countStates(tasks) : null,
    };
  });
  await prisma.$executeRaw`
    INSERT INTO "DolphinSchedulerExecution" ("tenantId", "target", "instanceId", "templateId", "projectCode", "definitionCode",
      "definitionVersion", "name", "state", "startTime", "endTime", "durationMs", "durationText", "host", "runTimes", "commandType",
      "scheduleTime", "executorName", "tasks", "taskStates", "syncedAt")
    SELECT ${binding.tenantId}::uuid, ${binding.target}, r."instanceId", ${binding.templateId}::uuid, ${BigInt(binding.projectCode)},
      ${BigInt(binding.definitionCode)}, r."definitionVersion", r."name", r."state", r."startTime", r."endTime", r."durationMs",
      r."durationText", r."host", r."runTimes", r."commandType", r."scheduleTime", r."executorName", r."tasks", r."taskStates", now()
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r("instanceId" bigint, "definitionVersion" int, "name" text, "state" text,
      "startTime" timestamptz, "endTime" timestamptz, "durationMs" bigint, "durationText" text, "host" text, "runTimes" int,
      "commandType" text, "scheduleTime" timestamptz, "executorName" text, "tasks" jsonb, "taskStates" jsonb)
    ON CONFLICT ("tenantId", "target", "instanceId") DO UPDATE SET
      "templateId" = EXCLUDED."templateId", "definitionCode" = EXCLUDED."definitionCode", "definitionVersion" = EXCLUDED."definitionVersion",
      "name" = EXCLUDED."name", "state" = EXCLUDED."state", "startTime" = EXCLUDED."startTime", "endTime" = EXCLUDED."endTime",
      "durationMs" = EXCLUDED."durationMs", "durationText" = EXCLUDED."durationText", "host" = EXCLUDED."host",
      "runTimes" = EXCLUDED."runTimes", "commandType" = EXCLUDED."commandType", "scheduleTime" = EXCLUDED."scheduleTime",
      "executorName" = EXCLUDED."executorName",
      "tasks" = COALESCE(EXCLUDED."tasks", "DolphinSchedulerExecution"."tasks"),
      "taskStates" = COALESCE(EXCLUDED."taskStates", "DolphinSchedulerExecution"."taskStates"),
      "syncedAt" = now()`;
}

function taskSummary(task: TaskInstance) {
  return {
    name: task.name,
    taskCode: task.taskCode,
    taskType: task.taskType,
    state: task.state,
    startTime: parseServerTime(task.startTime)?.toISOString() ?? null,
    endTime: parseServerTime(task.endTime)?.toISOString() ?? null,
    host: task.host,
    retryTimes: task.retryTimes,
  };
}

function countStates(tasks: TaskInstance[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const task of tasks) counts[task.state] = (counts[task.state] ?? 0) + 1;
  return counts;
}

async function recordCursor(prisma: PrismaClient, binding: DefinitionBinding, outcome: { watermark?: number; error?: SyncError }): Promise<void> {
  const now = new Date();
  const fields = outcome.error
    ? { lastSyncAt: now, lastError: outcome.error as unknown as Prisma.InputJsonObject }
    : { lastSyncAt: now, lastSuccessAt: now, lastError: Prisma.DbNull, ...(outcome.watermark === undefined ? {} : { watermark: new Date(outcome.watermark) }) };
  await prisma.dolphinSchedulerHistoryCursor.upsert({
    where: { tenantId_target_definitionCode: { tenantId: binding.tenantId, target: binding.target, definitionCode: BigInt(binding.definitionCode) } },
    create: {
      tenantId: binding.tenantId,
      target: binding.target,
      definitionCode: BigInt(binding.definitionCode),
      templateId: binding.templateId,
      projectCode: BigInt(binding.projectCode),
      ...fields,
    },
    update: { templateId: binding.templateId, projectCode: BigInt(binding.projectCode), ...fields },
  });
}

export function syncErrorOf(error: DolphinSchedulerError): SyncError {
  return { type: error.name, message: error.message, retryable: error.retryable, ...(error.code === undefined ? {} : { code: error.code }) };
}

/**
 * DolphinScheduler's `yyyy-MM-dd HH:mm:ss`, read as UTC (the server's Jackson time zone; the
 * standalone server's is UTC). Anything else is undefined rather than a wrong date.
 */
export function parseServerTime(text: string | null | undefined): Date | undefined {
  if (!text) return undefined;
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 2026-13-45 over into 2027; only a date that reads back the same is one.
  const same = date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s;
  return same ? date : undefined;
}

function sum(results: DefinitionSyncResult[], field: 'added' | 'updated' | 'requests'): number {
  return results.reduce((total, result) => total + result[field], 0);
}
