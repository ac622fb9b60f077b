import { createHmac } from 'node:crypto';
import pino from 'pino';
import { Keyring } from '../../apps/common/crypto/keyring';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { approveUpdate, retryStepUpdate, type RunState } from '../../workflows/contract';
import { call, expectProblem, startApi, uniqueName, type Api } from '../api/harness';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type ReceivedRequest } from '../support/receivers';
import { startTestWorker, type TestWorker } from '../support/worker';
import { eventually } from '../support/eventually';

/**
 * A step's own notifications (`notify`) end to end: the spec names channels and people, the run
 * starts the step's notices on a real Temporal without any subscription, and the worker delivers
 * them to local receivers, recording each delivery.
 */

const secretsKeys = Keyring.parse(Keyring.generateEntry('s1'), 'SECRETS_KEYS');
const PUBLIC_BASE_URL = 'https://flowpilot.example.com';
const WEBHOOK_KEY = 'whsec-step-notify-0001';

let worker: TestWorker;
const receivers: HttpReceiver[] = [];
const apis: Api[] = [];
/** What the worker logged at warn and above, as JSON lines. */
const workerLog: string[] = [];

beforeAll(async () => {
  const database = await startApi({ secretsKeys });
  apis.push(database);
  worker = await startTestWorker(undefined, {
    secrets: new SecretStore(database.prisma, secretsKeys),
    prisma: database.prisma,
    notifications: { publicBaseUrl: PUBLIC_BASE_URL },
    logger: pino({ level: 'warn' }, { write: (line: string) => workerLog.push(line) }),
  });
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await Promise.all(apis.map((api) => api.close()));
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

/** An API on the worker's queue for a tenant of its own: no channel or subscription of another test reaches it. */
async function tenantApi(): Promise<Api> {
  const api = await startApi({ secretsKeys, taskQueue: worker.taskQueue });
  apis.push(api);
  return api;
}

function webhookVerified(request: ReceivedRequest): boolean {
  const timestamp = String(request.headers['x-flowpilot-timestamp']);
  const expected = `v1=${createHmac('sha256', WEBHOOK_KEY).update(`${timestamp}.${request.body}`).digest('hex')}`;
  return request.headers['x-flowpilot-signature'] === expected;
}

async function receiver(answer: (request: ReceivedRequest) => { status?: number; body: string | object }): Promise<HttpReceiver> {
  const started = await startHttpReceiver(answer);
  receivers.push(started);
  return started;
}

const webhookReceiver = () => receiver((request) => (webhookVerified(request) ? { body: { ok: true } } : { status: 401, body: 'bad signature' }));
const slackReceiver = () => receiver(() => ({ body: 'ok' }));

async function createChannel(api: Api, name: string, body: object): Promise<string> {
  const answer = await call(api, 'POST', '/api/v1/channels', { json: { name, ...body } });
  expect(answer.status).toBe(201);
  return answer.body.id;
}

async function createTemplate(api: Api, spec: object): Promise<string> {
  const answer = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('step-notify'), spec } });
  expect(answer.status).toBe(201);
  return answer.body.id;
}

async function startRun(api: Api, templateId: string): Promise<string> {
  const answer = await call(api, 'POST', '/api/v1/runs', { json: { templateId } });
  expect(answer.status).toBe(201);
  return answer.body.runId;
}

async function deliveries(api: Api, runId: string): Promise<any[]> {
  return (await call(api, 'GET', `/api/v1/notifications?runId=${encodeURIComponent(runId)}`)).body.items;
}


