import { WorkflowUpdateFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { pauseUpdate, type ControlCommand, type RunState } from '../../workflows/contract';
import { validateSpec } from '../../workflows/spec/validate';
import type { SpecInput } from '../../workflows/spec/schema';
import { startTestWorker, type TestWorker } from '../support/worker';
import { failedRunState, failureType, runInput, startRun, waitForState, type RunHandle } from './support';

/**
 * The crash guard (workflows/engine/crash-guard.ts): whatever a run's spec or input makes the engine
 * throw ends that run failed as RunCrashed, with its state, instead of failing its workflow task
 * forever. Each run here would have been wedged before the guard: retried by Temporal without end,
 * answering no query.
 */

let env: TestWorker;

beforeAll(async () => {
  env = await startTestWorker();
});
afterAll(async () => {
  await env?.shutdown();
});

const { EventType } = temporal.api.enums.v1;

/** The run's end within a bound a wedged run never meets, with what its history says about its workflow tasks. */
async function crashedRun(handle: RunHandle): Promise<{ type: string | undefined; state: RunState; failedTasks: number }> {
  const outcome = await Promise.race([
    handle.result().then(
      () => new Error('the run succeeded'),
      (error: unknown) => error,
    ),
    new Promise<Error>((resolve) => setTimeout(() => resolve(new Error('the run is stuck')), 20_000)),
  ]);
  const events = (await handle.fetchHistory()).events ?? [];
  return {
    type: failureType(outcome),
    state: failedRunState(outcome),
    failedTasks: events.filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED).length,
  };
}

test('a run deadline beyond what a date can hold ends the run crashed, not stuck', async () => {
  // The API refuses durations over ten years now, but runs started before that bound (or by a client
  // that skips the API) can carry one: ms() reads "300000y" as a finite duration, yet the deadline it
  // gives lies past the last date JavaScript can represent, so the engine's constructor throws a RangeError.
  const spec: SpecInput = { timeout: '300000y', steps: [{ id: 'a', type: 'noop' }, { id: 'b', type: 'noop', dependsOn: ['a'] }] };
  expect(validateSpec(spec).ok).toBe(false);

  const accepted = runInput({ ...spec, timeout: '1h' });
  const input = { ...accepted, spec: { ...accepted.spec, timeout: spec.timeout } };
  const { type, state, failedTasks } = await crashedRun(await startRun(env.client, env.taskQueue, input));
  expect(type).toBe('RunCrashed');
  expect(failedTasks).toBe(0);
  expect(state).toMatchObject({ status: 'failed', error: { type: 'RunCrashed' } });
  expect(state.error!.message).toMatch(/RangeError/);
  expect(Object.values(state.steps).map((step) => step.status)).toEqual(['cancelled', 'cancelled']);
});

test('carried state the scheduler cannot handle ends the run crashed, with the state as far as it got', async () => {
  const spec: SpecInput = { steps: [{ id: 'a', type: 'noop' }, { id: 'b', type: 'noop', dependsOn: ['a'] }] };
  const first = runInput(spec);
  const at = new Date().toISOString();
  const carried = {
    state: {
      status: 'running' as const,
      paused: false,
      held: [],
      startedAt: at,
      steps: {
        a: { id: 'a', type: 'noop', status: 'succeeded' as const, attempts: 1, startedAt: at, finishedAt: at },
        b: { id: 'b', type: 'noop', status: 'pending' as const, attempts: 0 },
      },
    },
    // A deadline for a group the spec does not have: resuming its timer throws a TypeError.
    groupDeadlines: { ghost: new Date(Date.now() + 60_000).toISOString() },
  };

  const { type, state, failedTasks } = await crashedRun(await startRun(env.client, env.taskQueue, { ...first, carried }));
  expect(type).toBe('RunCrashed');
  expect(failedTasks).toBe(0);
  expect(state.error).toMatchObject({ type: 'RunCrashed', message: expect.stringMatching(/while scheduling: TypeError/) });
  expect(state.steps.a).toMatchObject({ status: 'succeeded' });
  expect(state.steps.b).toMatchObject({ status: 'cancelled' });
});

test('an update handler that throws fails the update and ends the run crashed', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({ steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } }] }),
  );
  await waitForState(handle, (state) => state.status === 'waiting_approval');
  // A command without its actor (the API always names one; a client of Temporal may not) passes the
  // pause validator, which only looks at the run, and makes the handler throw a TypeError.
  const update = await handle.executeUpdate(pauseUpdate, { args: [{} as ControlCommand] }).catch((error: unknown) => error);
  expect(update).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((update as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'RunCrashed', message: expect.stringMatching(/in the pause update: TypeError/) });

  const { type, state, failedTasks } = await crashedRun(handle);
  expect(type).toBe('RunCrashed');
  expect(failedTasks).toBe(0);
  expect(state.steps.gate).toMatchObject({ status: 'cancelled' });
});
