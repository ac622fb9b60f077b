import { createHmac } from 'node:crypto';
import { Keyring } from '../../apps/common/crypto/keyring';
import { createLogger } from '../../apps/common/logger';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { approveUpdate, rejectUpdate, type RunState } from '../../workflows/contract';
import { call, expectProblem, startApi, uniqueName, type Api } from '../api/harness';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type ReceivedRequest, type SmtpReceiver } from '../support/receivers';
import { startTestWorker, type TestWorker } from '../support/worker';
import { eventually } from '../support/eventually';

/**
 * Notices end to end: the API decides at start which notices a run sends, the run starts their
 * delivery workflows on a real Temporal, and the worker delivers them to local receivers and a
 * real SMTP server, recording each delivery.
 */

const secretsKeys = Keyring.parse(Keyring.generateEntry('n1'), 'SECRETS_KEYS');
const PUBLIC_BASE_URL = 'https://flowpilot.example.com';
const WEBHOOK_KEY = 'whsec-end-to-end-0001';
const FEISHU_SECRET = 'feishu-end-to-end-secret';

let api: Api;
let worker: TestWorker;
let smtp: SmtpReceiver;
const receivers: HttpReceiver[] = [];

beforeAll(async () => {
  api = await startApi({ secretsKeys, taskQueue: `notify-${Date.now()}` });
  worker = await startTestWorker(undefined, {
    secrets: new SecretStore(api.prisma, secretsKeys),
    prisma: api.prisma,
    notifications: { publicBaseUrl: PUBLIC_BASE_URL },
    logger: createLogger('test-worker', process.env.LOG_LEVEL ?? 'silent'),
  });
  // The API starts runs on the worker's queue.
  await api.close();
  api = await startApi({ secretsKeys, taskQueue: worker.taskQueue, tenant: api.tenant });
  smtp = await startSmtpReceiver({ username: 'flowpilot', password: 'smtp-pass' });
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
  await smtp?.close();
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

function webhookVerified(request: ReceivedRequest): boolean {
  const timestamp = String(request.headers['x-flowpilot-timestamp']);
  const expected = `v1=${createHmac('sha256', WEBHOOK_KEY).update(`${timestamp}.${request.body}`).digest('hex')}`;
  return request.headers['x-flowpilot-signature'] === expected;
}

async function webhookReceiver(): Promise<HttpReceiver> {
  const receiver = await startHttpReceiver((request) => (webhookVerified(request) ? { body: { ok: true } } : { status: 401, body: 'bad signature' }));
  receivers.push(receiver);
  return receiver;
}

async function feishuReceiver(): Promise<HttpReceiver> {
  const receiver = await startHttpReceiver((request) => {
    const body = JSON.parse(request.body);
    const expected = createHmac('sha256', `${body.timestamp}\n${FEISHU_SECRET}`).update('').digest('base64');
    return body.sign === expected ? { body: { code: 0, msg: 'success' } } : { body: { code: 19021, msg: 'sign match fail' } };
  });
  receivers.push(receiver);
  return receiver;
}

async function createChannel(body: object): Promise<string> {
  const answer = await call(api, 'POST', '/api/v1/channels', { json: { name: uniqueName('channel'), ...body } });
  expect(answer.status).toBe(201);
  return answer.body.id;
}

async function createTemplate(spec: object): Promise<string> {
  const answer = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('notify'), spec } });
  expect(answer.status).toBe(201);
  return answer.body.id;
}

async function startRun(templateId: string): Promise<string> {
  const answer = await call(api, 'POST', '/api/v1/runs', { json: { templateId } });
  expect(answer.status).toBe(201);
  return answer.body.runId;
}

async function subscribe(templateId: string, routes: Record<string, string[]>): Promise<void> {
  const answer = await call(api, 'PUT', `/api/v1/subscriptions/${templateId}`, { json: { routes } });
  expect(answer.status).toBe(201);
}

async function deliveries(runId: string): Promise<any[]> {
  return (await call(api, 'GET', `/api/v1/notifications?runId=${encodeURIComponent(runId)}`)).body.items;
}


