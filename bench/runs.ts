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

export function startEngineRun(env: BenchEnvironment, input: RunInput, taskQueue: string): Promise<WorkflowHandle> {
  return env.client.workflow.start('runTemplate', runStartOptions(input, { workflowId: `run-${randomUUID()}`, taskQueue }));
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

/** Events in a run's history, summed over its continue-as-new chain. */
export async function historyEventCounts(env: BenchEnvironment, workflowId: string): Promise<number[]> {
  const counts: number[] = [];
  let runId: string | undefined;
  // The first run of the chain; each run's last event names the next.
  const first = await env.client.workflow.getHandle(workflowId).describe();
  runId = first.raw.workflowExecutionInfo?.firstRunId ?? undefined;
  while (runId) {
    const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    counts.push(events.length);
    const last = events[events.length - 1];
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return counts;
}

export interface EventKinds {
  /** Scheduled, started, completed (or failed…) events of activities: what each step costs. */
  activity: number;
  /** Scheduled, started, completed of workflow tasks: how completions happened to be batched. */
  workflowTask: number;
  other: number;
}

/** A run's history events by kind, over its continue-as-new chain. */
export async function historyEventKinds(env: BenchEnvironment, workflowId: string): Promise<EventKinds> {
  const kinds: EventKinds = { activity: 0, workflowTask: 0, other: 0 };
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  for (const event of history.events ?? []) {
    const type = temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? '';
    if (type.startsWith('EVENT_TYPE_ACTIVITY_TASK_')) kinds.activity++;
    else if (type.startsWith('EVENT_TYPE_WORKFLOW_TASK_')) kinds.workflowTask++;
    else kinds.other++;
  }
  return kinds;
}
