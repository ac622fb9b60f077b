import { randomUUID } from 'node:crypto';
import { createDolphinSchedulerClient } from '../../activities/dolphinscheduler/client';
import { Keyring } from '../../apps/common/crypto/keyring';
import { createLogger } from '../../apps/common/logger';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { call, startApi, type Api } from '../api/harness';
import { addTarget } from '../history/support';
import { startFakeDolphinScheduler, type FakeDolphinScheduler } from '../support/dolphinscheduler-fake';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-child';
import { startTestWorker, type TestWorker } from '../support/worker';
import { addVersion, createShellTemplate, waitForPublish } from './support';

/**
 * A worker SIGKILLed in the middle of a publish (its process and tsx's gone at once, no shutdown,
 * none left after), while DolphinScheduler has done what it asked and holds the answer: after it
 * created the definition, and after it took the online definition (and so its schedule) offline
 * for a new version. Another worker takes the publish over within seconds (the steps heartbeat)
 * and it ends consistent: published once, one definition with the expected tasks and no
 * duplicate, online, its schedule online again, a record whose steps each happened once; or, when
 * the server then refuses the update, failed and compensated, the previous version online again.
 */

const secretsEntry = Keyring.generateEntry('crash');
const secretsKeys = Keyring.parse(secretsEntry, 'SECRETS_KEYS');
const taskQueue = `publish-crash-${randomUUID()}`;

let fake: FakeDolphinScheduler;
let api: Api;
let doomed: WorkerProcess | undefined;
let successor: TestWorker | undefined;

beforeAll(async () => {
  fake = await startFakeDolphinScheduler();
  api = await startApi({ secretsKeys, taskQueue });
  await addTarget(api, 'staging', { url: fake.url, token: fake.token, dialect: 'v3.3', tenantCode: 'default' });
}, 120_000);

afterAll(async () => {
  await doomed?.kill();
  await successor?.shutdown();
  await api?.close();
  await fake?.close();
});

interface ListedDefinition {
  code: number;
  name: string;
  releaseState: string;
}

/** Every definition of the project, as DolphinScheduler lists them (nothing filtered by name). */
async function definitionsOf(projectCode: number): Promise<ListedDefinition[]> {
  const response = await fetch(`${fake.url}/projects/${projectCode}/workflow-definition?searchVal=&pageNo=1&pageSize=100`, { headers: { token: fake.token } });
  const envelope = (await response.json()) as { code: number; data: { totalList: ListedDefinition[] } };
  if (envelope.code !== 0) throw new Error(`listing definitions failed: ${JSON.stringify(envelope)}`);
  return envelope.data.totalList;
}

