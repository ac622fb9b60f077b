import { createHmac, randomUUID } from 'node:crypto';
import { Keyring } from '../../apps/common/crypto/keyring';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { createDolphinSchedulerClient, type DolphinSchedulerClient } from '../../activities/dolphinscheduler/client';
import type { InspectionAlert } from '../../activities/dolphinscheduler/inspections';
import { call, startApi, uniqueName, type Api } from '../api/harness';
import { createShellTemplate, waitForPublish, type ServerUnderTest } from '../publishing/support';
import { startHttpReceiver, type HttpReceiver, type ReceivedRequest } from '../support/receivers';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * An API and a worker sharing a task queue, the database and a secrets keyring, a target of the
 * API's tenant pointing at `server`, and a local webhook receiver behind a webhook channel of the
 * tenant that its default subscription routes `inspection_finding` to: what the history sync and
 * the inspections need end to end, alerts going the way they do in production.
 */
export interface HistoryEnvironment {
  api: Api;
  worker: TestWorker;
  target: string;
  /** A client of the same server, to act behind flowpilot's back. */
  dolphin: DolphinSchedulerClient;
  /** Alerts the receiver got with a valid signature, in order (the webhook message's `data`). */
  alerts: InspectionAlert[];
  /** Requests the receiver rejected for their signature (none, unless signing is broken). */
  rejected: ReceivedRequest[];
  /** The webhook channel alerts go through. */
  channelId: string;
  /** The deliveries recorded for a finding: GET /api/v1/notifications?runId=inspection:<findingId>. */
  deliveries(findingId: string): Promise<AlertDelivery[]>;
  close(): Promise<void>;
}

export interface AlertDelivery {
  eventKey: string;
  eventKind: string;
  status: string;
  attempts: number;
  channel: { id: string };
}

/** The signing key of the environment's webhook channel, which the receiver verifies as a real one would. */
const WEBHOOK_SIGNING_KEY = 'whsec-history-alerts';

export async function startHistoryEnvironment(server: ServerUnderTest, options: { failureThreshold?: number } = {}): Promise<HistoryEnvironment> {
  const keyring = Keyring.parse(Keyring.generateEntry('history'), 'SECRETS_KEYS');
  const taskQueue = `history-${randomUUID()}`;
  const receiver = await startAlertReceiver();
  // Every refresh syncs here (the tests count requests); a test of the minimum interval starts its own API.
  const api = await startApi({ secretsKeys: keyring, taskQueue, historyRefreshMinIntervalMs: 0, inspectionMinIntervalMs: 0 });
  const worker = await startTestWorker(taskQueue, {
    prisma: api.prisma,
    secrets: new SecretStore(api.prisma, keyring),
    publishing: { requestTimeoutMs: 5_000 },
    inspections: { consecutiveFailureThreshold: options.failureThreshold ?? 3 },
  });
  const target = 'staging';
  await addTarget(api, target, server);
  const channelId = await subscribeWebhookToFindings(api, `${receiver.http.url}/alerts`);
  return {
    api,
    worker,
    target,
    dolphin: createDolphinSchedulerClient({ baseUrl: server.url, token: server.token, dialect: server.dialect }),
    alerts: receiver.alerts,
    rejected: receiver.rejected,
    channelId,
    async deliveries(findingId) {
      const answer = await call(api, 'GET', `/api/v1/notifications?runId=${encodeURIComponent(`inspection:${findingId}`)}`);
      if (answer.status !== 200) throw new Error(`listing deliveries failed: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body.items as AlertDelivery[];
    },
    async close() {
      await worker.shutdown();
      await api.close();
      await receiver.http.close();
    },
  };
}

/** A target named `name` of the API's tenant, its token in a secret of its own. */
export async function addTarget(api: Api, name: string, server: Omit<ServerUnderTest, 'dialect'> & { dialect: string }): Promise<void> {
  const secretName = `DS_${name.toUpperCase().replace(/-/g, '_')}`;
  const secret = await call(api, 'PUT', `/api/v1/secrets/${secretName}`, { json: { value: server.token } });
  const written = await call(api, 'PUT', `/api/v1/dolphinscheduler/targets/${name}`, {
    json: { baseUrl: server.url, tokenSecret: secretName, projectName: uniqueName('history'), tenantCode: server.tenantCode, dialect: server.dialect },
  });
  if (secret.status !== 201 || written.status !== 201) throw new Error(`setting up target ${name} failed: ${written.status} ${JSON.stringify(written.body)}`);
}

export interface PublishedTemplate {
  templateId: string;
  name: string;
  projectCode: number;
  definitionCode: number;
  definitionVersion: number;
  taskCodes: Record<string, number>;
}

/** A shell template published (version 1) to the target through the API, as a user does. */
export async function publishShellTemplate(api: Api, target: string, scripts: Record<string, string>): Promise<PublishedTemplate> {
  const template = await createShellTemplate(api, scripts);
  const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target } });
  if (answer.status !== 202) throw new Error(`publishing failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  const publish = await waitForPublish(api, answer.body.id);
  if (publish.status !== 'published') throw new Error(`publish ended ${publish.status}: ${JSON.stringify(publish.error)}`);
  return { templateId: template.id, name: template.name, ...publish.dolphinScheduler };
}

/** A webhook channel of the API's tenant posting to `url`, signed, that the tenant's default subscription routes findings to. */
async function subscribeWebhookToFindings(api: Api, url: string): Promise<string> {
  const channel = await call(api, 'POST', '/api/v1/channels', {
    json: { name: uniqueName('inspection-alerts'), kind: 'webhook', secrets: { url, signingKey: WEBHOOK_SIGNING_KEY } },
  });
  if (channel.status !== 201) throw new Error(`creating the alert channel failed: ${channel.status} ${JSON.stringify(channel.body)}`);
  const subscribed = await call(api, 'PUT', '/api/v1/subscriptions/default', { json: { routes: { inspection_finding: [channel.body.id] } } });
  if (subscribed.status >= 300) throw new Error(`subscribing the alert channel failed: ${subscribed.status} ${JSON.stringify(subscribed.body)}`);
  return channel.body.id as string;
}

/**
 * A local webhook receiver: what a tenant's webhook channel posts to. It checks the HMAC-SHA256
 * signature over the timestamp and the body as a receiver is told to, and answers 401 to a bad one;
 * the alerts it accepts are the messages' `data`.
 */
async function startAlertReceiver(): Promise<{ http: HttpReceiver; alerts: InspectionAlert[]; rejected: ReceivedRequest[] }> {
  const alerts: InspectionAlert[] = [];
  const rejected: ReceivedRequest[] = [];
  const http = await startHttpReceiver((request) => {
    if (!signedByChannel(request)) {
      rejected.push(request);
      return { status: 401, body: 'bad signature' };
    }
    const message = JSON.parse(request.body) as { kind: string; data: InspectionAlert };
    if (message.kind === 'inspection_finding') alerts.push(message.data);
    return { body: { ok: true } };
  });
  return { http, alerts, rejected };
}

function signedByChannel(request: ReceivedRequest): boolean {
  const timestamp = String(request.headers['x-flowpilot-timestamp']);
  const expected = `v1=${createHmac('sha256', WEBHOOK_SIGNING_KEY).update(`${timestamp}.${request.body}`).digest('hex')}`;
  return request.headers['x-flowpilot-signature'] === expected;
}

/** Waits until `check` holds, polling. */
export async function eventually<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
