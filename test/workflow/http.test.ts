import { WorkflowFailedError } from '@temporalio/client';
import { stateQuery } from '../../workflows/contract';
import { startTestWorker, type TestWorker } from '../support/worker';
import { failedRunState, failureType, hang, json, runInput, startHttpServer, startRun, waitForState } from './support';

let env: TestWorker;
let http: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  env = await startTestWorker();
  http = await startHttpServer({
    '/flaky': (_request, response, hits) => (hits < 3 ? json(response, 503, { error: 'busy' }) : json(response, 200, { ok: hits })),
    '/bad': (_request, response) => json(response, 400, { error: 'bad request' }),
    '/slow': hang,
    '/large': (_request, response) => json(response, 200, { blob: 'x'.repeat(100_000) }),
    '/ok': (_request, response) => json(response, 200, { ok: true }),
  });
});
afterAll(async () => {
  await env?.shutdown();
  await http?.close();
});

test('a step retried on 503 succeeds on its third attempt with a stable idempotency key', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        { id: 'call', type: 'http', with: { url: http.url('/flaky') }, retry: { maxAttempts: 3, initialInterval: '100ms' } },
      ],
    }),
  );
  const { steps } = await handle.result();
  expect(steps.call).toMatchObject({ status: 'succeeded', attempts: 3, output: { status: 200, body: { ok: 3 } } });
  const keys = http.requests.filter((r) => r.path === '/flaky').map((r) => r.headers['idempotency-key']);
  expect(keys).toHaveLength(3);
  expect(new Set(keys)).toEqual(new Set([`${handle.workflowId}:call:call`]));
});

test('an HTTP 400 fails the step at once, without retries, and fails the run', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({ steps: [{ id: 'call', type: 'http', with: { url: http.url('/bad') }, retry: { maxAttempts: 5, initialInterval: '100ms' } }] }),
  );
  const state = failedRunState(await handle.result().catch((e: unknown) => e));
  expect(state.status).toBe('failed');
  expect(state.steps.call).toMatchObject({ status: 'failed', attempts: 1, error: { type: 'HttpClientError' } });
  expect(state.error?.message).toContain('answered 400');
  expect(http.requests.filter((r) => r.path === '/bad')).toHaveLength(1);
});

test('a call the egress policy refuses fails its step at once with EgressDenied, and onError continue goes on', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        {
          id: 'metadata',
          type: 'http',
          with: { url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' },
          retry: { maxAttempts: 5, initialInterval: '100ms' },
          onError: 'continue',
        },
        { id: 'after', type: 'noop', dependsOn: ['metadata'], with: { output: 'ran' } },
        { id: 'sibling', type: 'http', with: { url: http.url('/ok') } },
      ],
    }),
  );
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  expect(steps.metadata).toMatchObject({
    status: 'failed',
    attempts: 1,
    error: {
      type: 'EgressDenied',
      message: expect.stringContaining('refused by egress policy: 169.254.169.254 is link-local (deny 169.254.0.0/16)'),
    },
  });
  // A failed dependency skips its dependants even under `continue`; the rest of the run goes on.
  expect(steps.after!.status).toBe('skipped');
  expect(steps.sibling).toMatchObject({ status: 'succeeded', output: { status: 200 } });
});

test('a step timeout ends an attempt that takes too long', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({ steps: [{ id: 'call', type: 'http', with: { url: http.url('/slow') }, timeout: '1s', retry: { maxAttempts: 1 }, onError: 'continue' }] }),
  );
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  expect(steps.call).toMatchObject({ status: 'failed', error: { type: 'StepTimeout' } });
});

test('an output larger than the limit is replaced by its size', async () => {
  const handle = await startRun(env.client, env.taskQueue, runInput({ steps: [{ id: 'call', type: 'http', with: { url: http.url('/large') } }] }));
  const { steps } = await handle.result();
  expect(steps.call!.output).toMatchObject({ status: 200, body: { truncated: true } });
  expect((steps.call!.output as { body: { bytes: number } }).body.bytes).toBeGreaterThan(64 * 1024);
});

test('cancelling a run aborts its running HTTP request and ends the run cancelled', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        { id: 'slow', type: 'http', with: { url: http.url('/slow'), timeout: '1m' } },
        { id: 'after', type: 'noop', dependsOn: ['slow'] },
      ],
    }),
  );
  await waitForState(handle, (state) => state.steps.slow!.status === 'running');
  await waitUntil(() => http.requests.some((r) => r.path === '/slow' && r.headers['idempotency-key']?.includes(handle.workflowId)));
  await handle.cancel();
  const error = await handle.result().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect((error as WorkflowFailedError).cause?.name).toBe('CancelledFailure');
  const request = http.requests.find((r) => r.path === '/slow' && r.headers['idempotency-key']?.includes(handle.workflowId))!;
  expect(request.aborted).toBe(true);
  const description = await handle.describe();
  expect(description.status.name).toBe('CANCELLED');
  const state = await handle.query(stateQuery);
  expect(state.status).toBe('cancelled');
  expect(state.steps.slow!.status).toBe('cancelled');
  expect(state.steps.after!.status).toBe('cancelled');
});

test('the run timeout cancels what runs and ends the run timed out', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      timeout: '2s',
      steps: [
        { id: 'slow', type: 'http', with: { url: http.url('/slow'), timeout: '1m' } },
        { id: 'after', type: 'noop', dependsOn: ['slow'] },
      ],
    }),
  );
  const error = await handle.result().catch((e: unknown) => e);
  expect(failureType(error)).toBe('RunTimedOut');
  const state = failedRunState(error);
  expect(state.status).toBe('timed_out');
  expect(state.error?.type).toBe('RunTimeout');
  expect(state.steps.slow!.status).toBe('cancelled');
  expect(state.steps.after!.status).toBe('cancelled');
  const request = http.requests.find((r) => r.path === '/slow' && r.headers['idempotency-key']?.includes(handle.workflowId))!;
  expect(request.aborted).toBe(true);
});

async function waitUntil(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 50));
  }
}
