import { WorkflowUpdateFailedError } from '@temporalio/client';
import { pauseUpdate, resumeUpdate, retryStepUpdate, skipStepUpdate, stateQuery } from '../../workflows/contract';
import { startTestWorker, type TestWorker } from '../support/worker';
import { json, runInput, startHttpServer, startRun, waitForState } from './support';

let env: TestWorker;
let http: Awaited<ReturnType<typeof startHttpServer>>;
const operator = { subject: 'olga', roles: ['ops'] };

beforeAll(async () => {
  env = await startTestWorker();
  http = await startHttpServer({
    // Fails the first call of each run (its key ends in the bare step id), succeeds on an operator re-run.
    '/once': (request, response) =>
      String(request.headers['idempotency-key']).endsWith('#2') ? json(response, 200, { ok: true }) : json(response, 400, { error: 'no' }),
  });
});
afterAll(async () => {
  await env?.shutdown();
  await http?.close();
});

/** A run whose first step fails once with 4xx and, with onError pause, holds the run. */
function startHeldRun() {
  return startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        { id: 'call', type: 'http', with: { url: http.url('/once') }, onError: 'pause' },
        { id: 'after', type: 'noop', dependsOn: ['call'], with: { output: 'ran' } },
      ],
    }),
  );
}

async function refusalType(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((error as WorkflowUpdateFailedError).cause as unknown as { type?: string }).type;
}

test('while paused no new step starts; running ones finish; resume goes on', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        { id: 'first', type: 'delay', with: { duration: '1s' } },
        { id: 'second', type: 'noop', dependsOn: ['first'] },
      ],
    }),
  );
  await waitForState(handle, (state) => state.steps.first!.status === 'running');
  const paused = await handle.executeUpdate(pauseUpdate, { args: [{ actor: operator, reason: 'freeze' }] });
  expect(paused).toMatchObject({ paused: true, status: 'paused' });
  expect(await refusalType(handle.executeUpdate(pauseUpdate, { args: [{ actor: operator }] }))).toBe('Conflict');

  await waitForState(handle, (state) => state.steps.first!.status === 'succeeded');
  await new Promise((r) => setTimeout(r, 1000));
  const stillPaused = await handle.query(stateQuery);
  expect(stillPaused).toMatchObject({ status: 'paused', steps: { second: { status: 'pending' } } });

  const resumed = await handle.executeUpdate(resumeUpdate, { args: [{ actor: operator }] });
  expect(resumed.paused).toBe(false);
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  expect(Date.parse(steps.second!.startedAt!)).toBeGreaterThan(Date.parse(steps.first!.finishedAt!) + 900);
  await waitForCount(`WorkflowId = '${handle.workflowId}' AND RunStatus = 'succeeded'`);
});

test('a step failing with onError pause is held until an operator retries it', async () => {
  const handle = await startHeldRun();
  const held = await waitForState(handle, (state) => state.status === 'held');
  expect(held.held).toEqual(['call']);
  expect(held.steps.call).toMatchObject({ status: 'failed', error: { type: 'HttpClientError' } });
  expect(held.steps.after!.status).toBe('pending');
  expect(await refusalType(handle.executeUpdate(retryStepUpdate, { args: [{ stepId: 'after', actor: operator }] }))).toBe('Conflict');
  expect(await refusalType(handle.executeUpdate(retryStepUpdate, { args: [{ stepId: 'nope', actor: operator }] }))).toBe('NotFound');

  const retried = await handle.executeUpdate(retryStepUpdate, { args: [{ stepId: 'call', actor: operator }] });
  expect(retried.attempts).toBe(0);
  const { status, steps, held: stillHeld } = await handle.result();
  expect(status).toBe('succeeded');
  expect(stillHeld).toEqual([]);
  expect(steps.call).toMatchObject({ status: 'succeeded', attempts: 1 });
  expect(steps.call!.error).toBeUndefined();
  expect(steps.after!.status).toBe('succeeded');
  const keys = http.requests.filter((r) => String(r.headers['idempotency-key']).startsWith(handle.workflowId)).map((r) => r.headers['idempotency-key']);
  expect(keys).toEqual([`${handle.workflowId}:call:call`, `${handle.workflowId}:call:call#2`]);
});

test('a held step skipped by an operator lets its dependants run', async () => {
  const handle = await startHeldRun();
  await waitForState(handle, (state) => state.status === 'held');
  const skipped = await handle.executeUpdate(skipStepUpdate, { args: [{ stepId: 'call', actor: operator }] });
  expect(skipped).toMatchObject({ status: 'skipped', skipReason: 'operator' });
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  expect(steps.after).toMatchObject({ status: 'succeeded', output: 'ran' });
});

test('a held run shows as held in visibility and can be cancelled by an operator', async () => {
  const handle = await startHeldRun();
  await waitForState(handle, (state) => state.status === 'held');
  await waitForCount(`WorkflowId = '${handle.workflowId}' AND RunStatus = 'held'`);
  await handle.cancel();
  const error = await handle.result().catch((e: unknown) => e);
  expect((error as Error & { cause?: Error }).cause?.name).toBe('CancelledFailure');
  const state = await handle.query(stateQuery);
  expect(state).toMatchObject({ status: 'cancelled', held: [], steps: { call: { status: 'failed' }, after: { status: 'cancelled' } } });
  await waitForCount(`WorkflowId = '${handle.workflowId}' AND RunStatus = 'cancelled'`);
});

/** Visibility is eventually consistent: polls until the query counts one run. */
async function waitForCount(query: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await env.client.workflow.count(query)).count !== 1) {
    if (Date.now() > deadline) throw new Error(`no run matched ${query}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
