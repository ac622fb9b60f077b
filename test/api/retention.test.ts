import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { createRetentionActivities } from '../../activities/retention';
import { ArtifactStore } from '../../apps/common/artifacts/artifact-store';
import { ensureRetentionSchedule, retentionScheduleId } from '../../apps/worker/src/retention-schedule';
import { workerStorageOf } from '../../apps/worker/src/worker';
import { call, createTestTenant, expectProblem, startApi, tokenFor, type Api } from './harness';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * Retention: the tenant's policy over the API (admin, audited), and the cleanup the worker's
 * Temporal Schedule runs, on rows made old by inserting them with old timestamps.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS);

let api: Api;
let worker: TestWorker;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  api = await startApi();
  worker = await startTestWorker(undefined, { storage: workerStorageOf(api.prisma, pino({ level: 'silent' })) });
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
}, 120_000);

afterAll(async () => {
  await client?.schedule.getHandle(retentionScheduleId(worker.taskQueue)).delete().catch(() => undefined);
  await connection?.close();
  await worker?.shutdown();
  await api?.close();
});

test('the policy: defaults, set by an admin only, validated, audited', async () => {
  expect((await call(api, 'GET', '/api/v1/retention')).body).toEqual({ logsDays: 30, artifactsDays: 30, custom: false, updatedBy: null, updatedAt: null });

  const viewer = await tokenFor(api, 'vera', ['viewer']);
  expect((await call(api, 'GET', '/api/v1/retention', { token: viewer })).status).toBe(200);
  expectProblem(await call(api, 'PUT', '/api/v1/retention', { token: viewer, json: { logsDays: 1, artifactsDays: 1 } }), 403);
  for (const body of [{ logsDays: 0, artifactsDays: 30 }, { logsDays: 7 }, { logsDays: 7, artifactsDays: 4000 }, { logsDays: 7, artifactsDays: 7, extra: 1 }, { logsDays: '7', artifactsDays: 7 }]) {
    expectProblem(await call(api, 'PUT', '/api/v1/retention', { json: body }), 400);
  }

  const first = await call(api, 'PUT', '/api/v1/retention', { json: { logsDays: 7, artifactsDays: 14 } });
  expect(first.body).toMatchObject({ logsDays: 7, artifactsDays: 14, custom: true, updatedBy: 'alice' });
  const second = await call(api, 'PUT', '/api/v1/retention', { json: { logsDays: 3, artifactsDays: 90 } });
  expect(second.body).toMatchObject({ logsDays: 3, artifactsDays: 90 });
  expect((await call(api, 'GET', '/api/v1/retention', { token: viewer })).body).toMatchObject({ logsDays: 3, artifactsDays: 90, custom: true });

  const audit = await call(api, 'GET', '/api/v1/audit?action=retention.updated');
  expect(audit.body.items.map((entry: { summary: unknown; actor: { subject: string } }) => [entry.actor.subject, entry.summary])).toEqual([
    ['alice', { logsDays: 3, artifactsDays: 90, before: { logsDays: 7, artifactsDays: 14 } }],
    ['alice', { logsDays: 7, artifactsDays: 14 }],
  ]);
});

/** A step log entry of `tenantId` written `days` ago. */
async function oldLog(tenantId: string, runId: string, days: number) {
  const entry = await api.prisma.stepLogEntry.create({
    data: { tenantId, runId, stepId: 's', attempt: 1, activityId: 's', level: 'info', message: `written ${days} days ago`, at: daysAgo(days) },
  });
  return entry.id;
}

/** An artifact of `tenantId` made `days` ago, its bytes written then too. */
async function oldArtifact(tenantId: string, runId: string, days: number, content: string) {
  const store = new ArtifactStore(api.prisma);
  const reference = await store.save({ tenantId, runId, stepId: 's', attempt: 1 }, Buffer.from(content), 'text/plain');
  await api.prisma.artifact.update({ where: { id: reference.$artifact.id }, data: { createdAt: daysAgo(days) } });
  await api.prisma.artifactContent.update({
    where: { tenantId_sha256: { tenantId, sha256: reference.$artifact.sha256 } },
    data: { lastWrittenAt: daysAgo(days) },
  });
  return reference.$artifact;
}

