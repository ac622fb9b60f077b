import { createHmac, randomUUID } from 'node:crypto';
import { Keyring } from '../../apps/common/crypto/keyring';
import { createLogger } from '../../apps/common/logger';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { call, startApi, uniqueName, type Api } from '../api/harness';
import { startFakeDolphinScheduler, type FakeDolphinScheduler } from '../support/dolphinscheduler-fake';
import { startHttpReceiver, type HttpReceiver, type ReceivedRequest, type ReceiverHandler } from '../support/receivers';
import { startTestWorker, type TestWorker } from '../support/worker';
import { addTarget, publishShellTemplate } from '../history/support';

/**
 * Inspection findings through the tenant's notification channels: a worker wired as in production
 * (no alert sender of the test's own) delivers each finding's state once to the channels the
 * tenant's default subscription routes `inspection_finding` to, records the deliveries, and a
 * channel that was down gets it on the next inspection while one that took it is not sent it again.
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