test('a step failing with onError continue tells only the channel it names (no subscription), mentioning its people; a deleted channel is skipped', async () => {
  const api = await tenantApi();
  const failing = await receiver(() => ({ status: 400, body: { error: 'no' } }));
  const slack = await slackReceiver();
  const webhook = await webhookReceiver();
  const slackName = uniqueName('ops-slack');
  const goneName = uniqueName('gone');
  const slackId = await createChannel(api, slackName, { kind: 'slack', secrets: { url: `${slack.url}/hook` } });
  // Another channel of the tenant, named by no step and subscribed to nothing: it hears nothing.
  await createChannel(api, uniqueName('quiet'), { kind: 'webhook', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  const goneId = await createChannel(api, goneName, { kind: 'webhook', secrets: { url: `${webhook.url}/gone`, signingKey: WEBHOOK_KEY } });
  expect((await call(api, 'PUT', '/api/v1/people/dave', { json: { displayName: 'Dave', imIds: { slack: 'U_DAVE' } } })).status).toBeLessThan(300);
  expect((await call(api, 'PUT', '/api/v1/people/erin', { json: { displayName: 'Erin', imIds: { slack: 'U_ERIN' }, roles: ['sre'] } })).status).toBeLessThan(300);
  const templateId = await createTemplate(api, {
    steps: [
      {
        id: 'call',
        type: 'http',
        with: { url: `${failing.url}/deploy` },
        retry: { maxAttempts: 1 },
        onError: 'continue',
        notify: { on: ['failed'], channels: [slackName, goneName], mention: { users: ['dave'], roles: ['sre'] } },
      },
      { id: 'after', type: 'noop', dependsOn: [] },
    ],
  });
  // Deleted after the version named it: its notices skip it, and the run is not affected.
  expect((await call(api, 'DELETE', `/api/v1/channels/${goneId}`)).status).toBe(204);

  const runId = await startRun(api, templateId);
  expect(((await worker.client.workflow.getHandle(runId).result()) as RunState).status).toBe('succeeded');
  const message = JSON.parse((await slack.next()).body);
  expect(message.text).toMatch(/^Step failed: .* v1, step call$/);
  expect(JSON.stringify(message.blocks)).toContain(`${PUBLIC_BASE_URL}/api/v1/runs/${runId}`);
  expect(JSON.stringify(message.blocks)).toContain('Error:');
  expect(message.blocks.at(-1)).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: '<@U_DAVE> <@U_ERIN>' }] });

  const [recorded] = await eventually(() => deliveries(api, runId), (items) => items.length === 1 && items[0].status === 'succeeded');
  expect(recorded).toMatchObject({
    eventKind: 'step_failed',
    eventKey: `notice:${runId}:step_failed:call`,
    stepId: 'call',
    channel: { id: slackId, name: slackName },
    receiverAnswer: '200 ok',
  });
  await worker.client.workflow.getHandle(`notice:${runId}:step_failed:call`).result();
  expect(webhook.requests).toHaveLength(0);
  expect(slack.requests).toHaveLength(1);
  const skipped = workerLog.map((line) => JSON.parse(line)).find((entry) => entry.eventKey === `notice:${runId}:step_failed:call`);
  expect(skipped).toMatchObject({ level: 40, unknownChannels: [goneName], disabledChannels: [], stepId: 'call' });
  // The step that succeeded asked for nothing: the run started no other notice.
  const history = await worker.client.workflow.getHandle(runId).fetchHistory();
  expect((history.events ?? []).filter((event) => event.startChildWorkflowExecutionInitiatedEventAttributes)).toHaveLength(1);
}, 60_000);

