import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { RunInput } from '../workflows/contract';
import { parseSpecOrThrow } from '../workflows/spec/validate';
import type { SpecInput } from '../workflows/spec/schema';
import { runStartOptions } from '../apps/common/run-start-options';
import type { BenchEnvironment } from './environment';

export function runInput(spec: SpecInput, startedBy = 'bench'): RunInput {
  return { templateId: 'bench', templateName: 'bench', templateVersion: 1, spec: parseSpecOrThrow(spec), inputs: {}, startedBy };
}

/** With a tenant, the run is one the API shows and controls for that tenant. */
export function startEngineRun(env: BenchEnvironment, input: RunInput, taskQueue: string, tenantId?: string): Promise<WorkflowHandle> {
  const options = runStartOptions(input, { workflowId: `run-${randomUUID()}`, taskQueue, ...(tenantId ? { tenantId } : {}) });
  return env.client.workflow.start('runTemplate', options);
}

/** Wall time of one engine run, start call to result. */
export async function timeEngineRun(env: BenchEnvironment, input: RunInput, taskQueue: string): Promise<{ ms: number; handle: WorkflowHandle }> {
  const begin = performance.now();
  const handle = await startEngineRun(env, input, taskQueue);
  await handle.result();
  return { ms: performance.now() - begin, handle };
}

/** Wall time of one hand-written run, start call to result. */
export async function timeHandWrittenRun(env: BenchEnvironment, workflowType: string, arg: number, taskQueue: string): Promise<{ ms: number; handle: WorkflowHandle }> {
  const begin = performance.now();
  const handle = await env.client.workflow.start(workflowType, { args: [arg], taskQueue, workflowId: `run-${randomUUID()}` });
  await handle.result();
  return { ms: performance.now() - begin, handle };
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The events of each run in a workflow's continue-as-new chain, oldest run first. */
async function chainEvents(env: BenchEnvironment, workflowId: string): Promise<HistoryEvent[][]> {
  const runs: HistoryEvent[][] = [];
  // The first run of the chain; each run's last event names the next.
  const first = await env.client.workflow.getHandle(workflowId).describe();
  let runId = first.raw.workflowExecutionInfo?.firstRunId ?? undefined;
  while (runId) {
    const events = (await env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    runs.push(events);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

/** How many events each run of the chain has. */
export async function historyEventCounts(env: BenchEnvironment, workflowId: string): Promise<number[]> {
  return (await chainEvents(env, workflowId)).map((events) => events.length);
}

/** The most activities one run of the chain had scheduled and not yet closed at any point of its history. */
export async function peakPendingActivities(env: BenchEnvironment, workflowId: string): Promise<number> {
  const { EventType } = temporal.api.enums.v1;
  const closing = new Set([
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
  ]);
  let peak = 0;
  for (const events of await chainEvents(env, workflowId)) {
    let pending = 0;
    for (const { eventType } of events) {
      if (eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) peak = Math.max(peak, ++pending);
      else if (eventType != null && closing.has(eventType)) pending--;
    }
  }
  return peak;
}

export interface EventKinds {
  /** Scheduled, started, completed (or failed…) events of activities: what each step costs. */
  activity: number;
  /** Scheduled, started, completed of workflow tasks: how completions happened to be batched. */
  workflowTask: number;
  other: number;
}

/** All events of the chain, and the same by kind. */
export async function historyEventSummary(env: BenchEnvironment, workflowId: string): Promise<{ total: number; kinds: EventKinds }> {
  const events = (await chainEvents(env, workflowId)).flat();
  const kinds: EventKinds = { activity: 0, workflowTask: 0, other: 0 };
  for (const event of events) {
    const type = temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? '';
    if (type.startsWith('EVENT_TYPE_ACTIVITY_TASK_')) kinds.activity++;
    else if (type.startsWith('EVENT_TYPE_WORKFLOW_TASK_')) kinds.workflowTask++;
    else kinds.other++;
  }
  return { total: events.length, kinds };
}
