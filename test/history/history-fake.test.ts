import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScheduleNotFoundError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { toHistoryFile } from '../replay/history-file';
import { workflowBundle } from '../support/worker';
import { ensureMaintenanceSchedules } from '../../apps/common/dolphinscheduler/schedules';
import { createLogger } from '../../apps/common/logger';
import { HISTORY_SYNC_SCHEDULE_ID, INSPECTIONS_SCHEDULE_ID } from '../../workflows/dolphinscheduler/contract';
import { call, createTemplate, createTestTenant, createToken, expectProblem, startApi } from '../api/harness';
import { startFakeDolphinScheduler, type FakeDolphinScheduler } from '../support/dolphinscheduler-fake';
import { addTarget, eventually, publishShellTemplate, startHistoryEnvironment, type HistoryEnvironment } from './support';

/**
 * The execution history sync against the local 3.3+ fake, which counts every request: a first sync
 * of thousands of instances, the "one new instance costs at most two requests" property, unknown
 * states, a target that is down, and the schedule.
 */

let fake: FakeDolphinScheduler;
let env: HistoryEnvironment;

beforeAll(async () => {
  fake = await startFakeDolphinScheduler();
  env = await startHistoryEnvironment({ url: fake.url, token: fake.token, dialect: 'v3.3', tenantCode: 'default' });
}, 120_000);

afterAll(async () => {
  await env?.close();
  await fake?.close();
});

const executions = (templateId: string, query = '') => call(env.api, 'GET', `/api/v1/templates/${templateId}/executions${query}`);

test('a first sync of 2,500 instances fills the cache; one new instance then costs two requests, none new costs one', async () => {
  const published = await publishShellTemplate(env.api, env.target, { extract: 'echo extract', load: 'echo load' });
  fake.seedInstances(published.projectCode, published.definitionCode, 2_500);

  const first = await executions(published.templateId, '?refresh=true&limit=10');
  expect(first.status).toBe(200);
  expect(first.body.refresh).toMatchObject({ status: 'completed', errors: [] });
  expect(first.body.items).toHaveLength(10);
  expect(first.body.items[0]).toMatchObject({
    target: env.target,
    state: 'SUCCESS',
    definitionCode: published.definitionCode,
    host: expect.any(String),
    startTime: expect.any(String),
    endTime: expect.any(String),
    durationMs: expect.any(Number),
    tasks: expect.any(Array),
    taskStates: expect.any(Object),
  });
  const starts = first.body.items.map((item: { startTime: string }) => item.startTime);
  expect([...starts].sort().reverse()).toEqual(starts);
  expect(first.body.sync).toEqual([expect.objectContaining({ target: env.target, definitionCode: published.definitionCode, lastError: null, lastSuccessAt: expect.any(String) })]);

  const cached = await env.api.prisma.dolphinSchedulerExecution.count({ where: { templateId: published.templateId } });
  expect(cached).toBe(2_500);
  // Task states for the newest 100 (what the API can show); older instances of a first sync have none.
  const withTasks = await env.api.prisma.dolphinSchedulerExecution.count({ where: { templateId: published.templateId, NOT: { tasks: { equals: null as never } } } });
  expect(withTasks).toBe(100);

  // Nothing new: one list request.
  let mark = fake.requests.length;
  const idle = await executions(published.templateId, '?refresh=true');
  expect(idle.body.refresh.status).toBe('completed');
  expect(fake.requests.slice(mark).map((r) => r.path.split('?')[0])).toEqual([`/projects/${published.projectCode}/workflow-instances`]);

  // One new instance: its page and its tasks.
  fake.seedInstances(published.projectCode, published.definitionCode, 1, 'FAILURE');
  mark = fake.requests.length;
  const after = await executions(published.templateId, '?refresh=true&limit=1');
  const made = fake.requests.slice(mark);
  expect(made.length).toBeLessThanOrEqual(2);
  expect(made.map((r) => r.path.split('?')[0])).toEqual([
    `/projects/${published.projectCode}/workflow-instances`,
    `/projects/${published.projectCode}/workflow-instances/${after.body.items[0].instanceId}/tasks`,
  ]);
  expect(after.body.items).toEqual([expect.objectContaining({ state: 'FAILURE', tasks: [], taskStates: {} })]);
  expect(await env.api.prisma.dolphinSchedulerExecution.count({ where: { templateId: published.templateId } })).toBe(2_501);
}, 120_000);

