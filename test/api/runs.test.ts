import { randomUUID } from 'node:crypto';
import type { RunEvent } from '../../apps/api/src/runs/history-events';
import pino from 'pino';
import { startTestWorker, type TestWorker } from '../support/worker';
import { json, runInput, startHttpServer, startRun as startRunDirectly } from '../workflow/support';
import { bearer, call, expectProblem, startApi, tokenFor, uniqueName, type Answer, type Api } from './harness';
import { eventually } from '../support/eventually';

/**
 * The runs API over real HTTP, with a real worker running the real workflow on the task queue the
 * API starts runs on. Visibility is eventually consistent, so list assertions poll.
 */

let worker: TestWorker;
let api: Api;
/**
 * Tokens of the API's tenant. The harness's own token is alice's (admin): she starts the runs.
 * bob is named by the approval step; dave holds its `approvers` role; carol holds neither.
 */
const tokens: Record<'bob' | 'carol' | 'dave' | 'aliceApprover' | 'carolOperator', string> = {} as never;
/** What the API logged, to see what happens on the server side of a stream. */
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  worker = await startTestWorker();
  const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(JSON.parse(line)) });
  api = await startApi({ taskQueue: worker.taskQueue, logger });
  tokens.bob = await tokenFor(api, 'bob', ['approver']);
  tokens.carol = await tokenFor(api, 'carol', ['approver']);
  tokens.dave = await tokenFor(api, 'dave', ['approver', 'approvers']);
  tokens.aliceApprover = await tokenFor(api, 'alice', ['approver', 'approvers']);
  tokens.carolOperator = await tokenFor(api, 'carol', ['operator']);
}, 120_000);

afterAll(async () => {
  await api?.close();
  await worker?.shutdown();
});

const orderInputs = {
  type: 'object',
  properties: { orderId: { type: 'string', minLength: 1 }, amount: { type: 'number', minimum: 0 } },
  required: ['orderId'],
  additionalProperties: false,
};

/** prepare → gate (approval by bob or an `approvers` role) → finish. */
function approvalSpec(approval: Record<string, unknown> = {}) {
  return {
    inputs: orderInputs,
    steps: [
      { id: 'prepare', type: 'noop', with: { output: { prepared: true } } },
      { id: 'gate', type: 'approval', dependsOn: ['prepare'], with: { approvers: { users: ['bob'], roles: ['approvers'] }, ...approval } },
      { id: 'finish', type: 'noop', dependsOn: ['gate'], with: { output: 'done' } },
    ],
  };
}

async function createTemplate(spec: unknown): Promise<{ id: string; latestVersion: number }> {
  const answer = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('runs'), spec } });
  if (answer.status !== 201) throw new Error(`creating a template failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function startRun(templateId: string, input: unknown = { orderId: 'A-1' }, headers: Record<string, string> = {}) {
  const answer = await call(api, 'POST', '/api/v1/runs', { json: { templateId, input }, headers });
  if (answer.status !== 201) throw new Error(`starting a run failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as { runId: string };
}


const getRun = (runId: string) => call(api, 'GET', `/api/v1/runs/${runId}`);
const stepOf = (answer: Answer, stepId: string) => answer.body.steps?.find((s: { id: string }) => s.id === stepId);
const untilGateWaits = (runId: string) =>
  eventually(() => getRun(runId), (answer) => stepOf(answer, 'gate')?.status === 'waiting_approval');
const untilStatus = (runId: string, status: string) => eventually(() => getRun(runId), (answer) => answer.body.status === status);

interface SseFrame {
  id: string;
  event: string;
  data: string;
}

async function* sseFrames(response: Response): AsyncGenerator<SseFrame> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((line) => !line.startsWith(':'))
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
      );
      if (fields.event) yield fields as unknown as SseFrame;
    }
  }
}