test('an approval step naming a channel tells it of the request and of the step’s success, with no subscription', async () => {
  const api = await tenantApi();
  const webhook = await webhookReceiver();
  const webhookName = uniqueName('approvals-hook');
  const webhookId = await createChannel(api, webhookName, { kind: 'webhook', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  const templateId = await createTemplate(api, {
    steps: [
      {
        id: 'gate',
        type: 'approval',
        with: { approvers: { users: ['bob'] }, message: 'Ship it?' },
        notify: { on: ['approval_requested', 'succeeded'], channels: [webhookName] },
      },
    ],
  });

  const runId = await startRun(api, templateId);
  const request = await webhook.next();
  expect(webhookVerified(request)).toBe(true);
  expect(JSON.parse(request.body)).toMatchObject({
    kind: 'approval_requested',
    eventKey: `notice:${runId}:approval_requested:gate`,
    data: {
      step: { id: 'gate' },
      approval: { users: ['bob'], message: 'Ship it?' },
      notify: { on: ['approval_requested', 'step_succeeded'], channels: [webhookName] },
    },
  });
  const handle = worker.client.workflow.getHandle(runId);
  await eventually(() => handle.query('state') as Promise<RunState>, (state) => state.status === 'waiting_approval');
  await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] } }] });
  expect(((await handle.result()) as RunState).status).toBe('succeeded');

  const recorded = await eventually(() => deliveries(api, runId), (items) => items.length === 2 && items.every((item) => item.status === 'succeeded'));
  expect(recorded.map((item) => [item.eventKind, item.stepId, item.channel.id]).sort()).toEqual(
    [
      ['approval_requested', 'gate', webhookId],
      ['step_succeeded', 'gate', webhookId],
    ].sort(),
  );
  // The settlement was not asked for, and no subscription routes it.
  expect(webhook.requests.map((received) => JSON.parse(received.body).kind).sort()).toEqual(['approval_requested', 'step_succeeded']);
}, 60_000);

test('a held step asking for it mails its owner and the people it mentions on the channel it names, unsubscribed', async () => {
  const api = await tenantApi();
  const smtp = await startSmtpReceiver({ username: 'flowpilot', password: 'smtp-pass' });
  let fail = true;
  const flaky = await receiver(() => (fail ? { status: 400, body: { error: 'no' } } : { body: { ok: true } }));
  const emailName = uniqueName('ops-mail');
  await createChannel(api, emailName, {
    kind: 'email',
    config: { host: smtp.host, port: smtp.port, username: 'flowpilot', from: 'flowpilot@example.com' },
    secrets: { password: 'smtp-pass' },
  });
  expect((await call(api, 'PUT', '/api/v1/people/alice', { json: { displayName: 'Alice', email: 'alice@example.com' } })).status).toBeLessThan(300);
  expect((await call(api, 'PUT', '/api/v1/people/gina', { json: { displayName: 'Gina', email: 'gina@example.com', roles: ['dba'] } })).status).toBeLessThan(300);
  const templateId = await createTemplate(api, {
    steps: [
      {
        id: 'migrate',
        type: 'http',
        with: { url: `${flaky.url}/migrate` },
        retry: { maxAttempts: 1 },
        onError: 'pause',
        notify: { on: ['held'], channels: [emailName], mention: { roles: ['dba'] } },
      },
    ],
  });

  const mail = smtp.next();
  const runId = await startRun(api, templateId);
  const received = await mail;
  expect(received.subject).toMatch(/^Run held, a step needs an operator: .* v1, step migrate$/);
  expect(smtp.envelopes.at(-1)!.sort()).toEqual(['alice@example.com', 'gina@example.com']);
  const [recorded] = await eventually(() => deliveries(api, runId), (items) => items[0]?.status === 'succeeded');
  expect(recorded).toMatchObject({ eventKind: 'run_held', stepId: 'migrate', channel: { name: emailName } });

  // Retried by an operator, it succeeds: `succeeded` was not asked for, so nothing more is sent.
  fail = false;
  const handle = worker.client.workflow.getHandle(runId);
  await handle.executeUpdate(retryStepUpdate, { args: [{ stepId: 'migrate', actor: { subject: 'alice', roles: ['operator'] } }] });
  expect(((await handle.result()) as RunState).status).toBe('succeeded');
  expect(await deliveries(api, runId)).toHaveLength(1);
  expect(smtp.envelopes).toHaveLength(1);
  await smtp.close();
}, 60_000);

