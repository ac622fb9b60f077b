import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Keyring } from '../../apps/common/crypto/keyring';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { createDolphinSchedulerClient, type DolphinSchedulerClient, type DolphinSchedulerDialect } from '../../activities/dolphinscheduler/client';
import { FINAL_PUBLISH_STATUSES, publishQueueStateQuery } from '../../workflows/publishing/contract';
import { call, startApi, uniqueName, type Api } from '../api/harness';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * An API and a worker sharing a task queue, the database and a secrets keyring, with a
 * DolphinScheduler target of the API's tenant pointing at `server`: what a publish needs end to end.
 */
export interface PublishingEnvironment {
  api: Api;
  worker: TestWorker;
  /** The target's name. */
  target: string;
  /** A client of the same server, to see what publishing left there. */
  dolphin: DolphinSchedulerClient;
  close(): Promise<void>;
}

export interface ServerUnderTest {
  url: string;
  token: string;
  dialect: DolphinSchedulerDialect;
  tenantCode: string;
  /** How long one call may take before the activity gives up on it (and retries). @default 15000 */
  requestTimeoutMs?: number;
}

export async function startPublishing(server: ServerUnderTest, options: { projectName?: string } = {}): Promise<PublishingEnvironment> {
  const keyring = Keyring.parse(Keyring.generateEntry('publishing'), 'SECRETS_KEYS');
  const taskQueue = `publishing-${randomUUID()}`;
  const api = await startApi({ secretsKeys: keyring, taskQueue });
  const worker = await startTestWorker(taskQueue, {
    prisma: api.prisma,
    secrets: new SecretStore(api.prisma, keyring),
    publishing: { requestTimeoutMs: server.requestTimeoutMs ?? 15_000 },
  });
  const secret = await call(api, 'PUT', '/api/v1/secrets/DS_TOKEN', { json: { value: server.token } });
  const target = 'staging';
  const written = await call(api, 'PUT', `/api/v1/dolphinscheduler/targets/${target}`, {
    json: {
      baseUrl: server.url,
      tokenSecret: 'DS_TOKEN',
      projectName: options.projectName ?? uniqueName('flowpilot'),
      tenantCode: server.tenantCode,
      dialect: server.dialect,
    },
  });
  if (secret.status !== 201 || written.status !== 201) throw new Error(`setting up the target failed: ${written.status} ${JSON.stringify(written.body)}`);
  return {
    api,
    worker,
    target,
    dolphin: createDolphinSchedulerClient({ baseUrl: server.url, token: server.token, dialect: server.dialect }),
    async close() {
      await worker.shutdown();
      await api.close();
    },
  };
}

/** Two shell tasks, the second after the first. */
export function shellSpec(scripts: Record<string, string>, chain = true) {
  const ids = Object.keys(scripts);
  return {
    steps: ids.map((id, i) => ({ id, type: 'shell', with: { script: scripts[id] }, ...(chain && i > 0 ? { dependsOn: [ids[i - 1]] } : {}) })),
  };
}

export async function createShellTemplate(api: Api, scripts: Record<string, string>) {
  const answer = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('etl'), spec: shellSpec(scripts) } });
  if (answer.status !== 201) throw new Error(`creating the template failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as { id: string; name: string };
}

export async function addVersion(api: Api, templateId: string, scripts: Record<string, string>): Promise<number> {
  const answer = await call(api, 'POST', `/api/v1/templates/${templateId}/versions`, { json: { spec: shellSpec(scripts) } });
  if (answer.status !== 201) throw new Error(`adding a version failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.number as number;
}

/** Polls the publish record until it is final. */
export async function waitForPublish(api: Api, publishId: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await call(api, 'GET', `/api/v1/publishes/${publishId}`);
    if (answer.status !== 200) throw new Error(`reading publish ${publishId} failed: ${answer.status}`);
    if (FINAL_PUBLISH_STATUSES.includes(answer.body.status)) return answer.body;
    if (Date.now() > deadline) throw new Error(`publish ${publishId} is still ${answer.body.status}: ${JSON.stringify(answer.body.steps)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Waits until the queue workflow shows this publish waiting for an approval. */
export async function waitForApprovalGate(temporal: Client, workflowId: string, publishId: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await temporal.workflow.getHandle(workflowId).query(publishQueueStateQuery).catch(() => undefined);
    if (state?.current?.publishId === publishId && state.current.phase === 'awaiting_approval') return;
    if (Date.now() > deadline) throw new Error(`publish ${publishId} never reached its approval gate`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
