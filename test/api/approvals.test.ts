import { randomUUID } from 'node:crypto';
import { startTestWorker, type TestWorker } from '../support/worker';
import { call, expectProblem, startApi, tokenFor, uniqueName, type Api } from './harness';

/**
 * Approvals with real tokens: who approves is what the credential says, and only that. alice (the
 * harness's admin) starts the runs; the step wants two approvals from the `sre` role.
 */

let worker: TestWorker;
let api: Api;
let tokens: { bob: string; dave: string; carol: string; aliceApprover: string; viewer: string; operator: string };
let templateId: string;

beforeAll(async () => {
  worker = await startTestWorker();
  api = await startApi({ taskQueue: worker.taskQueue });
  tokens = {
    bob: await tokenFor(api, 'bob', ['approver', 'sre']),
    dave: await tokenFor(api, 'dave', ['approver', 'sre']),
    // An approver of the tenant, but not of this step: it names the sre role only.
    carol: await tokenFor(api, 'carol', ['approver']),
    aliceApprover: await tokenFor(api, 'alice', ['approver', 'sre']),
    viewer: await tokenFor(api, 'vera', ['viewer', 'sre']),
    operator: await tokenFor(api, 'oscar', ['operator']),
  };
  const template = await call(api, 'POST', '/api/v1/templates', {
    json: {
      name: uniqueName('quorum'),
      spec: {
        steps: [
          { id: 'gate', type: 'approval', with: { approvers: { roles: ['sre'] }, required: 2 } },
          { id: 'after', type: 'noop', dependsOn: ['gate'] },
        ],
      },
    },
  });
  templateId = template.body.id;
}, 120_000);

afterAll(async () => {
  await api?.close();
  await worker?.shutdown();
});

async function waitingRun(): Promise<string> {
  const started = await call(api, 'POST', '/api/v1/runs', { json: { templateId } });
  expect(started.status).toBe(201);
  const { runId } = started.body as { runId: string };
  for (let attempt = 0; attempt < 200; attempt++) {
    const run = await call(api, 'GET', `/api/v1/runs/${runId}`);
    if (run.body.status === 'waiting_approval') return runId;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`run ${runId} never waited for its approval`);
}

const approve = (runId: string, token: string, json: unknown = {}) =>
  call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { token, json, headers: { 'idempotency-key': randomUUID() } });

test('a quorum of two approvers, each named by their own token', async () => {
  const runId = await waitingRun();
  const first = await approve(runId, tokens.bob, { comment: 'one' });
  expect(first.status).toBe(200);
  expect(first.body.step).toMatchObject({ status: 'waiting_approval', approvals: [expect.objectContaining({ by: 'bob', decision: 'approved' })] });
  // The same approver again counts once.
  expect((await approve(runId, tokens.bob)).body.step.status).toBe('waiting_approval');

  const second = await approve(runId, tokens.dave, { comment: 'two' });
  expect(second.status).toBe(200);
  expect(second.body.step).toMatchObject({ status: 'succeeded' });
  expect(second.body.step.approvals.map((decision: { by: string }) => decision.by)).toEqual(['bob', 'dave']);
});

test('a token without the step’s role gets 403; a token without the approver role never reaches the run', async () => {
  const runId = await waitingRun();
  const notNamed = await approve(runId, tokens.carol);
  expectProblem(notNamed, 403);
  expect(notNamed.body.detail).toContain('carol is not an approver');
  const viewer = await approve(runId, tokens.viewer);
  expectProblem(viewer, 403);
  expect(viewer.body.detail).toContain('approver role');
  const run = await call(api, 'GET', `/api/v1/runs/${runId}`);
  expect(run.body.steps.find((step: { id: string }) => step.id === 'gate')).toMatchObject({ status: 'waiting_approval', approvals: [] });
});

test('the starter’s token is refused for self-approval, even with the role', async () => {
  const runId = await waitingRun();
  const refused = await approve(runId, tokens.aliceApprover);
  expectProblem(refused, 403);
  expect(refused.body.detail).toContain('started this run');
});

test('a body field naming another user changes nothing', async () => {
  const runId = await waitingRun();
  for (const body of [{ by: 'bob' }, { actor: { subject: 'bob', roles: ['sre'] } }, { subject: 'bob', comment: 'as bob' }]) {
    expectProblem(await approve(runId, tokens.carol, body), 400);
  }
  const run = await call(api, 'GET', `/api/v1/runs/${runId}`);
  expect(run.body.steps.find((step: { id: string }) => step.id === 'gate')).toMatchObject({ approvals: [] });
});

test('pause, resume and cancel record who did them', async () => {
  const runId = await waitingRun();
  expect((await call(api, 'POST', `/api/v1/runs/${runId}/pause`, { token: tokens.operator, json: { reason: 'hold on' } })).status).toBe(200);
  expect((await call(api, 'POST', `/api/v1/runs/${runId}/resume`, { token: tokens.operator })).status).toBe(200);
  expect((await call(api, 'POST', `/api/v1/runs/${runId}/cancel`, { token: tokens.operator })).status).toBe(202);
  let events: Array<{ type: string; actor?: string }> = [];
  for (let attempt = 0; attempt < 100 && !events.some((event) => event.type === 'run.finished'); attempt++) {
    events = (await call(api, 'GET', `/api/v1/runs/${runId}/events`)).body.events;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const byWhom = events.filter((event) => event.type.startsWith('run.')).map((event) => [event.type, event.actor]);
  expect(byWhom).toEqual([
    ['run.paused', 'oscar'],
    ['run.resumed', 'oscar'],
    ['run.cancel_requested', 'oscar'],
    ['run.finished', undefined],
  ]);
});