function openStream(runId: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${api.baseUrl}/api/v1/runs/${runId}/events`, {
    headers: { accept: 'text/event-stream', ...bearer(api.token), ...headers },
  });
}

describe('POST /api/v1/runs', () => {
  let template: { id: string; latestVersion: number };
  beforeAll(async () => {
    template = await createTemplate(approvalSpec());
  });

  test('starts a run of the latest version and GET shows its steps', async () => {
    const answer = await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.id, input: { orderId: 'A-1' } } });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      runId: expect.stringMatching(/^run-[0-9a-f-]{36}$/),
      workflowId: answer.body.runId,
      templateId: template.id,
      version: 1,
      status: 'running',
      links: {
        self: `/api/v1/runs/${answer.body.runId}`,
        events: `/api/v1/runs/${answer.body.runId}/events`,
        cancel: `/api/v1/runs/${answer.body.runId}/cancel`,
      },
    });
    expect(answer.headers.get('location')).toBe(`/api/v1/runs/${answer.body.runId}`);

    const run = await untilGateWaits(answer.body.runId);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({
      runId: answer.body.runId,
      status: 'waiting_approval',
      templateId: template.id,
      version: 1,
      startedBy: 'alice',
      closedAt: null,
      paused: false,
    });
    expect(stepOf(run, 'prepare')).toMatchObject({ status: 'succeeded', attempts: 1, output: { prepared: true } });
    expect(stepOf(run, 'finish')).toMatchObject({ status: 'pending' });
  });

  test('404 for unknown templates, versions and runs; 400 for a malformed body', async () => {
    expectProblem(await call(api, 'POST', '/api/v1/runs', { json: { templateId: randomUUID(), input: {} } }), 404);
    expectProblem(await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.id, version: 9, input: { orderId: 'x' } } }), 404);
    expectProblem(await getRun(`run-${randomUUID()}`), 404);
    expectProblem(await getRun('not-a-run'), 404);
    expectProblem(await call(api, 'GET', `/api/v1/runs/run-${randomUUID()}/events`), 404);
    const malformed = await call(api, 'POST', '/api/v1/runs', { json: { templateId: 'nope', input: [], extra: 1 } });
    expectProblem(malformed, 400);
    expect(malformed.body.invalidParams.map((p: { path: unknown[] }) => p.path)).toEqual(
      expect.arrayContaining([['body', 'templateId'], ['body', 'input'], ['body']]),
    );
  });

  test('422 with the offending input paths when the input does not match the schema', async () => {
    const answer = await call(api, 'POST', '/api/v1/runs', {
      json: { templateId: template.id, input: { amount: -1, colour: 'red' } },
    });
    expectProblem(answer, 422);
    expect(answer.body.invalidParams.map((p: { path: unknown[] }) => p.path)).toEqual(
      expect.arrayContaining([['input', 'orderId'], ['input', 'amount'], ['input', 'colour']]),
    );
  });

  test('409 for an archived template', async () => {
    const archived = await createTemplate(approvalSpec());
    await api.prisma.template.update({ where: { id: archived.id }, data: { archived: true } });
    expectProblem(await call(api, 'POST', '/api/v1/runs', { json: { templateId: archived.id, input: { orderId: 'x' } } }), 409);
  });

  test('Idempotency-Key: the same request gets the same run, another request with the key gets 409', async () => {
    const key = { 'idempotency-key': randomUUID() };
    const body = { templateId: template.id, input: { orderId: 'I-1' } };
    const first = await call(api, 'POST', '/api/v1/runs', { json: body, headers: key });
    expect(first.status).toBe(201);
    expect(first.body.runId).toMatch(/^run-[0-9a-f]{32}$/);
    const again = await call(api, 'POST', '/api/v1/runs', { json: body, headers: key });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ runId: first.body.runId, templateId: template.id, version: 1 });

    const different = await call(api, 'POST', '/api/v1/runs', { json: { ...body, input: { orderId: 'I-2' } }, headers: key });
    expectProblem(different, 409);
    expect(different.body.runId).toBe(first.body.runId);

    // Still the same run once it has finished: a keyed id never starts twice.
    await call(api, 'POST', `/api/v1/runs/${first.body.runId}/cancel`);
    await untilStatus(first.body.runId, 'cancelled');
    const afterClose = await call(api, 'POST', '/api/v1/runs', { json: body, headers: key });
    expect(afterClose.status).toBe(200);
    expect(afterClose.body).toMatchObject({ runId: first.body.runId, status: 'cancelled' });

    // The key belongs to its caller: someone else using it starts their own run.
    const otherCaller = await call(api, 'POST', '/api/v1/runs', { json: body, headers: key, token: tokens.carolOperator });
    expect(otherCaller.status).toBe(201);
    expect(otherCaller.body.runId).not.toBe(first.body.runId);
  });
});

describe('GET /api/v1/runs', () => {
  test('lists runs from visibility with filters and cursor paging', async () => {
    const template = await createTemplate(approvalSpec());
    const startedAfter = new Date(Date.now() - 1000).toISOString();
    // A quote in the value: the query must match it literally.
    const starter = `o'lister-${randomUUID()}`;
    const starterToken = await tokenFor(api, starter, ['operator']);
    const runs = [];
    for (const orderId of ['L-1', 'L-2', 'L-3']) runs.push(await startRun(template.id, { orderId }, bearer(starterToken)));
    const runIds = runs.map((run) => run.runId).sort();

    const byTemplate = await eventually(
      () => call(api, 'GET', `/api/v1/runs?templateId=${template.id}&status=waiting_approval`),
      (answer) => answer.body.items?.length === 3,
    );
    expect(byTemplate.body.items.map((item: { runId: string }) => item.runId).sort()).toEqual(runIds);
    expect(byTemplate.body.items[0]).toEqual({
      runId: expect.any(String),
      templateId: template.id,
      version: 1,
      status: 'waiting_approval',
      startedBy: starter,
      startedAt: expect.any(String),
      closedAt: null,
      summary: expect.stringMatching(/^runs-.* v1$/),
    });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `startedBy=${encodeURIComponent(starter)}&version=1&startedAfter=${startedAfter}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page: Answer = await call(api, 'GET', `/api/v1/runs?${query}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((item: { runId: string }) => item.runId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(runIds);

    const none = await call(api, 'GET', `/api/v1/runs?templateId=${template.id}&status=succeeded,failed`);
    expect(none.body).toEqual({ items: [], nextCursor: null });
    // Quotes in values are data, not query syntax.
    const quoted = await call(api, 'GET', `/api/v1/runs?startedBy=${encodeURIComponent("x' OR StartedBy != 'y")}`);
    expect(quoted.body).toEqual({ items: [], nextCursor: null });
  });

  test('400 for bad filters and for a cursor of other filters', async () => {
    expectProblem(await call(api, 'GET', '/api/v1/runs?status=done'), 400);
    expectProblem(await call(api, 'GET', '/api/v1/runs?startedAfter=yesterday'), 400);
    expectProblem(await call(api, 'GET', '/api/v1/runs?limit=1000'), 400);
    expectProblem(await call(api, 'GET', '/api/v1/runs?orderBy=x'), 400);
    expectProblem(await call(api, 'GET', '/api/v1/runs?cursor=garbage'), 400);
    expectProblem(await call(api, 'GET', `/api/v1/runs?startedBy=${encodeURIComponent('domain\\user')}`), 400);
  });
});

