import { createHmac, randomUUID } from 'node:crypto';
import { Keyring } from '../../apps/common/crypto/keyring';
import { createLogger } from '../../apps/common/logger';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { call, startApi, tokenFor, uniqueName, type Api } from '../api/harness';
import { startFakeDolphinScheduler, type FakeDolphinScheduler } from '../support/dolphinscheduler-fake';
import { startHttpReceiver, type HttpReceiver, type ReceivedRequest, type ReceiverHandler } from '../support/receivers';
import { startTestWorker, type TestWorker } from '../support/worker';
import { addTarget, publishShellTemplate } from '../history/support';
import { addVersion, createShellTemplate, waitForApprovalGate, waitForPublish } from '../publishing/support';
import { publishQueueWorkflowId } from '../../workflows/publishing/contract';
import { SEND_PUBLISH_NOTICE_WORKFLOW_TYPE } from '../../workflows/notifications/publish-notice';

/**
 * Notices that are not a run's, through the tenant's notification channels, from a worker wired
 * as in production (no alert sender of the test's own): an inspection's finding is delivered once
 * per state to the channels subscribed to `inspection_finding` and a channel that was down gets it
 * on the next inspection; a publish waiting for approval reaches its approvers, a failed one its
 * requester, by a delivery workflow of its own that waits out a receiver that is down; every
 * delivery is recorded and listed.
 */

const secretsKeys = Keyring.parse(Keyring.generateEntry('i1'), 'SECRETS_KEYS');
const PUBLIC_BASE_URL = 'https://flowpilot.example.com';
const WEBHOOK_KEY = 'whsec-inspection-0001';
const FEISHU_SECRET = 'feishu-inspection-secret';

let fake: FakeDolphinScheduler;
let api: Api;
let worker: TestWorker;
const receivers: HttpReceiver[] = [];