test('a version naming a channel the tenant does not have is refused with 422, naming the step path', async () => {
  const api = await tenantApi();
  const webhook = await webhookReceiver();
  const known = uniqueName('known');
  await createChannel(api, known, { kind: 'webhook', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  const spec = (channels: string[]) => ({
    steps: [
      { id: 'first', type: 'noop' },
      { id: 'call', type: 'noop', notify: { on: ['failed', 'succeeded'], channels } },
    ],
  });

  const created = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('refused'), spec: spec([known, 'no-such-channel']) } });
  expectProblem(created, 422);
  expect(created.body.invalidParams).toEqual([
    { path: ['spec', 'steps', 1, 'notify', 'channels', 1], message: 'step "call": there is no channel named "no-such-channel"' },
  ]);

  const templateId = await createTemplate(api, spec([known]));
  const version = await call(api, 'POST', `/api/v1/templates/${templateId}/versions`, { json: { spec: spec(['missing']), message: 'names a channel that is not there' } });
  expectProblem(version, 422);
  expect(version.body.invalidParams).toEqual([{ path: ['spec', 'steps', 1, 'notify', 'channels', 0], message: 'step "call": there is no channel named "missing"' }]);

  // Another tenant's channel is no channel of this one.
  const other = await tenantApi();
  const foreign = await call(other, 'POST', '/api/v1/templates', { json: { name: uniqueName('foreign'), spec: spec([known]) } });
  expectProblem(foreign, 422);
}, 60_000);

test('notify asks only for what the step can send, within bounds', async () => {
  const api = await tenantApi();
  const refused = async (step: object) => {
    const answer = await call(api, 'POST', '/api/v1/templates/validate', { json: { steps: [{ id: 's', ...step }] } });
    expectProblem(answer, 422);
    return answer.body.invalidParams as { path: (string | number)[]; message: string }[];
  };
  expect(await refused({ type: 'noop', notify: { on: ['approval_requested'], channels: ['ops'] } })).toEqual([
    expect.objectContaining({
      path: ['steps', 0, 'notify', 'on', 0],
      message: 'step "s": notify.on: "approval_requested" happens only to approval steps, and this is a noop step',
    }),
  ]);
  expect((await refused({ type: 'noop', notify: { on: ['held'], channels: ['ops'] } }))[0]!.message).toContain('onError: pause');
  expect((await refused({ type: 'noop', notify: { on: [], channels: ['ops'] } }))[0]!.path).toEqual(['steps', 0, 'notify', 'on']);
  expect((await refused({ type: 'noop', notify: { on: ['failed'], channels: [] } }))[0]!.path).toEqual(['steps', 0, 'notify', 'channels']);
  expect((await refused({ type: 'noop', notify: { on: ['failed'], channels: ['a', 'b', 'c', 'd', 'e', 'f'] } }))[0]!.path).toEqual(['steps', 0, 'notify', 'channels']);
  expect((await refused({ type: 'noop', notify: { on: ['failed'], channels: ['   '] } }))[0]!.path).toEqual(['steps', 0, 'notify', 'channels', 0]);
  expect((await refused({ type: 'noop', notify: { on: ['failed'], channels: ['ops'], mention: { users: Array.from({ length: 11 }, (_, i) => `u${i}`) } } }))[0]!.path).toEqual([
    'steps',
    0,
    'notify',
    'mention',
    'users',
  ]);
  expect((await refused({ type: 'noop', notify: { on: ['failed'], channels: ['ops'], extra: true } }))[0]!.path).toEqual(['steps', 0, 'notify']);
  const held = await call(api, 'POST', '/api/v1/templates/validate', {
    json: { steps: [{ id: 's', type: 'noop', onError: 'pause', notify: { on: ['held', 'failed'], channels: ['ops'] } }] },
  });
  expect(held.status).toBe(200);
  expect(held.body.spec.steps[0].notify).toEqual({ on: ['held', 'failed'], channels: ['ops'] });
});