describe('events', () => {
  test('SSE streams a run through an approval given over the API; Last-Event-ID resumes exactly', async () => {
    const template = await createTemplate(approvalSpec());
    const { runId } = await startRun(template.id);

    const response = await openStream(runId);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: RunEvent[] = [];
    for await (const frame of sseFrames(response)) {
      const event = JSON.parse(frame.data) as RunEvent;
      expect(frame.id).toBe(event.id);
      expect(frame.event).toBe(event.type);
      events.push(event);
      if (event.type === 'approval.waiting') {
        const approved = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, {
          json: { comment: 'looks good' },
          token: tokens.bob,
        });
        expect(approved.status).toBe(200);
      }
    }
    // The server ends the stream after run.finished.
    expect(events.map((e) => [e.type, e.stepId])).toEqual([
      ['step.started', 'prepare'],
      ['step.succeeded', 'prepare'],
      ['approval.waiting', 'gate'],
      ['approval.approved', 'gate'],
      ['approval.settled', 'gate'],
      ['step.started', 'finish'],
      ['step.succeeded', 'finish'],
      ['run.finished', undefined],
    ]);
    expect(events[1]).toMatchObject({ output: { prepared: true } });
    expect(events[3]).toMatchObject({ actor: 'bob', comment: 'looks good' });
    // A transition the workflow recorded: its id numbers it within the history event that carried it.
    expect(events[4]).toMatchObject({ outcome: 'approved', id: expect.stringMatching(/:\d+\.1$/) });
    expect(events[7]).toMatchObject({ status: 'succeeded', state: { status: 'succeeded' } });
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);

    for (const resumeAt of [0, 3, 4, 7]) {
      const resumed: RunEvent[] = [];
      for await (const frame of sseFrames(await openStream(runId, { 'last-event-id': events[resumeAt]!.id }))) {
        resumed.push(JSON.parse(frame.data) as RunEvent);
      }
      expect(resumed).toEqual(events.slice(resumeAt + 1));
    }

    expectProblem(await call(api, 'GET', `/api/v1/runs/${runId}/events`, { headers: { accept: 'text/event-stream', 'last-event-id': 'bogus' } }), 400);
  });

  test('a quiet stream sends keep-alive comments and stops reading history when the client leaves', async () => {
    const template = await createTemplate(approvalSpec());
    const { runId } = await startRun(template.id);
    await untilGateWaits(runId);

    const leaving = new AbortController();
    const response = await fetch(`${api.baseUrl}/api/v1/runs/${runId}/events`, {
      headers: { accept: 'text/event-stream', ...bearer(api.token) },
      signal: leaving.signal,
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    while (!received.includes(': keep-alive')) received += (await reader.read()).value ?? '';
    expect(received).toContain('event: approval.waiting');
    leaving.abort();

    const closed = await eventually(
      async () => logLines.find((line) => line.msg === 'run event stream closed' && line.runId === runId),
      (line) => line !== undefined,
    );
    expect(closed).toMatchObject({ aborted: true });
    await call(api, 'POST', `/api/v1/runs/${runId}/cancel`);
  }, 30_000);

  test('the JSON page serves pollers with a cursor', async () => {
    const template = await createTemplate(approvalSpec());
    const { runId } = await startRun(template.id);
    await untilGateWaits(runId);

    const first = await call(api, 'GET', `/api/v1/runs/${runId}/events?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.events.map((e: RunEvent) => e.type)).toEqual(['step.started', 'step.succeeded']);
    expect(first.body).toMatchObject({ nextCursor: first.body.events[1].id, finished: false });

    const second = await call(api, 'GET', `/api/v1/runs/${runId}/events?after=${first.body.nextCursor}`);
    expect(second.body.events.map((e: RunEvent) => e.type)).toEqual(['approval.waiting']);
    expect(second.body.finished).toBe(false);

    await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/reject`, { json: { reason: 'no' }, token: tokens.bob });
    const rest = await eventually(
      () => call(api, 'GET', `/api/v1/runs/${runId}/events?after=${second.body.nextCursor}`),
      (answer) => answer.body.finished === true,
    );
    expect(rest.body.events.map((e: RunEvent) => [e.type, e.stepId])).toEqual([
      ['approval.rejected', 'gate'],
      ['approval.settled', 'gate'],
      ['step.failed', 'gate'],
      ['step.cancelled', 'finish'],
      ['run.finished', undefined],
    ]);
    expect(rest.body.events[1]).toMatchObject({ outcome: 'rejected' });
    expect(rest.body.events[2]).toMatchObject({ error: { type: 'Rejected' } });
    // A cursor inside one history event's transitions resumes at the next of them.
    const fromTransition = await call(api, 'GET', `/api/v1/runs/${runId}/events?after=${rest.body.events[1].id}`);
    expect(fromTransition.body.events.map((e: RunEvent) => e.id)).toEqual(rest.body.events.slice(2).map((e: RunEvent) => e.id));
    expect(rest.body.events[4]).toMatchObject({
      status: 'failed',
      error: { type: 'RunFailed' },
      state: { steps: { gate: { status: 'failed', error: { type: 'Rejected' } } } },
    });

    const after = await call(api, 'GET', `/api/v1/runs/${runId}/events?after=${rest.body.nextCursor}`);
    expect(after.body).toEqual({ events: [], nextCursor: rest.body.nextCursor, finished: true });
    expectProblem(await call(api, 'GET', `/api/v1/runs/${runId}/events?after=${randomUUID()}:3`), 400);
  });
});