test('a run seen running is updated when it finishes, with its task states', async () => {
  const published = await publishShellTemplate(env.api, env.target, { extract: 'sleep 2', load: 'echo load' });
  const started = await env.dolphin.startInstance(published.projectCode, { definitionCode: published.definitionCode, tenantCode: 'default' });
  const [instanceId] = started.instanceIds;

  const running = await executions(published.templateId, '?refresh=true');
  expect(running.body.items).toEqual([expect.objectContaining({ instanceId, state: 'RUNNING_EXECUTION', endTime: null })]);

  const finished = await eventually(
    'the run to be synced as finished',
    async () => (await executions(published.templateId, '?refresh=true')).body.items[0],
    (item) => item.state === 'SUCCESS',
  );
  expect(finished).toMatchObject({ instanceId, taskStates: { SUCCESS: 2 }, durationMs: expect.any(Number) });
  expect(finished.tasks.map((task: { name: string; state: string }) => [task.name, task.state]).sort()).toEqual([
    ['extract', 'SUCCESS'],
    ['load', 'SUCCESS'],
  ]);
}, 60_000);

test('an unfinished instance the pages no longer show is looked up by itself', async () => {
  const published = await publishShellTemplate(env.api, env.target, { slow: 'sleep 1' });
  const started = await env.dolphin.startInstance(published.projectCode, { definitionCode: published.definitionCode, tenantCode: 'default' });
  const [instanceId] = started.instanceIds;
  expect((await executions(published.templateId, '?refresh=true')).body.items).toEqual([expect.objectContaining({ instanceId, state: 'RUNNING_EXECUTION' })]);
  await new Promise((resolve) => setTimeout(resolve, 1_500));

  // The list leaves it out (as when many newer instances pushed it past the pages a sync reads).
  const emptyPage = { code: 0, msg: 'success', data: { totalList: [], total: 0, totalPage: 1, pageSize: 100, currentPage: 1 }, success: true, failed: false };
  fake.inject({ method: 'GET', path: new RegExp(`/workflow-instances\\?.*workflowDefinitionCode=${published.definitionCode}`), status: 200, body: JSON.stringify(emptyPage) });
  const mark = fake.requests.length;
  const answer = await executions(published.templateId, '?refresh=true');
  expect(fake.requests.slice(mark).map((r) => r.path.split('?')[0])).toEqual([
    `/projects/${published.projectCode}/workflow-instances`,
    `/projects/${published.projectCode}/workflow-instances/${instanceId}`,
    `/projects/${published.projectCode}/workflow-instances/${instanceId}/tasks`,
  ]);
  expect(answer.body.items).toEqual([expect.objectContaining({ instanceId, state: 'SUCCESS', taskStates: { SUCCESS: 1 } })]);
}, 60_000);

test('refreshes in quick succession call DolphinScheduler once: the cache answers the rest', async () => {
  const published = await publishShellTemplate(env.api, env.target, { only: 'echo often' });
  const throttled = await startApi({ taskQueue: env.worker.taskQueue, tenant: env.api.tenant, historyRefreshMinIntervalMs: 60_000 });
  try {
    const mark = fake.requests.length;
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await call(throttled, 'GET', `/api/v1/templates/${published.templateId}/executions?refresh=true`));
    expect(answers.map((answer) => answer.body.refresh.status)).toEqual(['completed', 'recent', 'recent', 'recent', 'recent']);
    expect(fake.requests.length - mark).toBe(1);
  } finally {
    await throttled.close();
  }
}, 60_000);

test('a state this code does not know is stored as it comes and breaks nothing', async () => {
  const published = await publishShellTemplate(env.api, env.target, { only: 'echo only' });
  fake.seedInstances(published.projectCode, published.definitionCode, 2, 'QUANTUM_SUPERPOSITION');
  const answer = await executions(published.templateId, '?refresh=true');
  expect(answer.body.refresh.errors).toEqual([]);
  expect(answer.body.items.map((item: { state: string }) => item.state)).toEqual(['QUANTUM_SUPERPOSITION', 'QUANTUM_SUPERPOSITION']);
}, 60_000);

test('a target that is down is recorded; the other target still syncs', async () => {
  const downFake = await startFakeDolphinScheduler();
  await addTarget(env.api, 'prod', { url: downFake.url, token: downFake.token, dialect: 'v3.3', tenantCode: 'default' });
  const template = await publishShellTemplate(env.api, env.target, { only: 'echo staging' });
  const onProd = await call(env.api, 'POST', `/api/v1/templates/${template.templateId}/versions/1/publish`, { json: { target: 'prod' } });
  expect(onProd.status).toBe(202);
  await eventually('the prod publish', async () => (await call(env.api, 'GET', `/api/v1/publishes/${onProd.body.id}`)).body.status, (s) => s === 'published');
  fake.seedInstances(template.projectCode, template.definitionCode, 3);
  await downFake.close();

  const answer = await executions(template.templateId, '?refresh=true');
  expect(answer.status).toBe(200);
  expect(answer.body.refresh).toMatchObject({ status: 'completed', errors: [{ target: 'prod', message: expect.stringContaining('request failed') }] });
  expect(answer.body.items).toHaveLength(3);
  expect(answer.body.items.every((item: { target: string }) => item.target === env.target)).toBe(true);
  const prodSync = answer.body.sync.find((s: { target: string }) => s.target === 'prod');
  expect(prodSync.lastError).toMatchObject({ type: 'DolphinSchedulerNetworkError', retryable: true });
  const stagingSync = answer.body.sync.find((s: { target: string }) => s.target === env.target);
  expect(stagingSync.lastError).toBeNull();

  // ?target= keeps to one target.
  const onlyProd = await executions(template.templateId, '?target=prod');
  expect([onlyProd.body.items, onlyProd.body.sync.map((s: { target: string }) => s.target)]).toEqual([[], ['prod']]);

  // The sync workflow replays its own history (one target synced, one down); `RECORD_HISTORIES=1`
  // keeps it for test/replay, which replays it against every later change.
  const history = await env.api.temporal.workflow.getHandle(answer.body.refresh.workflowId).fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  if (process.env.RECORD_HISTORIES === '1') writeFileSync(join(__dirname, '..', 'replay', 'histories', 'historySync.json'), toHistoryFile(history));
}, 90_000);

