import { randomUUID } from 'node:crypto';
import { startTestWorker, type TestWorker } from '../support/worker';
import { call, expectProblem, startApi, tokenFor, uniqueName, type Api } from './harness';

/**
 * Approvals with real tokens: who approves is what the credential says, and only that. alice (the
 * harness's admin) starts the runs; the step wants two approvals from the `sre` role. The API
 * judges a decision before sending it: a refused one never reaches the run, which the updates the
 * API's Temporal client sends (watched, not replaced) show.
 */

let worker: TestWorker;
let api: Api;
let tokens: { bob: string; dave: string; erin: string; carol: string; aliceApprover: string; viewer: string; operator: string };
let templateId: string;
/** The runs each update the API sent went to. */
const updatedRuns: string[] = [];

beforeAll(async () => {
  worker = await startTestWorker();
  api = await startApi({ taskQueue: worker.taskQueue });
  const service = api.temporal.workflowService;
  const send = service.updateWorkflowExecution.bind(service);
  jest.spyOn(service, 'updateWorkflowExecution').mockImplementation((request) => {
    updatedRuns.push(request.workflowExecution?.workflowId ?? '');
    return send(request);
  });
  tokens = {
    bob: await tokenFor(api, 'bob', ['approver', 'sre']),
    dave: await tokenFor(api, 'dave', ['approver', 'sre']),
    erin: await tokenFor(api, 'erin', ['approver', 'sre']),
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

const approve = (runId: string, token: string, json: unknown = {}, headers: Record<string, string> = { 'idempotency-key': randomUUID() }) =>
  call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { token, json, headers });

const updatesSentTo = (runId: string) => updatedRuns.filter((id) => id === runId).length;

async function gateOf(runId: string) {
  const run = await call(api, 'GET', `/api/v1/runs/${runId}`);
  return run.body.steps.find((step: { id: string }) => step.id === 'gate');
}

test('a quorum of two approvers, each named by their own token', async () => {
  const runId = await waitingRun();
  const first = await approve(runId, tokens.bob, { comment: 'one' });
  expect(first.status).toBe(200);
  expect(first.body.step).toMatchObject({ status: 'waiting_approval', approvals: [expect.objectContaining({ by: 'bob', decision: 'approved' })] });
  // The same approver again counts once.
  expect((await approve(runId, tokens.bob)).body.step.status).toBe('waiting_approval');

  const secondKey = { 'idempotency-key': randomUUID() };
  const second = await approve(runId, tokens.dave, { comment: 'two' }, secondKey);
  expect(second.status).toBe(200);
  expect(second.body.step).toMatchObject({ status: 'succeeded' });
  expect(second.body.step.approvals.map((decision: { by: string }) => decision.by)).toEqual(['bob', 'dave']);
  expect(updatesSentTo(runId)).toBe(3);

  // The same request again gets its first answer from the run, though the step no longer waits.
  const repeated = await approve(runId, tokens.dave, { comment: 'two' }, secondKey);
  expect(repeated.status).toBe(200);
  expect(repeated.body).toEqual(second.body);

  // A decision on a step already decided is a 409 from the API: nothing is sent.
  const sent = updatesSentTo(runId);
  const late = await approve(runId, tokens.erin);
  expectProblem(late, 409);
  expect(late.body.detail).toMatch(/step gate is not waiting for approval \(it is succeeded\)|run .* has finished/);
  expect(updatesSentTo(runId)).toBe(sent);
});

test('the API refuses before anything reaches the run: not an approver (403), a step that is no approval waiting (409)', async () => {
  const runId = await waitingRun();
  const notNamed = await approve(runId, tokens.carol, { comment: 'as bob' });
  expectProblem(notNamed, 403);
  expect(notNamed.body.detail).toBe('carol is not an approver of step gate');
  const reject = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/reject`, { token: tokens.carol, json: { reason: 'no' } });
  expectProblem(reject, 403);
  const notWaiting = await call(api, 'POST', `/api/v1/runs/${runId}/steps/after/approve`, { token: tokens.bob, json: {} });
  expectProblem(notWaiting, 409);
  expect(notWaiting.body.detail).toBe('step after is not waiting for approval (it is pending)');
  expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/steps/nope/approve`, { token: tokens.bob, json: {} }), 404);
  expect(updatesSentTo(runId)).toBe(0);
  expect(await gateOf(runId)).toMatchObject({ status: 'waiting_approval', approvals: [] });
});

test('approvers named by an expression are judged as the run rendered them, which the run reports', async () => {
  const template = await call(api, 'POST', '/api/v1/templates', {
    json: {
      name: uniqueName('owner-approves'),
      spec: {
        inputs: { type: 'object', properties: { owner: { type: 'string' } }, required: ['owner'] },
        steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['{{ inputs.owner }}'] } } }],
      },
    },
  });
  expect(template.status).toBe(201);
  const started = await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.body.id, input: { owner: 'dave' } } });
  const runId = started.body.runId as string;
  for (let attempt = 0; attempt < 200 && (await gateOf(runId))?.status !== 'waiting_approval'; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect((await gateOf(runId)).approvers).toEqual({ users: ['dave'], roles: [], required: 1, allowSelfApproval: false, requireRejectReason: false });

  // bob holds the sre role, which this step does not name; the owner the input named does.
  expectProblem(await approve(runId, tokens.bob), 403);
  expect(updatesSentTo(runId)).toBe(0);
  const approved = await approve(runId, tokens.dave);
  expect(approved.status).toBe(200);
  expect(approved.body.step).toMatchObject({ status: 'succeeded', approvals: [expect.objectContaining({ by: 'dave' })] });
  expect(updatesSentTo(runId)).toBe(1);
});

test('a token without the step’s role gets 403; a token without the approver role never reaches the run', async () => {
  const runId = await waitingRun();
  const notNamed = await approve(runId, tokens.carol);
  expectProblem(notNamed, 403);
  expect(notNamed.body.detail).toContain('carol is not an approver');
  const viewer = await approve(runId, tokens.viewer);
  expectProblem(viewer, 403);
  expect(viewer.body.detail).toContain('approver role');
  expect(updatesSentTo(runId)).toBe(0);
  expect(await gateOf(runId)).toMatchObject({ status: 'waiting_approval', approvals: [] });
});

test('the starter’s token is refused for self-approval, even with the role', async () => {
  const runId = await waitingRun();
  const refused = await approve(runId, tokens.aliceApprover);
  expectProblem(refused, 403);
  expect(refused.body.detail).toBe('alice started this run and may not approve it');
  expect(updatesSentTo(runId)).toBe(0);
  // Rejecting one's own run stays allowed: it only stops it.
  const rejected = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/reject`, { token: tokens.aliceApprover, json: { reason: 'not yet' } });
  expect(rejected.status).toBe(200);
  expect(updatesSentTo(runId)).toBe(1);
});

test('a body field naming another user changes nothing', async () => {
  const runId = await waitingRun();
  for (const body of [{ by: 'bob' }, { actor: { subject: 'bob', roles: ['sre'] } }, { subject: 'bob', comment: 'as bob' }]) {
    expectProblem(await approve(runId, tokens.carol, body), 400);
  }
  // Nor does a header or a query naming someone else.
  const asBob = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve?user=bob&roles=sre`, {
    token: tokens.carol,
    json: { comment: 'bob' },
    headers: { 'x-user': 'bob', 'x-roles': 'sre' },
  });
  expectProblem(asBob, 403);
  expect(asBob.body.detail).toBe('carol is not an approver of step gate');
  expect(updatesSentTo(runId)).toBe(0);
  expect(await gateOf(runId)).toMatchObject({ approvals: [] });
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
