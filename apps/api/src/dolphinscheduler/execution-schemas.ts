import { z } from 'zod';
import { QueryBoolean } from '../http/validation';
import { TargetNameParam } from './target-schemas';

/** Request and response shapes of a template's executions in DolphinScheduler (the history cache). */

export const ListExecutionsQuery = z
  .object({
    target: TargetNameParam.optional().meta({ description: 'Only this target’s executions' }),
    limit: z.coerce.number().int().min(1).max(100).default(10),
    refresh: QueryBoolean.default(false).meta({
      description: 'Sync this template’s history from DolphinScheduler first; the answer waits for it at most the refresh wait (15 s by default), then answers from the cache',
    }),
  })
  .strict();
export type ExecutionListQuery = z.output<typeof ListExecutionsQuery>;

const TaskState = z.object({
  name: z.string(),
  taskCode: z.number(),
  taskType: z.string(),
  state: z.string(),
  startTime: z.string().nullable(),
  endTime: z.string().nullable(),
  host: z.string().nullable(),
  retryTimes: z.number().int(),
});

export const ExecutionResource = z
  .object({
    target: z.string(),
    instanceId: z.number().int(),
    name: z.string(),
    state: z.string().meta({ description: 'As DolphinScheduler says (SUCCESS, FAILURE, RUNNING_EXECUTION, … and any state a newer server adds)' }),
    definitionCode: z.number(),
    definitionVersion: z.number().int().nullable(),
    startTime: z.string().nullable(),
    endTime: z.string().nullable(),
    durationMs: z.number().int().nullable(),
    duration: z.string().nullable().meta({ description: 'The server’s own text, e.g. `1m 2s`' }),
    host: z.string().nullable(),
    runTimes: z.number().int().nullable(),
    commandType: z.string().nullable(),
    scheduleTime: z.string().nullable(),
    executorName: z.string().nullable(),
    tasks: z.array(TaskState).nullable().meta({ description: 'Task instances; null for older instances a first sync did not fetch them for' }),
    taskStates: z.record(z.string(), z.number().int()).nullable().meta({ description: 'Task state → count' }),
    syncedAt: z.string(),
  })
  .openapi('DolphinSchedulerExecution');

const SyncStatus = z.object({
  target: z.string(),
  definitionCode: z.number(),
  lastSyncAt: z.string().nullable(),
  lastSuccessAt: z.string().nullable(),
  lastError: z.record(z.string(), z.unknown()).nullable().meta({ description: 'Why the last sync failed (e.g. the target was down); the cache holds what the last successful one saw' }),
});

export const ExecutionList = z
  .object({
    items: z.array(ExecutionResource).meta({ description: 'Newest start first' }),
    sync: z.array(SyncStatus),
    refresh: z
      .object({
        status: z.enum(['completed', 'pending', 'recent']).meta({
          description: '`pending`: the sync goes on in the background, ask again; `recent`: every definition was synced moments ago (HISTORY_REFRESH_MIN_INTERVAL_MS), so the cache answered without calling DolphinScheduler',
        }),
        workflowId: z.string(),
        errors: z.array(z.object({ target: z.string(), message: z.string() })),
      })
      .optional(),
  })
  .openapi('DolphinSchedulerExecutionList');