async function until<T>(what: string, read: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms${doomed ? `; the worker process said:\n${doomed.output()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A step whose worker died is retried elsewhere once its heartbeats stop (10 s), not after its
 * 2-minute start-to-close timeout: the publish ends well within this of the kill.
 */
const RESUMED_WITHIN_MS = 60_000;

/** A worker in this process, as tests start them; quiet, since the failures some tests cause are expected. */
const startSuccessor = () =>
  startTestWorker(taskQueue, {
    prisma: api.prisma,
    secrets: new SecretStore(api.prisma, secretsKeys),
    publishing: { requestTimeoutMs: 5_000 },
    logger: createLogger('test-worker', process.env.LOG_LEVEL ?? 'silent'),
  });

/**
 * Version 1 of a new template published with a schedule to `target` (a target and project of its
 * own), both online; then no worker of this process is left polling, so the next publish is the
 * killed worker's.
 */
async function publishedWithSchedule(target: string) {
  const template = await createShellTemplate(api, { extract: 'echo extract', load: 'echo load' });
  const schedule = { crontab: '0 0 3 * * ? *', startTime: '2026-01-01 00:00:00', endTime: '2030-12-31 00:00:00', timezoneId: 'UTC' };
  await addTarget(api, target, { url: fake.url, token: fake.token, dialect: 'v3.3', tenantCode: 'default' });
  const first = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target, schedule } });
  successor ??= await startSuccessor();
  const v1 = await waitForPublish(api, first.body.id);
  expect(v1.status).toBe('published');
  const { projectCode, definitionCode, definitionVersion, scheduleId } = v1.dolphinScheduler as { projectCode: number; definitionCode: number; definitionVersion: number; scheduleId: number };
  expect((await dolphin().listSchedules(projectCode, definitionCode)).map((s) => [s.id, s.releaseState])).toEqual([[scheduleId, 'ONLINE']]);
  await successor.shutdown();
  successor = undefined;
  return { template, projectCode, definitionCode, definitionVersion, scheduleId };
}

const dolphin = () => createDolphinSchedulerClient({ baseUrl: fake.url, token: fake.token, dialect: 'v3.3' });
const stepsOf = (publish: { steps: { step: string; status: string }[] }) => publish.steps.map((s) => `${s.step}:${s.status}`);

/**
 * Publishes `version` with a worker in a process of its own, which is SIGKILLed as soon as it has
 * sent the request `held` matches: the server does what it asks at once but holds the answer for
 * longer than the test lasts. Then a worker of this process takes the queue over. Answers the
 * publish id and the record as the killed worker left it.
 */
async function publishKilledAt(target: string, templateId: string, version: number, held: { method: string; path: RegExp }, beforeTakeover = () => {}) {
  const before = fake.requests.length;
  fake.inject({ ...held, answerAfterMs: 10 * 60_000 });
  doomed = await startWorkerProcess({ taskQueue, secretsKeys: secretsEntry, requestTimeoutMs: 5 * 60_000 });
  const answer = await call(api, 'POST', `/api/v1/templates/${templateId}/versions/${version}/publish`, { json: { target } });
  expect(answer.status).toBe(202);
  const request = await until(
    `the worker process sending ${held.method} ${held.path}`,
    () => fake.requests.slice(before).find((r) => r.method === held.method && held.path.test(r.path)),
    90_000,
  );
  await doomed.kill();
  doomed = undefined;
  const midway = (await call(api, 'GET', `/api/v1/publishes/${answer.body.id}`)).body;
  expect(midway.status).toBe('running');
  beforeTakeover();
  successor ??= await startSuccessor();
  return { publishId: answer.body.id as string, request, midway, killedAt: Date.now() };
}

test('a worker killed after DolphinScheduler created the definition, before it heard so: the next worker finishes the publish, once', async () => {
  const template = await createShellTemplate(api, { extract: 'echo extract', transform: 'echo transform', load: 'echo load' });
  const { publishId, request, midway, killedAt } = await publishKilledAt('staging', template.id, 1, { method: 'POST', path: /\/workflow-definition$/ });
  const projectCode = Number(/\/projects\/(\d+)\//.exec(request.path)![1]);
  // The server did create it; the record does not know yet.
  expect(await definitionsOf(projectCode)).toEqual([expect.objectContaining({ name: template.name, releaseState: 'OFFLINE' })]);
  expect(stepsOf(midway)).toEqual(['project:succeeded', 'task-codes:succeeded']);

  const done = await waitForPublish(api, publishId, 240_000);
  expect(done).toMatchObject({ status: 'published', error: null });
  expect(Date.now() - killedAt).toBeLessThan(RESUMED_WITHIN_MS);
  expect(stepsOf(done)).toEqual(['project:succeeded', 'task-codes:succeeded', 'definition:succeeded', 'online:succeeded', 'schedule:skipped']);

  // One definition, the one the killed worker created, online, with each step's task once.
  const [definition, ...others] = await definitionsOf(projectCode);
  expect(others).toEqual([]);
  expect(definition).toMatchObject({ name: template.name, releaseState: 'ONLINE' });
  expect(done.dolphinScheduler).toMatchObject({ projectCode, definitionCode: definition!.code });
  const dag = await dolphin().getDefinition(projectCode, definition!.code);
  expect(dag.tasks.map((task) => task.name).sort()).toEqual(['extract', 'load', 'transform']);
  expect(new Set(dag.tasks.map((task) => task.code)).size).toBe(3);
  expect(Object.values(done.dolphinScheduler.taskCodes).sort()).toEqual(dag.tasks.map((task) => task.code).sort());
  expect(dag.relations.filter((relation) => relation.preTaskCode !== 0)).toHaveLength(2);
  expect(dag.definition.version).toBe(done.dolphinScheduler.definitionVersion);

  // Published once: the one record, and the definition created once.
  const publishes = await call(api, 'GET', `/api/v1/publishes?templateId=${template.id}`);
  expect(publishes.body.items.map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([[publishId, 'published']]);
  expect(fake.requests.filter((r) => r.method === 'POST' && new RegExp(`/projects/${projectCode}/workflow-definition$`).test(r.path))).toHaveLength(1);
}, 360_000);

test('a worker killed after DolphinScheduler took the online definition offline for a new version: the next worker publishes it and brings its schedule back online', async () => {
  const { template, projectCode, definitionCode, scheduleId } = await publishedWithSchedule('prod');
  const v2 = await addVersion(api, template.id, { extract: 'echo extract v2', load: 'echo load v2' });
  const { publishId, midway, killedAt } = await publishKilledAt('prod', template.id, v2, { method: 'POST', path: new RegExp(`/workflow-definition/${definitionCode}/release$`) });
  expect((await dolphin().getDefinition(projectCode, definitionCode)).definition.releaseState).toBe('OFFLINE');

  // The record announced taking it offline (and which schedules were online) before the call.
  expect(stepsOf(midway)).toEqual(['project:succeeded', 'task-codes:succeeded', 'offline:started']);
  expect(midway.steps[2].detail).toMatchObject({ definitionCode, onlineSchedules: [scheduleId] });

  const done = await waitForPublish(api, publishId, 240_000);
  expect(done).toMatchObject({ status: 'published', error: null, dolphinScheduler: expect.objectContaining({ definitionCode, scheduleId }) });
  expect(Date.now() - killedAt).toBeLessThan(RESUMED_WITHIN_MS);

  // The new version online, its schedule online again, nothing duplicated.
  const dag = await dolphin().getDefinition(projectCode, definitionCode);
  expect(dag.definition.releaseState).toBe('ONLINE');
  expect(dag.tasks.map((task) => [task.name, task.taskParams.rawScript]).sort()).toEqual([
    ['extract', 'echo extract v2'],
    ['load', 'echo load v2'],
  ]);
  expect((await definitionsOf(projectCode)).map((d) => d.code)).toEqual([definitionCode]);
  expect((await dolphin().listSchedules(projectCode, definitionCode)).map((s) => [s.id, s.releaseState])).toEqual([[scheduleId, 'ONLINE']]);

  // Each step once, the offline one announced and then done.
  expect(stepsOf(done)).toEqual([
    'project:succeeded',
    'task-codes:succeeded',
    'offline:started',
    'offline:succeeded',
    'definition:succeeded',
    'online:succeeded',
    'schedule:skipped',
  ]);
  expect(done.steps.find((s: { step: string }) => s.step === 'schedule').detail).toEqual({ restoredOnline: [scheduleId] });
}, 360_000);

test('a worker killed while taking the online definition offline, then DolphinScheduler refusing the update: the publish fails compensated, the previous version and its schedule online again', async () => {
  const { template, projectCode, definitionCode, definitionVersion, scheduleId } = await publishedWithSchedule('qa');
  const v2 = await addVersion(api, template.id, { extract: 'echo extract v2', load: 'echo load v2' });
  const { publishId } = await publishKilledAt('qa', template.id, v2, { method: 'POST', path: new RegExp(`/workflow-definition/${definitionCode}/release$`) }, () =>
    // As many as the step's attempts left after the killed one.
    fake.inject({ method: 'PUT', path: new RegExp(`/workflow-definition/${definitionCode}$`), status: 503, times: 4 }),
  );

  const failed = await waitForPublish(api, publishId, 240_000);
  expect(failed).toMatchObject({ status: 'failed', error: expect.objectContaining({ type: 'DolphinSchedulerServerError', state: expect.stringMatching(/previous version is online again/) }) });
  const onServer = await dolphin().getDefinition(projectCode, definitionCode);
  expect(onServer.definition).toMatchObject({ releaseState: 'ONLINE', version: definitionVersion });
  expect(onServer.tasks.map((task) => task.taskParams.rawScript).sort()).toEqual(['echo extract', 'echo load']);
  expect((await dolphin().listSchedules(projectCode, definitionCode)).map((s) => [s.id, s.releaseState])).toEqual([[scheduleId, 'ONLINE']]);
  expect(stepsOf(failed)).toEqual(['project:succeeded', 'task-codes:succeeded', 'offline:started', 'offline:succeeded', 'compensate:succeeded']);
}, 360_000);

test('a worker killed after DolphinScheduler applied the update, then DolphinScheduler refusing it again: the publish fails without bringing the new version online, and says so', async () => {
  const { template, projectCode, definitionCode, definitionVersion, scheduleId } = await publishedWithSchedule('uat');
  const v2 = await addVersion(api, template.id, { extract: 'echo extract v2', load: 'echo load v2' });
  const update = { method: 'PUT', path: new RegExp(`/workflow-definition/${definitionCode}$`) };
  const { publishId } = await publishKilledAt('uat', template.id, v2, update, () =>
    // As many as the step's attempts left after the killed one.
    fake.inject({ ...update, status: 503, times: 4 }),
  );

  const failed = await waitForPublish(api, publishId, 240_000);
  expect(failed).toMatchObject({ status: 'failed', error: expect.objectContaining({ type: 'DolphinSchedulerServerError', state: expect.stringMatching(/holds the new version and is offline/) }) });
  // The update the killed worker sent went through: the previous version is gone, and what failed stays offline.
  const onServer = await dolphin().getDefinition(projectCode, definitionCode);
  expect(onServer.definition.releaseState).toBe('OFFLINE');
  expect(onServer.definition.version).toBeGreaterThan(definitionVersion);
  expect(onServer.tasks.map((task) => task.taskParams.rawScript).sort()).toEqual(['echo extract v2', 'echo load v2']);
  expect((await dolphin().listSchedules(projectCode, definitionCode)).map((s) => [s.id, s.releaseState])).toEqual([[scheduleId, 'OFFLINE']]);
  expect(stepsOf(failed)).toEqual(['project:succeeded', 'task-codes:succeeded', 'offline:started', 'offline:succeeded', 'compensate:skipped']);
}, 360_000);
