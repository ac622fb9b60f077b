import { startTestWorker, type TestWorker } from '../support/worker';
import { failedRunState, hang, json, runInput, startHttpServer, startRun } from './support';

let env: TestWorker;
let http: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  env = await startTestWorker();
  http = await startHttpServer({
    '/slow': hang,
    '/fail': (_request, response) => setTimeout(() => json(response, 400, { error: 'no' }), 300),
    '/ok': (_request, response) => setTimeout(() => json(response, 200, { ok: true }), 300),
  });
});
afterAll(async () => {
  await env?.shutdown();
  await http?.close();
});

function requestOf(workflowId: string, stepId: string) {
  return http.requests.find((r) => r.headers['idempotency-key'] === `${workflowId}:${stepId}:${stepId}`);
}

test('failFast cancels a running sibling on the first failure and skips the group dependants', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        { id: 'slow', type: 'http', with: { url: http.url('/slow'), timeout: '1m' } },
        { id: 'failing', type: 'http', with: { url: http.url('/fail') }, onError: 'continue' },
        { id: 'notStarted', type: 'noop', dependsOn: ['failing'] },
        { id: 'afterGroup', type: 'noop', dependsOn: ['checks'] },
      ],
      groups: [{ id: 'checks', steps: ['slow', 'failing', 'notStarted'], join: 'failFast' }],
    }),
  );
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  expect(steps.failing).toMatchObject({ status: 'failed', error: { type: 'HttpClientError' } });
  expect(steps.slow).toMatchObject({ status: 'cancelled', error: { type: 'GroupFailFast' } });
  expect(steps.notStarted).toMatchObject({ status: 'skipped' });
  expect(steps.afterGroup).toMatchObject({ status: 'skipped', skipReason: 'upstream' });
  expect(requestOf(handle.workflowId, 'slow')?.aborted).toBe(true);
});

test('any finishes on the first success, cancels running losers and skips the ones not started', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        { id: 'fast', type: 'http', with: { url: http.url('/ok') } },
        { id: 'slow', type: 'http', with: { url: http.url('/slow'), timeout: '1m' } },
        { id: 'late', type: 'noop', dependsOn: ['slow'] },
        { id: 'afterGroup', type: 'noop', dependsOn: ['race'], with: { output: 'went on' } },
      ],
      groups: [{ id: 'race', steps: ['fast', 'slow', 'late'], join: 'any' }],
    }),
  );
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  expect(steps.fast!.status).toBe('succeeded');
  expect(steps.slow).toMatchObject({ status: 'cancelled', error: { type: 'GroupAny' } });
  expect(steps.late).toMatchObject({ status: 'skipped', skipReason: 'group' });
  expect(steps.afterGroup).toMatchObject({ status: 'succeeded', output: 'went on' });
  expect(requestOf(handle.workflowId, 'slow')?.aborted).toBe(true);
});

test('a group timeout cancels what still runs and fails the group (and the run)', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        { id: 'quick', type: 'noop' },
        { id: 'slow', type: 'http', with: { url: http.url('/slow'), timeout: '1m' } },
        { id: 'afterGroup', type: 'noop', dependsOn: ['bounded'] },
      ],
      groups: [{ id: 'bounded', steps: ['quick', 'slow'], join: 'all', timeout: '1s' }],
    }),
  );
  const state = failedRunState(await handle.result().catch((e: unknown) => e));
  expect(state.status).toBe('failed');
  expect(state.error).toMatchObject({ type: 'GroupTimeout' });
  expect(state.steps.quick!.status).toBe('succeeded');
  expect(state.steps.slow).toMatchObject({ status: 'cancelled', error: { type: 'GroupTimeout' } });
  expect(state.steps.afterGroup!.status).toBe('cancelled');
  expect(requestOf(handle.workflowId, 'slow')?.aborted).toBe(true);
});