test('a run reaching an approval notifies its approvers on two channels, with a link to the run', async () => {
  const webhook = await webhookReceiver();
  const feishu = await feishuReceiver();
  const webhookId = await createChannel({ kind: 'webhook', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  const feishuId = await createChannel({ kind: 'feishu', locale: 'zh-CN', secrets: { url: `${feishu.url}/bot`, signingKey: FEISHU_SECRET } });
  expect((await call(api, 'PUT', '/api/v1/people/bob', { json: { displayName: 'Bob', imIds: { feishu: 'ou_bob' } } })).status).toBeLessThan(300);
  expect((await call(api, 'PUT', '/api/v1/people/carol', { json: { displayName: 'Carol', imIds: { feishu: 'ou_carol' }, roles: ['sre'] } })).status).toBeLessThan(300);
  const templateId = await createTemplate({
    steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'], roles: ['sre'] }, message: 'Ship it?', timeout: '1h' } }],
  });
  await subscribe(templateId, { approval_requested: [webhookId, feishuId] });

  const runId = await startRun(templateId);
  const [hook, bot] = await Promise.all([webhook.next(), feishu.next()]);
  expect(webhookVerified(hook)).toBe(true);
  const payload = JSON.parse(hook.body);
  expect(payload).toMatchObject({
    kind: 'approval_requested',
    eventKey: `notice:${runId}:approval_requested:gate`,
    link: `${PUBLIC_BASE_URL}/api/v1/runs/${runId}`,
    data: { run: { id: runId, startedBy: 'alice' }, step: { id: 'gate' }, approval: { users: ['bob'], roles: ['sre'], message: 'Ship it?' } },
  });
  expect(payload.recipients.map((person: { subject: string }) => person.subject).sort()).toEqual(['bob', 'carol']);
  const post = JSON.parse(bot.body).content.post.zh_cn;
  expect(post.content).toContainEqual([{ tag: 'a', text: '查看运行', href: `${PUBLIC_BASE_URL}/api/v1/runs/${runId}` }]);
  expect(post.content).toContainEqual([
    { tag: 'at', user_id: 'ou_bob' },
    { tag: 'at', user_id: 'ou_carol' },
  ]);

  const recorded = await eventually(() => deliveries(runId), (items) => items.length === 2 && items.every((item) => item.status === 'succeeded'));
  expect(recorded.map((item) => [item.eventKind, item.stepId, item.channel.id]).sort()).toEqual(
    [
      ['approval_requested', 'gate', feishuId],
      ['approval_requested', 'gate', webhookId],
    ].sort(),
  );
  expect(recorded.find((item) => item.channel.id === webhookId).receiverAnswer).toBe('200 {"ok":true}');
  // The run's events say the approval waits, as they do when no channel is told.
  const events = await call(api, 'GET', `/api/v1/runs/${runId}/events`);
  expect(events.body.events.map((event: { type: string; stepId?: string }) => [event.type, event.stepId])).toContainEqual(['approval.waiting', 'gate']);

  // The run waits for its decision as before, and finishes when it comes.
  const handle = worker.client.workflow.getHandle(runId);
  await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] } }] });
  expect(((await handle.result()) as RunState).status).toBe('succeeded');
  expect([webhook.requests.length, feishu.requests.length]).toEqual([1, 1]);
});

test('a run held by onError: pause notifies its owner by e-mail', async () => {
  const failing = await startHttpReceiver(() => ({ status: 400, body: { error: 'no' } }));
  receivers.push(failing);
  const emailId = await createChannel({
    kind: 'email',
    config: { host: smtp.host, port: smtp.port, username: 'flowpilot', from: 'flowpilot@example.com' },
    secrets: { password: 'smtp-pass' },
  });
  expect((await call(api, 'PUT', '/api/v1/people/alice', { json: { displayName: 'Alice', email: 'alice@example.com' } })).status).toBeLessThan(300);
  const templateId = await createTemplate({
    steps: [{ id: 'call', type: 'http', with: { url: `${failing.url}/x` }, retry: { maxAttempts: 1 }, onError: 'pause' }],
  });
  await subscribe(templateId, { run_held: [emailId] });

  const mail = smtp.next();
  const runId = await startRun(templateId);
  const received = await mail;
  expect(received.subject).toBe('Run held, a step needs an operator: ' + (await templateName(templateId)) + ' v1, step call');
  expect(received.text).toContain(`Open the run: ${PUBLIC_BASE_URL}/api/v1/runs/${runId}`);
  expect(received.text).toContain('Error:');
  expect(smtp.envelopes.at(-1)).toEqual(['alice@example.com']);
  const [delivery] = await eventually(() => deliveries(runId), (items) => items[0]?.status === 'succeeded');
  expect(delivery).toMatchObject({ eventKind: 'run_held', status: 'succeeded', attempts: 1, receiverAnswer: expect.stringMatching(/^250 /) });
  await worker.client.workflow.getHandle(runId).cancel();
});

