import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Keyring } from '../../apps/common/crypto/keyring';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { createDolphinSchedulerClient, type DolphinSchedulerClient } from '../../activities/dolphinscheduler/client';
import type { InspectionAlert } from '../../activities/dolphinscheduler/inspections';
import { call, startApi, uniqueName, type Api } from '../api/harness';
import { createShellTemplate, waitForPublish, type ServerUnderTest } from '../publishing/support';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * An API and a worker sharing a task queue, the database and a secrets keyring, a target of the
 * API's tenant pointing at `server`, and a local webhook receiver that inspection alerts are sent
 * to: what the history sync and the inspections need end to end.
 */
export interface HistoryEnvironment {
  api: Api;
  worker: TestWorker;
  target: string;
  /** A client of the same server, to act behind flowpilot's back. */
  dolphin: DolphinSchedulerClient;
  /** Alerts the receiver got, in order. */
  alerts: InspectionAlert[];
  close(): Promise<void>;
}

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
    inspections: { sendAlert: receiver.send, consecutiveFailureThreshold: options.failureThreshold ?? 3 },
  });
  const target = 'staging';
  await addTarget(api, target, server);
  return {
    api,
    worker,
    target,
    dolphin: createDolphinSchedulerClient({ baseUrl: server.url, token: server.token, dialect: server.dialect }),
    alerts: receiver.alerts,
    async close() {
      await worker.shutdown();
      await api.close();
      await receiver.close();
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

/**
 * A local webhook receiver: what an alert channel would post to. The sender is the small function
 * the worker is given for alerts (`inspections.sendAlert`), posting the alert as JSON.
 */
async function startAlertReceiver(): Promise<{ alerts: InspectionAlert[]; send: (alert: InspectionAlert) => Promise<void>; close(): Promise<void> }> {
  const alerts: InspectionAlert[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      alerts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as InspectionAlert);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  return {
    alerts,
    async send(alert) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-event-key': alert.key }, body: JSON.stringify(alert) });
      if (!response.ok) throw new Error(`the receiver answered ${response.status}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
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