describe('control', () => {
  let template: { id: string };
  beforeAll(async () => {
    template = await createTemplate(approvalSpec());
  });

  test('approve: 403 for a non-approver, roles count, and a repeated Idempotency-Key returns the first answer', async () => {
    const { runId } = await startRun(template.id);
    await untilGateWaits(runId);

    const stranger = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { json: {}, token: tokens.carol });
    expectProblem(stranger, 403);
    expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/steps/nope/approve`, { token: tokens.bob }), 404);

    const approver = { headers: { 'idempotency-key': randomUUID() }, token: tokens.dave };
    const first = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { json: { comment: 'ok' }, ...approver });
    expect(first.status).toBe(200);
    expect(first.body.step).toMatchObject({
      id: 'gate',
      status: 'succeeded',
      approvals: [expect.objectContaining({ decision: 'approved', by: 'dave', comment: 'ok' })],
    });

    const repeated = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { json: { comment: 'ok' }, ...approver });
    expect(repeated.status).toBe(200);
    expect(repeated.body).toEqual(first.body);

    await untilStatus(runId, 'succeeded');
    // Without the key it is a new decision, on a step no longer waiting, on a finished run.
    expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { token: tokens.dave }), 409);
  });

  test('approve: the starter is refused 403 unless the template allows self-approval', async () => {
    // The harness's token is alice's: she starts the run; another token of hers makes her an approver by role.
    const starterApproves = { token: tokens.aliceApprover };
    const { runId } = await startRun(template.id);
    await untilGateWaits(runId);
    const refused = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { json: {}, ...starterApproves });
    expectProblem(refused, 403);
    expect(refused.body.detail).toContain('started this run');
    expect(stepOf(await getRun(runId), 'gate')).toMatchObject({ status: 'waiting_approval', approvals: [] });
    // Rejecting one's own run stays allowed: it can only stop it.
    const rejected = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/reject`, { json: {}, ...starterApproves });
    expect(rejected.status).toBe(200);

    const selfApproving = await createTemplate(approvalSpec({ allowSelfApproval: true }));
    const allowed = await startRun(selfApproving.id);
    await untilGateWaits(allowed.runId);
    const approved = await call(api, 'POST', `/api/v1/runs/${allowed.runId}/steps/gate/approve`, { json: {}, ...starterApproves });
    expect(approved.status).toBe(200);
    expect(approved.body.step).toMatchObject({ status: 'succeeded', approvals: [expect.objectContaining({ decision: 'approved', by: 'alice' })] });
    await untilStatus(allowed.runId, 'succeeded');
  });

  test('reject fails the run with the rejection', async () => {
    const { runId } = await startRun(template.id);
    await untilGateWaits(runId);
    const rejected = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/reject`, { json: { reason: 'too risky' }, token: tokens.bob });
    expect(rejected.status).toBe(200);
    expect(rejected.body.step.approvals).toEqual([expect.objectContaining({ decision: 'rejected', by: 'bob', comment: 'too risky' })]);

    const run = await untilStatus(runId, 'failed');
    expect(run.body.closedAt).toEqual(expect.any(String));
    expect(stepOf(run, 'gate')).toMatchObject({ status: 'failed', error: { type: 'Rejected' } });
    expect(stepOf(run, 'finish')).toMatchObject({ status: expect.stringMatching(/skipped|cancelled/) });
  });

  test('pause and resume answer 409 when not allowed', async () => {
    const { runId } = await startRun(template.id);
    await untilGateWaits(runId);
    expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/resume`), 409);

    const paused = await call(api, 'POST', `/api/v1/runs/${runId}/pause`, { json: { reason: 'maintenance' } });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ runId, paused: true, status: 'paused' });
    expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/pause`), 409);
    expect((await getRun(runId)).body).toMatchObject({ status: 'paused', paused: true });

    const resumed = await call(api, 'POST', `/api/v1/runs/${runId}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ paused: false });
    expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/retry`), 409);
  });

  test('cancel: 202, the run ends cancelled, then 409', async () => {
    const { runId } = await startRun(template.id);
    await untilGateWaits(runId);
    const cancelled = await call(api, 'POST', `/api/v1/runs/${runId}/cancel`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toEqual({ runId, cancelRequested: true, terminated: false });

    const run = await untilStatus(runId, 'cancelled');
    expect(stepOf(run, 'gate')).toMatchObject({ status: 'cancelled' });
    expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/cancel`), 409);
    expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/pause`), 409);
    expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { token: tokens.bob }), 409);
    expectProblem(await call(api, 'POST', `/api/v1/runs/run-${randomUUID()}/cancel`), 404);
    expectProblem(await call(api, 'POST', `/api/v1/runs/run-${randomUUID()}/pause`), 404);
  });
});

describe('runs the API did not see start', () => {
  test('events follow a continue-as-new chain, and Last-Event-ID resumes across it', async () => {
    const steps = Array.from({ length: 8 }, (_, i) => ({
      id: `s${i}`,
      type: 'noop' as const,
      with: { output: i },
      dependsOn: i === 0 ? [] : [`s${i - 1}`],
    }));
    const testStartedAt = new Date(Date.now() - 1000).toISOString();
    const handle = await startRunDirectly(worker.client, worker.taskQueue, runInput({ steps }, { limits: { continueAsNewAfterEvents: 20 } }), api.tenant.id);
    const runId = handle.workflowId;

    const events: RunEvent[] = [];
    for await (const frame of sseFrames(await openStream(runId))) events.push(JSON.parse(frame.data) as RunEvent);

    const continued = events.filter((e) => e.type === 'run.continued');
    expect(continued.length).toBeGreaterThanOrEqual(1);
    const stepEvents = events.filter((e) => e.type.startsWith('step.')).map((e) => `${e.type} ${e.stepId}`);
    expect(stepEvents).toEqual(steps.flatMap((step) => [`step.started ${step.id}`, `step.succeeded ${step.id}`]));
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', status: 'succeeded' });
    expect(new Set(events.map((e) => e.id.split(':')[0])).size).toBe(continued.length + 1);

    const beforeFirstContinue = events.indexOf(continued[0]!) - 1;
    const resumed: RunEvent[] = [];
    for await (const frame of sseFrames(await openStream(runId, { 'last-event-id': events[beforeFirstContinue]!.id }))) {
      resumed.push(JSON.parse(frame.data) as RunEvent);
    }
    expect(resumed).toEqual(events.slice(beforeFirstContinue + 1));

    const page = await call(api, 'GET', `/api/v1/runs/${runId}/events?after=${continued[0]!.id}&limit=500`);
    expect(page.body).toEqual({ events: events.slice(events.indexOf(continued[0]!) + 1), nextCursor: events.at(-1)!.id, finished: true });

    const run = await getRun(runId);
    expect(run.body).toMatchObject({ status: 'succeeded', startedBy: 'alice', templateId: 'tpl-1' });
    expect(run.body.steps).toHaveLength(8);
    // Visibility holds one execution per link of the chain; the list shows the run once.
    const listed = await eventually(
      () => call(api, 'GET', `/api/v1/runs?startedBy=alice&startedAfter=${encodeURIComponent(testStartedAt)}&limit=100`),
      (answer) => answer.body.items?.some((item: { runId: string; status: string }) => item.runId === runId && item.status === 'succeeded'),
    );
    expect(listed.body.items.filter((item: { runId: string }) => item.runId === runId)).toHaveLength(1);
  });

  test('a running run nothing answers for is shown from what Temporal knows, with a note', async () => {
    const handle = await startRunDirectly(
      worker.client,
      `nobody-polls-${randomUUID()}`,
      runInput({ steps: [{ id: 'a', type: 'noop' }] }),
      api.tenant.id,
    );
    try {
      const unanswered = await getRun(handle.workflowId);
      expect(unanswered.status).toBe(200);
      expect(unanswered.body).toMatchObject({ status: 'running', startedBy: 'alice', steps: [], note: expect.stringMatching(/no worker answered/) });
    } finally {
      await handle.terminate('test over');
    }
    const terminated = await getRun(handle.workflowId);
    expect(terminated.body).toMatchObject({ status: 'cancelled', steps: [], error: { message: 'test over', type: 'Terminated' } });
  }, 30_000);
});

describe('a finished run no worker answers for', () => {
  test('GET falls back to the workflow result', async () => {
    const gone = await startTestWorker();
    const handle = await startRunDirectly(gone.client, gone.taskQueue, runInput({ steps: [{ id: 'only', type: 'noop', with: { output: 7 } }] }), api.tenant.id);
    await handle.result();
    await gone.shutdown();

    const run = await getRun(handle.workflowId);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'succeeded', closedAt: expect.any(String) });
    expect(stepOf(run, 'only')).toMatchObject({ status: 'succeeded', output: 7 });
  }, 30_000);
});

describe('a retrying step', () => {
  test('GET shows its live attempts and last error; events report the failed attempt', async () => {
    const http = await startHttpServer({
      '/flaky': (_request, response, hits) => (hits <= 2 ? json(response, 503, { busy: true }) : json(response, 200, { ok: true })),
    });
    try {
      const template = await createTemplate({
        steps: [
          {
            id: 'call',
            type: 'http',
            with: { url: http.url('/flaky') },
            retry: { maxAttempts: 3, initialInterval: '1500ms', backoffCoefficient: 1 },
          },
        ],
      });
      const { runId } = await startRun(template.id, {});
      const retrying = await eventually(
        () => getRun(runId),
        (answer) => stepOf(answer, 'call')?.attempts >= 2 && stepOf(answer, 'call')?.lastError !== undefined,
      );
      expect(stepOf(retrying, 'call')).toMatchObject({ status: 'running', lastError: { message: expect.any(String) } });

      await untilStatus(runId, 'succeeded');
      const page = await call(api, 'GET', `/api/v1/runs/${runId}/events`);
      expect(page.body.events.map((e: RunEvent) => e.type)).toEqual(['step.started', 'step.attempt_failed', 'step.succeeded', 'run.finished']);
      expect(page.body.events[1]).toMatchObject({ stepId: 'call', attempt: 2, error: { message: expect.any(String) } });
      expect(page.body.events[2]).toMatchObject({ output: expect.objectContaining({}) });
    } finally {
      await http.close();
    }
  }, 30_000);
});

test('the OpenAPI document describes the runs API', async () => {
  const answer = await call(api, 'GET', '/openapi.json');
  expect(answer.status).toBe(200);
  const paths = answer.body.paths as Record<string, Record<string, unknown>>;
  expect(Object.keys(paths['/api/v1/runs']!).sort()).toEqual(['get', 'post']);
  for (const path of [
    '/api/v1/runs/{id}',
    '/api/v1/runs/{id}/events',
    '/api/v1/runs/{id}/steps/{stepId}/approve',
    '/api/v1/runs/{id}/steps/{stepId}/reject',
    '/api/v1/runs/{id}/steps/{stepId}/retry',
    '/api/v1/runs/{id}/steps/{stepId}/skip',
    '/api/v1/runs/{id}/pause',
    '/api/v1/runs/{id}/resume',
    '/api/v1/runs/{id}/cancel',
  ]) {
    expect(paths[path]).toBeDefined();
  }
  expect(answer.body.components.schemas).toEqual(expect.objectContaining({ Run: expect.any(Object), RunEvent: expect.any(Object) }));
});