test('a receiver that is down for a while gets the notice once it is back, exactly once', async () => {
  const webhook = await webhookReceiver();
  const webhookId = await createChannel({ kind: 'webhook', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  // An approver no channel of the tenant reaches: only the subscribed webhook is told.
  const templateId = await createTemplate({ steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['nobody-reachable'] } } }] });
  await subscribe(templateId, { approval_requested: [webhookId] });
  await webhook.stop();

  const runId = await startRun(templateId);
  const failing = await eventually(() => deliveries(runId), (items) => items[0]?.status === 'retrying' && items[0].attempts >= 2);
  expect(failing[0].lastError).toContain('could not be reached');
  // The run is not held up: it waits for its decision all the same.
  expect((await worker.client.workflow.getHandle(runId).describe()).status.name).toBe('RUNNING');

  await webhook.start();
  const [delivered] = await eventually(() => deliveries(runId), (items) => items[0]?.status === 'succeeded', 30_000);
  expect(delivered.attempts).toBeGreaterThanOrEqual(3);
  expect(webhook.requests).toHaveLength(1);
  expect(webhookVerified(webhook.requests[0]!)).toBe(true);
  // The delivery workflow is done: nothing more will come.
  await worker.client.workflow.getHandle(`notice:${runId}:approval_requested:gate`).result();
  expect(webhook.requests).toHaveLength(1);
  await worker.client.workflow.getHandle(runId).cancel();
}, 60_000);

test('approvers are reminded while the approval waits; its settlement and the run’s failure are told; a settled one is not reminded', async () => {
  const webhook = await webhookReceiver();
  const webhookId = await createChannel({ kind: 'webhook', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  const templateId = await createTemplate({
    steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] }, timeout: '4s', onTimeout: 'fail' } }],
  });
  await subscribe(templateId, { approval_reminder: [webhookId], approval_settled: [webhookId], run_failed: [webhookId] });
  const kindsOf = (runId: string) =>
    webhook.requests.map((request) => JSON.parse(request.body)).filter((body) => body.data.run.id === runId).map((body) => body.kind);

  // Nobody decides: a reminder at 80 % of the time, then the timeout settles it and fails the run.
  const waited = await startRun(templateId);
  // The settlement and the failure are delivered side by side, in no particular order.
  await eventually(async () => kindsOf(waited), (kinds) => kinds.length === 3);
  expect(kindsOf(waited)[0]).toBe('approval_reminder');
  expect(kindsOf(waited).sort()).toEqual(['approval_reminder', 'approval_settled', 'run_failed']);
  const reminder = webhook.requests.map((request) => JSON.parse(request.body)).find((body) => body.kind === 'approval_reminder');
  expect(reminder).toMatchObject({ eventKey: `notice:${waited}:approval_requested:gate:reminder`, title: expect.stringContaining('Reminder') });

  // Rejected at once: told, and the reminder's timer finds nothing waiting.
  const rejected = await startRun(templateId);
  const handle = worker.client.workflow.getHandle(rejected);
  await eventually(() => handle.query('state') as Promise<RunState>, (state) => state.status === 'waiting_approval');
  await handle.executeUpdate(rejectUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] }, comment: 'not today' }] });
  await worker.client.workflow.getHandle(`notice:${rejected}:approval_requested:gate`).result();
  await eventually(async () => kindsOf(rejected), (kinds) => kinds.length >= 2);
  expect(kindsOf(rejected).sort()).toEqual(['approval_settled', 'run_failed']);
  const settled = webhook.requests.map((request) => JSON.parse(request.body)).find((body) => body.kind === 'approval_settled' && body.data.run.id === rejected);
  expect(settled.data.decision).toEqual({ outcome: 'rejected', by: ['bob'], comment: 'not today' });
}, 60_000);

test('a channel test sends a message and answers with what the receiver said', async () => {
  const webhook = await webhookReceiver();
  const id = await createChannel({ kind: 'webhook', locale: 'zh-CN', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  const answer = await call(api, 'POST', `/api/v1/channels/${id}/test`);
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({ delivered: true, answer: '200 {"ok":true}' });
  expect(JSON.parse(webhook.requests[0]!.body)).toMatchObject({ kind: 'test', title: 'flowpilot 测试消息' });

  await webhook.stop();
  const down = await call(api, 'POST', `/api/v1/channels/${id}/test`);
  expect(down.body).toEqual({ delivered: false, error: expect.stringContaining('could not be reached') });
  expectProblem(await call(api, 'POST', '/api/v1/channels/00000000-0000-4000-8000-000000000000/test'), 404);
});

test('a run without subscriptions sends no notice and its history has no notice in it', async () => {
  // A tenant without channels: with a channel that can reach a person, approvals are always told.
  const quiet = await startApi({ secretsKeys, taskQueue: worker.taskQueue });
  const created = await call(quiet, 'POST', '/api/v1/templates', {
    json: { name: uniqueName('quiet'), spec: { steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } }] } },
  });
  const started = await call(quiet, 'POST', '/api/v1/runs', { json: { templateId: created.body.id } });
  expect(started.status).toBe(201);
  const runId: string = started.body.runId;
  const handle = worker.client.workflow.getHandle(runId);
  await eventually(() => handle.query('state') as Promise<RunState>, (state) => state.status === 'waiting_approval');
  await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] } }] });
  await handle.result();
  const history = await handle.fetchHistory();
  const kinds = new Set((history.events ?? []).map((event) => event.attributes));
  expect([...kinds]).not.toContain('startChildWorkflowExecutionInitiatedEventAttributes');
  // Markers of other patches (answering decisions with the settled step…) stay; none of notices.
  expect(patchesIn(history)).toContain('answer-with-settled-step');
  expect(patchesIn(history)).not.toContain('channel-notices');
  // The approval notice of a run without channels is the log line it always was.
  expect([...kinds]).toContain('activityTaskScheduledEventAttributes');
  expect((await call(quiet, 'GET', `/api/v1/notifications?runId=${runId}`)).body.items).toEqual([]);
  await quiet.close();
});

