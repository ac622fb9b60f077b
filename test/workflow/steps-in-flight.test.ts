import { temporal } from '@temporalio/proto';
import { approveUpdate } from '../../workflows/contract';
import { startTestWorker, type TestWorker } from '../support/worker';
import { runInput, startRun, waitForState, type RunHandle } from './support';

/**
 * The cap on steps in flight (workflows/engine/admission.ts): a run never has more steps holding
 * Temporal resources than `limits.maxStepsInFlight`; the rest wait in dependency order.
 */

let env: TestWorker;

beforeAll(async () => {
  env = await startTestWorker();
});
afterAll(async () => {
  await env?.shutdown();
});

const { EventType, WorkflowTaskFailedCause } = temporal.api.enums.v1;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The events of every run in the handle's continue-as-new chain, oldest first. */
async function chainEvents(handle: RunHandle): Promise<HistoryEvent[][]> {
  const runs: HistoryEvent[][] = [];
  let runId: string | null | undefined = handle.firstExecutionRunId;
  while (runId) {
    const events: HistoryEvent[] = (await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
    runs.push(events);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return runs;
}

/** The most activities one run had scheduled and not yet closed at any point of its history. */
function maxPendingActivities(events: HistoryEvent[]): number {
  let pending = 0;
  let max = 0;
  for (const { eventType } of events) {
    if (eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) max = Math.max(max, ++pending);
    else if (
      eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED ||
      eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED ||
      eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT ||
      eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED
    ) {
      pending--;
    }
  }
  return max;
}

/**
 * Workflow tasks that failed or timed out, except those the server closes itself to flush the
 * events buffered meanwhile (FORCE_CLOSE_COMMAND: over 100 activity completions arrived during one
 * task, which a fast fan-out on a busy machine causes); Temporal retries those at once, and its
 * own SDK tests tolerate them the same way.
 */
function failedTasks(events: HistoryEvent[]): HistoryEvent[] {
  return events.filter(
    (event) =>
      event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT ||
      (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED &&
        event.workflowTaskFailedEventAttributes?.cause !== WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND),
  );
}

test('a run 2,500 steps wide keeps at most the cap in flight, continues as new, and runs every step', async () => {
  const width = 2_500;
  const cap = 200;
  const steps = Array.from({ length: width }, (_, i) => ({ id: `w${i}`, type: 'noop' as const }));
  const handle = await startRun(env.client, env.taskQueue, runInput({ steps }, { limits: { maxStepsInFlight: cap } }));
  const result = await handle.result();

  expect(result.status).toBe('succeeded');
  expect(Object.values(result.steps).filter((step) => step.status === 'succeeded')).toHaveLength(width);
  const runs = await chainEvents(handle);
  // Three events per step make 7,500 events, and workflow tasks come on top: the server suggests
  // continuing as new well before the end. Each step was scheduled once across the chain.
  expect(runs.length).toBeGreaterThan(1);
  const scheduled = runs.flat().filter((event) => event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  expect(scheduled).toHaveLength(width);
  const maxPending = runs.map(maxPendingActivities);
  expect(Math.max(...maxPending)).toBe(cap);
  for (const events of runs) expect(failedTasks(events)).toEqual([]);
}, 300_000);

test('a group decided while members wait for a slot skips them', async () => {
  const members = Array.from({ length: 10 }, (_, i) => ({ id: `m${i}`, type: 'noop' as const }));
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput(
      { steps: [...members, { id: 'after', type: 'noop', dependsOn: ['race'] }], groups: [{ id: 'race', steps: members.map((m) => m.id), join: 'any' }] },
      { limits: { maxStepsInFlight: 2 } },
    ),
  );
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  expect(steps.m0!.status).toBe('succeeded');
  // m1 started with m0 and either finished first or was cancelled; the rest never started.
  for (const { id } of members.slice(2)) expect(steps[id]).toMatchObject({ status: 'skipped', skipReason: 'group' });
  expect(steps.after!.status).toBe('succeeded');
});

test('approvals waiting for decisions hold no slot', async () => {
  const approver = { subject: 'bob', roles: [] };
  const gates = ['g1', 'g2', 'g3'].map((id) => ({ id, type: 'approval' as const, with: { approvers: { users: [approver.subject] } } }));
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({ steps: [...gates, { id: 'work', type: 'noop' }] }, { limits: { maxStepsInFlight: 1 } }),
  );
  // With one slot, every approval still reaches its wait, and the step after them in the spec runs.
  await waitForState(handle, (state) => gates.every(({ id }) => state.steps[id]!.status === 'waiting_approval') && state.steps.work!.status === 'succeeded');
  for (const { id } of gates) await handle.executeUpdate(approveUpdate, { args: [{ stepId: id, actor: approver }] });
  expect((await handle.result()).status).toBe('succeeded');
});