test('the schedule, made once however many workers start, removes what each tenant’s policy lets expire', async () => {
  const strict = (await createTestTenant(api.prisma)).id;
  const lenient = (await createTestTenant(api.prisma)).id;
  await api.prisma.retentionPolicy.create({ data: { tenantId: strict, logsDays: 5, artifactsDays: 7, updatedBy: 'test' } });
  const runId = `run-${randomUUID()}`;

  const strictOldLog = await oldLog(strict, runId, 6);
  const strictNewLog = await oldLog(strict, runId, 1);
  const lenientLog = await oldLog(lenient, runId, 6);
  const lenientOldLog = await oldLog(lenient, runId, 31);
  const expired = await oldArtifact(strict, runId, 8, `expired ${randomUUID()}`);
  const kept = await oldArtifact(strict, runId, 2, `kept ${randomUUID()}`);
  // The same bytes as an expired artifact and a recent one: the bytes stay for the recent one.
  const shared = `shared ${randomUUID()}`;
  const sharedOld = await oldArtifact(strict, runId, 9, shared);
  const sharedNew = await oldArtifact(strict, runId, 1, shared);
  const lenientArtifact = await oldArtifact(lenient, runId, 8, `lenient ${randomUUID()}`);

  const logger = pino({ level: 'silent' });
  expect(await ensureRetentionSchedule(client, worker.taskQueue, logger)).toBe('created');
  expect(await ensureRetentionSchedule(client, worker.taskQueue, logger)).toBe('existed');
  const schedule = client.schedule.getHandle(retentionScheduleId(worker.taskQueue));
  await schedule.trigger();
  let workflowId: string | undefined;
  for (let tries = 0; tries < 100 && !workflowId; tries++) {
    workflowId = (await schedule.describe()).info.recentActions.at(-1)?.action.workflow.workflowId;
    if (!workflowId) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const result = await client.workflow.getHandle(workflowId!).result();
  expect(result).toMatchObject({ logs: expect.any(Number), artifacts: expect.any(Number), contents: expect.any(Number) });

  const logIds = (await api.prisma.stepLogEntry.findMany({ where: { runId }, select: { id: true } })).map((row) => row.id);
  expect(logIds.sort()).toEqual([strictNewLog, lenientLog].sort());
  expect(logIds).not.toContain(strictOldLog);
  expect(logIds).not.toContain(lenientOldLog);

  const artifactIds = (await api.prisma.artifact.findMany({ where: { runId }, select: { id: true } })).map((row) => row.id);
  expect(artifactIds.sort()).toEqual([kept.id, sharedNew.id, lenientArtifact.id].sort());
  expect(artifactIds).not.toContain(expired.id);
  expect(artifactIds).not.toContain(sharedOld.id);
  const contents = await api.prisma.artifactContent.findMany({ where: { tenantId: { in: [strict, lenient] } }, select: { sha256: true } });
  expect(contents.map((row) => row.sha256).sort()).toEqual([kept.sha256, sharedNew.sha256, lenientArtifact.sha256].sort());
}, 90_000);

test('the cleanup works through more rows than one batch holds', async () => {
  const tenant = (await createTestTenant(api.prisma)).id;
  const runId = `run-${randomUUID()}`;
  for (let i = 0; i < 7; i++) await oldLog(tenant, runId, 40);
  const hashes: string[] = [];
  for (let i = 0; i < 5; i++) hashes.push((await oldArtifact(tenant, runId, 40, `batch ${i} ${randomUUID()}`)).sha256);
  const fresh = await oldLog(tenant, runId, 0);
  const removed: string[] = [];
  const cleanup = createRetentionActivities({
    prisma: api.prisma,
    artifacts: { removeContent: async (_tenantId, sha256) => void removed.push(sha256) },
    logger: pino({ level: 'silent' }),
    batchSize: 2,
  });
  const result = await cleanup.cleanUpExpiredLogsAndArtifacts();
  expect(result.logs).toBeGreaterThanOrEqual(7);
  expect((await api.prisma.stepLogEntry.findMany({ where: { runId } })).map((row) => row.id)).toEqual([fresh]);
  expect(await api.prisma.artifact.count({ where: { runId } })).toBe(0);
  expect(await api.prisma.artifactContent.count({ where: { tenantId: tenant } })).toBe(0);
  // Each content's bytes handed to its store for removal (the PostgreSQL store's went with the row).
  expect(removed).toEqual(expect.arrayContaining(hashes));
});