test('a target re-pointed at an address the egress policy denies is never reached by the sync', async () => {
  const elsewhere = await startFakeDolphinScheduler();
  await addTarget(env.api, 'moving', { url: elsewhere.url, token: elsewhere.token, dialect: 'v3.3', tenantCode: 'default' });
  const template = await publishShellTemplate(env.api, 'moving', { only: 'echo moving' });
  await elsewhere.close();
  // An admin points the target somewhere else after publishing: the cloud metadata address.
  const moved = await call(env.api, 'PUT', '/api/v1/dolphinscheduler/targets/moving', {
    json: { baseUrl: 'http://169.254.169.254/dolphinscheduler', tokenSecret: 'DS_MOVING', projectName: 'p', tenantCode: 'default', dialect: 'v3.3' },
  });
  expect(moved.status).toBe(200);
  const answer = await executions(template.templateId, '?refresh=true');
  expect(answer.body.refresh.errors).toEqual([{ target: 'moving', message: expect.stringMatching(/egress/i) }]);
  expect(answer.body.sync).toEqual([expect.objectContaining({ target: 'moving', lastError: expect.objectContaining({ type: 'DolphinSchedulerNetworkError' }) })]);
}, 60_000);

test('another tenant’s template is a 404; bad parameters are a 400', async () => {
  const template = await createTemplate(env.api);
  const other = await createTestTenant(env.api.prisma);
  const mallory = await createToken(env.api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin'] });
  expectProblem(await call(env.api, 'GET', `/api/v1/templates/${template.id}/executions?refresh=true`, { token: mallory }), 404);
  expectProblem(await executions(template.id, '?limit=0'), 400);
  expectProblem(await executions(template.id, '?limit=101'), 400);
  expectProblem(await executions(template.id, '?target=NOT%20A%20TARGET'), 400);
  expectProblem(await executions(template.id, '?refresh=yes'), 400);
  expectProblem(await executions(template.id, '?extra=1'), 400);
  expectProblem(await executions('not-a-uuid'), 404);
  // Never published: an empty answer, nothing to sync.
  const empty = await executions(template.id, '?refresh=true');
  expect([empty.status, empty.body.items, empty.body.refresh.status]).toEqual([200, [], 'completed']);
});

test('the Temporal Schedules sync and inspect without being asked; making them again updates them', async () => {
  const published = await publishShellTemplate(env.api, env.target, { only: 'echo scheduled' });
  fake.seedInstances(published.projectCode, published.definitionCode, 5);
  const options = { taskQueue: env.worker.taskQueue, tenantId: env.api.tenant.id, historySyncIntervalSeconds: 1, inspectionIntervalSeconds: 1, logger: createLogger('test', 'silent') };
  await ensureMaintenanceSchedules(env.worker.client, options);
  try {
    await ensureMaintenanceSchedules(env.worker.client, options);
    const synced = await eventually(
      'the scheduled sync',
      () => env.api.prisma.dolphinSchedulerExecution.count({ where: { templateId: published.templateId } }),
      (count) => count === 5,
      30_000,
    );
    expect(synced).toBe(5);
    // The scheduled inspection finds the published template without an owner.
    await eventually(
      'the scheduled inspection',
      () => env.api.prisma.inspectionFinding.count({ where: { templateId: published.templateId, rule: 'template-without-owner' } }),
      (count) => count === 1,
      30_000,
    );

    // Made again with an interval of 0: the same schedule, now paused.
    await ensureMaintenanceSchedules(env.worker.client, { ...options, inspectionIntervalSeconds: 0 });
    const inspections = await env.worker.client.schedule.getHandle(`${INSPECTIONS_SCHEDULE_ID}:${env.api.tenant.id}`).describe();
    expect(inspections.state.paused).toBe(true);
  } finally {
    for (const id of [HISTORY_SYNC_SCHEDULE_ID, INSPECTIONS_SCHEDULE_ID]) {
      await env.worker.client.schedule
        .getHandle(`${id}:${env.api.tenant.id}`)
        .delete()
        .catch((error) => {
          if (!(error instanceof ScheduleNotFoundError)) throw error;
        });
    }
  }
}, 60_000);