beforeAll(async () => {
  fake = await startFakeDolphinScheduler();
  const taskQueue = `inspection-alerts-${randomUUID()}`;
  api = await startApi({ secretsKeys, taskQueue, inspectionMinIntervalMs: 0, inspectionWaitMs: 60_000 });
  worker = await startTestWorker(taskQueue, {
    prisma: api.prisma,
    secrets: new SecretStore(api.prisma, secretsKeys),
    publishing: { requestTimeoutMs: 5_000 },
    notifications: { publicBaseUrl: PUBLIC_BASE_URL },
    logger: createLogger('test-worker', process.env.LOG_LEVEL ?? 'silent'),
  });
  await addTarget(api, 'staging', { url: fake.url, token: fake.token, dialect: 'v3.3', tenantCode: 'default' });
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
  await fake?.close();
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

function webhookVerified(request: ReceivedRequest): boolean {
  const timestamp = String(request.headers['x-flowpilot-timestamp']);
  const expected = `v1=${createHmac('sha256', WEBHOOK_KEY).update(`${timestamp}.${request.body}`).digest('hex')}`;
  return request.headers['x-flowpilot-signature'] === expected;
}

async function receiver(handle: ReceiverHandler): Promise<HttpReceiver> {
  const started = await startHttpReceiver(handle);
  receivers.push(started);
  return started;
}

async function inspect() {
  const answer = await call(api, 'POST', '/api/v1/inspections/run');
  expect([answer.status, answer.body.status]).toEqual([200, 'completed']);
  return answer.body.result as { alerted: number; alertFailures: number };
}

test('a finding is told once per state on the subscribed channels, in their languages, with a link; a channel that was down gets it next time', async () => {
  const webhook = await receiver((request) => (webhookVerified(request) ? { body: { ok: true } } : { status: 401, body: 'bad signature' }));
  const feishu = await receiver((request) => {
    const body = JSON.parse(request.body);
    const expected = createHmac('sha256', `${body.timestamp}\n${FEISHU_SECRET}`).update('').digest('base64');
    return body.sign === expected ? { body: { code: 0, msg: 'success' } } : { body: { code: 19021, msg: 'sign match fail' } };
  });
  const create = async (body: object) => {
    const answer = await call(api, 'POST', '/api/v1/channels', { json: { name: uniqueName('channel'), ...body } });
    expect(answer.status).toBe(201);
    return answer.body.id as string;
  };
  const webhookId = await create({ kind: 'webhook', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  const feishuId = await create({ kind: 'feishu', locale: 'zh-CN', secrets: { url: `${feishu.url}/bot`, signingKey: FEISHU_SECRET } });
  expect((await call(api, 'PUT', '/api/v1/subscriptions/default', { json: { routes: { inspection_finding: [webhookId, feishuId] } } })).status).toBeLessThan(300);
  await webhook.stop();

  // A published template without an owner is a finding.
  const published = await publishShellTemplate(api, 'staging', { only: 'echo only' });
  const first = await inspect();
  expect(first.alertFailures).toBeGreaterThanOrEqual(1);
  const [finding] = (await call(api, 'GET', `/api/v1/inspections?rule=template-without-owner&templateId=${published.templateId}`)).body.items;
  expect(finding).toMatchObject({ status: 'open' });
  const subject = `inspection:${finding.id}`;
  const deliveries = async () => (await call(api, 'GET', `/api/v1/notifications?runId=${encodeURIComponent(subject)}`)).body.items as any[];

  // Feishu took it, in Chinese, with a link to the template's findings; the webhook was down.
  expect(feishu.requests).toHaveLength(1);
  const post = JSON.parse(feishu.requests[0]!.body).content.post.zh_cn;
  expect(post.title).toContain('巡检发现');
  const link = `${PUBLIC_BASE_URL}/api/v1/inspections?templateId=${published.templateId}`;
  expect(JSON.stringify(post.content)).toContain(link);
  const afterFirst = await deliveries();
  expect(afterFirst.map((item) => [item.channel.id, item.eventKind, item.status === 'succeeded']).sort()).toEqual(
    [
      [feishuId, 'inspection_finding', true],
      [webhookId, 'inspection_finding', false],
    ].sort(),
  );

  // Back up: the next inspection delivers to the webhook only, under the same event key.
  await webhook.start();
  const second = await inspect();
  expect(second.alertFailures).toBe(0);
  expect(webhook.requests).toHaveLength(1);
  expect(webhookVerified(webhook.requests[0]!)).toBe(true);
  const payload = JSON.parse(webhook.requests[0]!.body);
  expect(payload).toMatchObject({ kind: 'inspection_finding', link, data: { findingId: finding.id, rule: 'template-without-owner', templateId: published.templateId } });
  expect(payload.eventKey).toMatch(new RegExp(`^inspection:${finding.id}:`));
  expect(feishu.requests).toHaveLength(1);
  expect((await deliveries()).every((item) => item.status === 'succeeded' && item.eventKey === payload.eventKey)).toBe(true);

  // Alerted once per state: an unchanged finding is not told again.
  await inspect();
  expect([webhook.requests.length, feishu.requests.length]).toEqual([1, 1]);
}, 90_000);

/** A webhook channel posting to `target`, the only channel the template's findings go to (beside the tenant's default). */
async function findingChannel(target: HttpReceiver, templateId: string): Promise<string> {
  const created = await call(api, 'POST', '/api/v1/channels', { json: { name: uniqueName('channel'), kind: 'webhook', secrets: { url: `${target.url}/hook`, signingKey: WEBHOOK_KEY } } });
  expect(created.status).toBe(201);
  expect((await call(api, 'PUT', `/api/v1/subscriptions/${templateId}`, { json: { routes: { inspection_finding: [created.body.id] } } })).status).toBeLessThan(300);
  return created.body.id as string;
}

async function findingOf(rule: string, templateId: string): Promise<{ id: string; status: string }> {
  const [finding] = (await call(api, 'GET', `/api/v1/inspections?status=all&rule=${rule}&templateId=${templateId}`)).body.items;
  expect(finding).toBeDefined();
  return finding;
}

const findingDeliveries = async (findingId: string) =>
  (await call(api, 'GET', `/api/v1/notifications?runId=${encodeURIComponent(`inspection:${findingId}`)}`)).body.items as any[];

test('a finding is told again each time it changes, back to a state told before too, and when it reopens; unchanged, once', async () => {
  const webhook = await receiver(() => ({ body: { ok: true } }));
  const published = await publishShellTemplate(api, 'staging', { only: 'echo toggled' });
  await findingChannel(webhook, published.templateId);
  const told = (rule: string) =>
    webhook.requests.map((request) => JSON.parse(request.body)).filter((payload) => payload.data.templateId === published.templateId && payload.data.rule === rule);

  // Found, told; found again unchanged, not told again.
  await inspect();
  await inspect();
  expect(told('template-without-owner')).toHaveLength(1);

  // Cleared (an owner), then found again in the very state told before: told again, under a new key.
  expect((await call(api, 'PATCH', `/api/v1/templates/${published.templateId}`, { json: { owner: 'dana' } })).status).toBe(200);
  await inspect();
  expect((await findingOf('template-without-owner', published.templateId)).status).toBe('resolved');
  expect((await call(api, 'PATCH', `/api/v1/templates/${published.templateId}`, { json: { owner: null } })).status).toBe(200);
  await inspect();
  await inspect();
  const ownerless = told('template-without-owner');
  expect(ownerless).toHaveLength(2);
  expect(ownerless[0].eventKey).not.toBe(ownerless[1].eventKey);

  // A schedule left online for the offline definition: schedule 1, then 2, then 1 again, each told.
  const offline = await call(api, 'POST', `/api/v1/templates/${published.templateId}/targets/staging/offline`);
  expect((await waitForPublish(api, offline.body.id)).status).toBe('offline');
  for (const scheduleId of [4242, 4343, 4242]) {
    fake.inject({ method: 'GET', path: new RegExp(`/schedules\\?.*${published.definitionCode}`), status: 200, body: onlineScheduleList(published.definitionCode, scheduleId) });
    await inspect();
  }
  const schedules = told('schedule-online-definition-offline');
  expect(schedules.map((payload) => payload.data.details.scheduleIds)).toEqual([[4242], [4343], [4242]]);
  expect(new Set(schedules.map((payload) => payload.eventKey)).size).toBe(3);
  const finding = await findingOf('schedule-online-definition-offline', published.templateId);
  const delivered = (await findingDeliveries(finding.id)).filter((item) => item.status === 'succeeded');
  expect(new Set(delivered.map((item) => item.eventKey))).toEqual(new Set(schedules.map((payload) => payload.eventKey)));
}, 120_000);

test('a channel that refuses alerts for good neither slows nor fails an inspection; its delivery shows failed and is not tried again', async () => {
  const refusing = await receiver(() => ({ status: 401, body: 'bad signature' }));
  const published = await publishShellTemplate(api, 'staging', { only: 'echo refused' });
  const channelId = await findingChannel(refusing, published.templateId);

  const started = Date.now();
  const result = await inspect();
  // A retried alert waits 1 s, 2 s and 4 s between its attempts: well over this.
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(result.alertFailures).toBe(0);
  expect(refusing.requests).toHaveLength(1);
  const finding = await findingOf('template-without-owner', published.templateId);
  expect((await findingDeliveries(finding.id)).find((item) => item.channel.id === channelId)).toMatchObject({
    status: 'failed',
    attempts: 1,
    lastError: expect.stringContaining('401'),
  });

  // The finding counts as told: the next inspection neither tries that channel again nor fails.
  expect((await inspect()).alertFailures).toBe(0);
  expect(refusing.requests).toHaveLength(1);
}, 90_000);

/** A DolphinScheduler schedule list holding one online schedule of the definition. */
function onlineScheduleList(definitionCode: number, scheduleId: number): string {
  const schedule = { id: scheduleId, workflowDefinitionCode: definitionCode, crontab: '0 0 3 * * ? *', releaseState: 'ONLINE', startTime: '2026-01-01 00:00:00', endTime: '2100-01-01 00:00:00', timezoneId: 'UTC' };
  return JSON.stringify({ code: 0, msg: 'success', data: { totalList: [schedule], total: 1, totalPage: 1, pageSize: 100, currentPage: 1 }, success: true, failed: false });
}

test('a publish waiting for approval reaches its approvers on the channels that know them; a failed one is told to its subscribers', async () => {
  const feishu = await receiver((request) => {
    const body = JSON.parse(request.body);
    const expected = createHmac('sha256', `${body.timestamp}\n${FEISHU_SECRET}`).update('').digest('base64');
    return body.sign === expected ? { body: { code: 0, msg: 'success' } } : { body: { code: 19021, msg: 'sign match fail' } };
  });
  const webhook = await receiver((request) => (webhookVerified(request) ? { body: { ok: true } } : { status: 401, body: 'bad signature' }));
  const create = async (body: object) => (await call(api, 'POST', '/api/v1/channels', { json: { name: uniqueName('channel'), ...body } })).body.id as string;
  const feishuId = await create({ kind: 'feishu', secrets: { url: `${feishu.url}/bot`, signingKey: FEISHU_SECRET } });
  const webhookId = await create({ kind: 'webhook', locale: 'zh-CN', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } });
  expect((await call(api, 'PUT', '/api/v1/people/pat', { json: { displayName: 'Pat', imIds: { feishu: 'ou_pat' }, roles: ['approver'] } })).status).toBeLessThan(300);
  // An admin may approve a publish too, so an admin is told as well.
  expect((await call(api, 'PUT', '/api/v1/people/ada', { json: { displayName: 'Ada', imIds: { feishu: 'ou_ada' }, roles: ['admin'] } })).status).toBeLessThan(300);
  const template = await createShellTemplate(api, { a: 'echo a' });
  expect((await call(api, 'PUT', `/api/v1/subscriptions/${template.id}`, { json: { routes: { publish_failed: [webhookId] } } })).status).toBeLessThan(300);

  // No subscription to publish_approval_requested: the approvers are told where a channel reaches them.
  const gated = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target: 'staging', requireApproval: true } });
  expect(gated.status).toBe(202);
  await waitForApprovalGate(api.temporal, publishQueueWorkflowId(api.tenant.id, template.id, 'staging'), gated.body.id);
  const asked = JSON.parse((await until(() => feishu.requests[0])).body).content.post.en_us;
  expect(asked.title).toBe(`Approval needed to publish: ${template.name} v1 to staging`);
  expect(asked.content).toContainEqual([
    { tag: 'at', user_id: 'ou_ada' },
    { tag: 'at', user_id: 'ou_pat' },
  ]);
  expect(JSON.stringify(asked.content)).toContain(`${PUBLIC_BASE_URL}/api/v1/publishes/${gated.body.id}`);
  // The receiver answers before the success is recorded: wait for the record.
  const approvalDelivery = await until(async () => {
    const items = (await call(api, 'GET', `/api/v1/notifications?runId=${encodeURIComponent(`publish:${gated.body.id}`)}`)).body.items as any[];
    return items.find((item) => item.channel.id === feishuId && item.status === 'succeeded');
  });
  expect(approvalDelivery).toMatchObject({ eventKind: 'publish_approval_requested' });
  expect(webhook.requests).toHaveLength(0);
  const approverToken = await tokenFor(api, 'pat', ['approver']);
  expect((await call(api, 'POST', `/api/v1/publishes/${gated.body.id}/approve`, { token: approverToken })).status).toBe(200);
  expect((await waitForPublish(api, gated.body.id)).status).toBe('published');

  // A token revoked mid-publish fails the next one: its subscribers hear of it, in their language,
  // by a delivery of its own that waits out a receiver that is down, and is sent once.
  await webhook.stop();
  fake.inject({ method: 'GET', path: /gen-task-codes/, status: 401, times: 1 });
  const v2 = await addVersion(api, template.id, { a: 'echo a2', b: 'echo b' });
  const failing = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/${v2}/publish`, { json: { target: 'staging' } });
  expect((await waitForPublish(api, failing.body.id)).status).toBe('failed');
  const deliveries = async () => (await call(api, 'GET', `/api/v1/notifications?runId=${encodeURIComponent(`publish:${failing.body.id}`)}`)).body.items as any[];
  await until(async () => ((await deliveries()).some((item) => item.status === 'retrying' && item.attempts >= 2) ? true : undefined));
  await webhook.start();
  await until(async () => ((await deliveries()).some((item) => item.status === 'succeeded') ? true : undefined), 30_000);
  await worker.client.workflow.getHandle(`publish:${failing.body.id}:publish_failed`).result();
  expect(webhook.requests).toHaveLength(1);
  expect(await deliveries()).toEqual([expect.objectContaining({ eventKind: 'publish_failed', status: 'succeeded', eventKey: `publish:${failing.body.id}:publish_failed` })]);
  const told = JSON.parse(webhook.requests[0]!.body);
  expect(told).toMatchObject({ kind: 'publish_failed', title: `发布失败：${template.name} v${v2} 到 staging`, link: `${PUBLIC_BASE_URL}/api/v1/publishes/${failing.body.id}` });
  expect(told.recipients.map((person: { subject: string }) => person.subject)).toEqual(['alice']);
}, 90_000);

test('a failed publish is told even when an earlier delivery of its notice ended without telling it', async () => {
  const webhook = await receiver(() => ({ body: { ok: true } }));
  const created = await call(api, 'POST', '/api/v1/channels', { json: { name: uniqueName('channel'), kind: 'webhook', secrets: { url: `${webhook.url}/hook`, signingKey: WEBHOOK_KEY } } });
  const template = await createShellTemplate(api, { a: 'echo a' });
  expect((await call(api, 'PUT', `/api/v1/subscriptions/${template.id}`, { json: { routes: { publish_failed: [created.body.id] } } })).status).toBeLessThan(300);
  const gated = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target: 'staging', requireApproval: true } });
  await waitForApprovalGate(api.temporal, publishQueueWorkflowId(api.tenant.id, template.id, 'staging'), gated.body.id);

  // A delivery of this publish's failure notice that ended without telling anyone (as one whose
  // planning gave up while the database was down would): on a task queue no worker polls, terminated.
  const key = `publish:${gated.body.id}:publish_failed`;
  const earlier = await worker.client.workflow.start(SEND_PUBLISH_NOTICE_WORKFLOW_TYPE, {
    workflowId: key,
    taskQueue: `nobody-${randomUUID()}`,
    args: [{ kind: 'publish_failed', key, tenantId: api.tenant.id, publishId: gated.body.id, templateId: template.id, templateName: template.name, templateVersion: 1, target: 'staging', requestedBy: 'alice', approverRoles: [] }],
  });
  await earlier.terminate('its planning gave up');

  fake.inject({ method: 'GET', path: /gen-task-codes/, status: 401, times: 1 });
  expect((await call(api, 'POST', `/api/v1/publishes/${gated.body.id}/approve`, { token: await tokenFor(api, 'ada', ['admin']) })).status).toBe(200);
  expect((await waitForPublish(api, gated.body.id)).status).toBe('failed');
  // The failure's notice is started anew (the terminated delivery does not block it) and tells its subscriber.
  const again = await until(async () => {
    const { runId } = await worker.client.workflow.getHandle(key).describe();
    return runId !== earlier.firstExecutionRunId ? runId : undefined;
  });
  await worker.client.workflow.getHandle(key, again).result();
  expect(webhook.requests.map((request) => JSON.parse(request.body).kind)).toEqual(['publish_failed']);
}, 90_000);

/** Polls until `read` gives something. */
async function until<T>(read: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('never happened');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