test('approvers are told, and reminded, on every channel that reaches them by their directory entries, without any subscription', async () => {
  const own = await startApi({ secretsKeys, taskQueue: worker.taskQueue });
  const ownSmtp = await startSmtpReceiver({ username: 'flowpilot', password: 'smtp-pass' });
  const webhook = await webhookReceiver();
  const feishu = await feishuReceiver();
  const create = async (body: object) => (await call(own, 'POST', '/api/v1/channels', { json: { name: uniqueName('channel'), ...body } })).body.id as string;
  const emailId = await create({
    kind: 'email',
    config: { host: ownSmtp.host, port: ownSmtp.port, username: 'flowpilot', from: 'flowpilot@example.com' },
    secrets: { password: 'smtp-pass' },
  });
  const feishuId = await create({ kind: 'feishu', secrets: { url: `${feishu.url}/bot`, signingKey: FEISHU_SECRET } });
  // A generic webhook reaches a system, not a person: it hears only what it subscribes to.
  await create({ kind: 'webhook', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  expect((await call(own, 'PUT', '/api/v1/people/erin', { json: { displayName: 'Erin', email: 'erin@example.com' } })).status).toBeLessThan(300);
  expect((await call(own, 'PUT', '/api/v1/people/frank', { json: { displayName: 'Frank', imIds: { feishu: 'ou_frank' }, roles: ['ops'] } })).status).toBeLessThan(300);
  const created = await call(own, 'POST', '/api/v1/templates', {
    json: { name: uniqueName('always'), spec: { steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['erin'], roles: ['ops'] }, timeout: '15s', onTimeout: 'fail' } }] } },
  });

  const mail = ownSmtp.next();
  const started = await call(own, 'POST', '/api/v1/runs', { json: { templateId: created.body.id } });
  expect(started.status).toBe(201);
  const runId: string = started.body.runId;
  const [received, bot] = await Promise.all([mail, feishu.next()]);
  const reminderMail = ownSmtp.next();
  expect(ownSmtp.envelopes.at(-1)).toEqual(['erin@example.com']);
  expect(received.text).toContain(`${PUBLIC_BASE_URL}/api/v1/runs/${runId}`);
  expect(JSON.parse(bot.body).content.post.en_us.content).toContainEqual([{ tag: 'at', user_id: 'ou_frank' }]);
  const recorded = await eventually(
    async () => (await call(own, 'GET', `/api/v1/notifications?runId=${runId}`)).body.items as any[],
    (items) => items.length === 2 && items.every((item) => item.status === 'succeeded'),
  );
  expect(recorded.map((item) => item.channel.id).sort()).toEqual([emailId, feishuId].sort());

  // Still waiting at 80 % of its time: reminded on the same channels, unsubscribed as they are.
  const [reminded1, reminderBot] = await Promise.all([reminderMail, feishu.next((request) => request.body.includes('Reminder'))]);
  expect(reminded1.subject).toContain('Reminder');
  expect(JSON.parse(reminderBot.body).content.post.en_us.content).toContainEqual([{ tag: 'at', user_id: 'ou_frank' }]);
  await worker.client.workflow.getHandle(`notice:${runId}:approval_requested:gate`).result();
  const remindedDeliveries = (await call(own, 'GET', `/api/v1/notifications?runId=${runId}`)).body.items as any[];
  expect(remindedDeliveries.filter((item) => item.eventKind === 'approval_reminder').map((item) => [item.channel.id, item.status]).sort()).toEqual(
    [
      [emailId, 'succeeded'],
      [feishuId, 'succeeded'],
    ].sort(),
  );
  expect(webhook.requests).toHaveLength(0);
  await ownSmtp.close();
  await own.close();
});

async function templateName(templateId: string): Promise<string> {
  return (await call(api, 'GET', `/api/v1/templates/${templateId}`)).body.name;
}

/** The patch ids a history's markers record. */
function patchesIn(history: Awaited<ReturnType<ReturnType<TestWorker['client']['workflow']['getHandle']>['fetchHistory']>>): string[] {
  return (history.events ?? []).flatMap((event) => {
    const data = event.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
    return data ? [JSON.parse(Buffer.from(data).toString('utf8')).id as string] : [];
  });
}
