import { startTestWorker, type TestWorker } from '../support/worker';
import { failedRunState, failureType, json, runInput, startHttpServer, startRun } from './support';

let env: TestWorker;
let http: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  env = await startTestWorker();
  http = await startHttpServer({
    '/echo': (request, response) => json(response, 200, { received: JSON.parse(request.body || 'null') }),
  });
});
afterAll(async () => {
  await env?.shutdown();
  await http?.close();
});

test('a linear DAG runs its steps in order and returns every output', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        { id: 'a', type: 'noop', with: { output: 1 } },
        { id: 'b', type: 'noop', with: { output: 2 }, dependsOn: ['a'] },
        { id: 'c', type: 'noop', with: { output: 3 }, dependsOn: ['b'] },
      ],
    }),
  );
  const result = await handle.result();
  expect(result.status).toBe('succeeded');
  expect(Object.values(result.steps).map((s) => [s.id, s.status, s.output, s.attempts])).toEqual([
    ['a', 'succeeded', 1, 1],
    ['b', 'succeeded', 2, 1],
    ['c', 'succeeded', 3, 1],
  ]);
  expect(Date.parse(result.steps.b!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(result.steps.a!.finishedAt!));
  expect(Date.parse(result.steps.c!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(result.steps.b!.finishedAt!));
});

test('independent branches run in parallel and a join waits for both', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput({
      steps: [
        { id: 'left', type: 'delay', with: { duration: '1s' } },
        { id: 'right', type: 'delay', with: { duration: '1s' } },
        { id: 'join', type: 'noop', dependsOn: ['left', 'right'] },
      ],
    }),
  );
  const result = await handle.result();
  expect(result.status).toBe('succeeded');
  const { left, right, join } = result.steps;
  // Each branch started before the other finished: they overlapped.
  expect(Date.parse(left!.startedAt!)).toBeLessThan(Date.parse(right!.finishedAt!));
  expect(Date.parse(right!.startedAt!)).toBeLessThan(Date.parse(left!.finishedAt!));
  expect(Date.parse(join!.startedAt!)).toBeGreaterThanOrEqual(Math.max(Date.parse(left!.finishedAt!), Date.parse(right!.finishedAt!)));
});

test('a false `when` skips a step; skipped steps satisfy dependants, failed ones skip them upstream', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput(
      {
        steps: [
          { id: 'gate', type: 'noop', when: 'inputs.deploy = true' },
          { id: 'afterGate', type: 'noop', with: { output: 'ran' }, dependsOn: ['gate'] },
          { id: 'broken', type: 'http', with: { url: http.url('/missing') }, onError: 'continue' },
          { id: 'afterBroken', type: 'noop', dependsOn: ['broken'] },
          { id: 'cascade', type: 'noop', dependsOn: ['afterBroken'] },
        ],
      },
      { inputs: { deploy: false } },
    ),
  );
  const { steps, status } = await handle.result();
  expect(status).toBe('succeeded');
  expect(steps.gate).toMatchObject({ status: 'skipped', skipReason: 'condition' });
  expect(steps.afterGate).toMatchObject({ status: 'succeeded', output: 'ran' });
  expect(steps.broken).toMatchObject({ status: 'failed', attempts: 1, error: { type: 'HttpClientError' } });
  expect(steps.afterBroken).toMatchObject({ status: 'skipped', skipReason: 'upstream' });
  expect(steps.cascade).toMatchObject({ status: 'skipped', skipReason: 'upstream' });
});

test('step outputs flow into later `with` templates and `when` conditions', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput(
      {
        steps: [
          { id: 'config', type: 'noop', with: { output: { replicas: 3, region: 'eu' } } },
          {
            id: 'call',
            type: 'http',
            dependsOn: ['config'],
            with: { method: 'POST', url: http.url('/echo'), body: { replicas: '{{ steps.config.output.replicas }}', who: 'by {{ inputs.user }}' } },
          },
          { id: 'big', type: 'noop', dependsOn: ['call'], when: 'steps.call.output.body.received.replicas > 2', with: { output: 'scaled' } },
          { id: 'small', type: 'noop', dependsOn: ['call'], when: 'steps.call.output.body.received.replicas <= 2' },
        ],
      },
      { inputs: { user: 'carol' } },
    ),
  );
  const { steps } = await handle.result();
  expect(steps.call!.output).toMatchObject({ status: 200, body: { received: { replicas: 3, who: 'by carol' } } });
  expect(steps.big).toMatchObject({ status: 'succeeded', output: 'scaled' });
  expect(steps.small).toMatchObject({ status: 'skipped', skipReason: 'condition' });
});

test('a rendered `with` that breaks the step type schema fails the step at once, naming the field', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput(
      { steps: [{ id: 'call', type: 'http', with: { url: '{{ inputs.target }}' } }] },
      { inputs: { target: 'not a url' } },
    ),
  );
  const failure = await handle.result().catch((error: unknown) => error);
  expect(failureType(failure)).toBe('RunFailed');
  const state = failedRunState(failure);
  expect(state.status).toBe('failed');
  expect(state.steps.call).toMatchObject({ status: 'failed', error: { type: 'InvalidStepInput' } });
  expect(state.steps.call!.error!.message).toContain('with.url');
});
