import type { PrismaClient } from '@prisma/client';
import { createPrismaClient } from '../../apps/common/database';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { scheduledRunId } from '../../workflows/scheduled-start';
import { startTestWorker, workflowBundle, type TestWorker } from '../support/worker';
import { call, createTestTenant, createToken, expectProblem, startApi, tokenFor, uniqueName, type Answer, type Api } from './harness';
import { eventually } from '../support/eventually';

/**
 * A template's schedules against the real Temporal dev server: each is a Temporal Schedule whose
 * firings start the `scheduledRun` launcher on the worker's queue, which resolves the version and
 * runs the run as its child. Cron expressions name times far from now (or the schedule is paused),
 * so only triggers and backfills fire during the test.
 */

let worker: TestWorker;
let api: Api;
let database: PrismaClient;
/** An admin of another tenant, with a template of its own. */
let mallory: { token: string; templateId: string };
let operator: string;
let viewer: string;

const inputs = { type: 'object', required: ['service'], properties: { service: { type: 'string' } }, additionalProperties: false };
const specV1 = { inputs, steps: [{ id: 'hello', type: 'noop', with: { output: '{{ "hello " & inputs.service }}' } }] };
const specV2 = { inputs, steps: [...specV1.steps, { id: 'again', type: 'noop', dependsOn: ['hello'], with: { output: 'v2' } }] };
/** Fires once a year, at a time no test run meets. */
const NEVER_NOW = '0 0 29 2 *';

beforeAll(async () => {
  database = createPrismaClient(process.env.DATABASE_URL!);
  worker = await startTestWorker(undefined, { prisma: database });
  api = await startApi({ taskQueue: worker.taskQueue });
  operator = await tokenFor(api, 'olga', ['operator']);
  viewer = await tokenFor(api, 'victor', ['viewer']);
  const other = await createTestTenant(api.prisma);
  const token = await createToken(api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin'] });
  const template = await call(api, 'POST', '/api/v1/templates', { token, json: { name: uniqueName(), spec: specV1 } });
  mallory = { token, templateId: template.body.id };
}, 120_000);

afterAll(async () => {
  await api?.close();
  await worker?.shutdown();
  await database?.$disconnect();
});


async function template(spec: object = specV1): Promise<string> {
  const answer = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('scheduled'), spec } });
  expect(answer.status).toBe(201);
  return answer.body.id;
}

async function createSchedule(templateId: string, body: Record<string, unknown>, token = operator): Promise<Answer> {
  return call(api, 'POST', `/api/v1/templates/${templateId}/schedules`, { token, json: body });
}

const scheduleUrl = (templateId: string, scheduleId: string) => `/api/v1/templates/${templateId}/schedules/${scheduleId}`;

/** The runs the schedule's firings started, once there are `count` of them and all have finished. */
async function finishedRuns(templateId: string, scheduleId: string, count: number): Promise<Answer[]> {
  const schedule = await eventually(
    () => call(api, 'GET', scheduleUrl(templateId, scheduleId)),
    (answer) => answer.body.recentRuns?.length === count && answer.body.runningRuns?.length === 0,
  );
  return Promise.all(
    schedule.body.recentRuns.map((run: { runId: string }) =>
      eventually(() => call(api, 'GET', `/api/v1/runs/${run.runId}`), (answer) => answer.status === 200 && answer.body.status === 'succeeded'),
    ),
  );
}

test('a schedule is created, read, and fired now: its run carries the tenant and the schedule as its starter', async () => {
  const templateId = await template();
  const created = await createSchedule(templateId, {
    description: 'nightly deploy check',
    cron: NEVER_NOW,
    timeZone: 'Europe/Berlin',
    input: { service: 'billing' },
    jitter: '10s',
  });
  expect(created.status).toBe(201);
  const scheduleId: string = created.body.id;
  expect(created.headers.get('location')).toBe(scheduleUrl(templateId, scheduleId));
  expect(created.body).toMatchObject({
    templateId,
    description: 'nightly deploy check',
    cron: [NEVER_NOW],
    timeZone: 'Europe/Berlin',
    version: 'latest',
    input: { service: 'billing' },
    overlap: 'skip',
    jitter: '10s',
    catchupWindow: '1m',
    paused: false,
    createdBy: 'olga',
    recentRuns: [],
    firings: 0,
  });
  // 29 February at midnight in Berlin: 23:00 UTC the day before, and up to 10 s of jitter.
  expect(created.body.nextRunTimes[0]).toMatch(/-02-28T23:00:(0\d|10)\.\d{3}Z$/);

  // Temporal holds it: the Web UI shows the same schedule, with the tenant's search attribute.
  const described = await api.temporal.schedule.getHandle(scheduleId).describe();
  expect(described.spec.timezone).toBe('Europe/Berlin');
  expect(described.action).toMatchObject({ workflowType: 'scheduledRun', taskQueue: worker.taskQueue });

  const triggered = await call(api, 'POST', `${scheduleUrl(templateId, scheduleId)}/trigger`, { token: operator });
  expect([triggered.status, triggered.body.accepted]).toEqual([202, true]);
  const [run] = await finishedRuns(templateId, scheduleId, 1);
  expect(run!.body).toMatchObject({ templateId, version: 1, startedBy: `schedule:${scheduleId}`, status: 'succeeded' });
  expect(run!.body.steps.find((step: { id: string }) => step.id === 'hello').output).toBe('hello billing');

  // The launcher Temporal started reports the run it waited for, and its history replays.
  const [action] = (await api.temporal.schedule.getHandle(scheduleId).describe()).info.recentActions;
  const launcher = api.temporal.workflow.getHandle(action!.action.workflow.workflowId);
  expect(await launcher.result()).toEqual({ runId: run!.body.runId, templateVersion: 1, outcome: 'completed' });
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await launcher.fetchHistory());

  // The run is the tenant's like any other: listed by its starter, and another tenant's 404.
  const listed = await eventually(
    () => call(api, 'GET', `/api/v1/runs?startedBy=${encodeURIComponent(`schedule:${scheduleId}`)}`),
    (answer) => answer.body.items?.length === 1,
  );
  expect(listed.body.items[0].runId).toBe(run!.body.runId);
  expectProblem(await call(api, 'GET', `/api/v1/runs/${run!.body.runId}`, { token: mallory.token }), 404);
  // The schedule is no other tenant's either, whichever template it is asked under.
  expectProblem(await call(api, 'GET', scheduleUrl(templateId, scheduleId), { token: mallory.token }), 404);
  expectProblem(await call(api, 'GET', scheduleUrl(mallory.templateId, scheduleId), { token: mallory.token }), 404);
  expectProblem(await call(api, 'POST', `${scheduleUrl(mallory.templateId, scheduleId)}/trigger`, { token: mallory.token }), 404);
  expectProblem(await call(api, 'DELETE', scheduleUrl(mallory.templateId, scheduleId), { token: mallory.token }), 404);
  // Nor another template's of the same tenant.
  expectProblem(await call(api, 'GET', scheduleUrl(await template(), scheduleId)), 404);

  const list = await eventually(
    () => call(api, 'GET', `/api/v1/templates/${templateId}/schedules`, { token: viewer }),
    (answer) => answer.body.items?.length === 1,
  );
  expect(list.body.items[0]).toMatchObject({ id: scheduleId, firings: 1 });
  expect((await call(api, 'GET', `/api/v1/templates/${mallory.templateId}/schedules`, { token: mallory.token })).body.items).toEqual([]);

  await api.audit.flush();
  const entries = await api.prisma.auditEvent.findMany({ where: { subjectType: 'schedule', subjectId: scheduleId }, orderBy: { at: 'asc' } });
  expect(entries.map((entry) => [entry.action, entry.actor, entry.tenantId])).toEqual([
    ['schedule.created', 'olga', api.tenant.id],
    ['schedule.triggered', 'olga', api.tenant.id],
  ]);

  expect((await call(api, 'DELETE', scheduleUrl(templateId, scheduleId), { token: operator })).status).toBe(204);
  expectProblem(await call(api, 'GET', scheduleUrl(templateId, scheduleId)), 404);
}, 90_000);

test('pause and resume show in the schedule and in Temporal’s describe; a change keeps the pause', async () => {
  const templateId = await template();
  const { body: schedule } = await createSchedule(templateId, { cron: ['0 12 * * MON', '@monthly'], input: { service: 'search' } });
  const url = scheduleUrl(templateId, schedule.id);
  const handle = api.temporal.schedule.getHandle(schedule.id);

  const paused = await call(api, 'POST', `${url}/pause`, { token: operator, json: { note: 'maintenance window' } });
  expect(paused.body).toMatchObject({ paused: true, note: 'maintenance window', nextRunTimes: [] });
  expect((await handle.describe()).state).toMatchObject({ paused: true, note: 'maintenance window' });

  const changed = await call(api, 'PATCH', url, { token: operator, json: { description: 'weekly', overlap: 'bufferOne', timeZone: 'America/New_York' } });
  expect(changed.status).toBe(200);
  expect(changed.body).toMatchObject({ description: 'weekly', overlap: 'bufferOne', timeZone: 'America/New_York', cron: ['0 12 * * MON', '@monthly'], paused: true, updatedBy: 'olga' });

  const withoutJitter = await call(api, 'PATCH', url, { token: operator, json: { jitter: null } });
  expect(withoutJitter.body).toMatchObject({ jitter: null, description: 'weekly', paused: true });

  const resumed = await call(api, 'POST', `${url}/resume`, { token: operator });
  expect(resumed.body).toMatchObject({ paused: false, note: 'resumed by olga' });
  expect(resumed.body.nextRunTimes.length).toBeGreaterThan(0);
  expect((await handle.describe()).state.paused).toBe(false);

  // A viewer reads schedules and changes none.
  expect((await call(api, 'GET', url, { token: viewer })).status).toBe(200);
  expectProblem(await call(api, 'POST', `${url}/pause`, { token: viewer }), 403);
  await handle.delete();
}, 60_000);

test('a backfill of a past range starts one run per time the cron names in it', async () => {
  const templateId = await template();
  const { body: schedule } = await createSchedule(templateId, { cron: '15 3 * * *', input: { service: 'ledger' }, overlap: 'allowAll' });
  const today = new Date();
  today.setUTCHours(0, 0, 0, 0);
  const start = new Date(today.getTime() - 3 * 86_400_000);
  const backfill = await call(api, 'POST', `${scheduleUrl(templateId, schedule.id)}/backfill`, {
    token: operator,
    json: { start: start.toISOString(), end: today.toISOString() },
  });
  expect(backfill.status).toBe(202);

  const runs = await finishedRuns(templateId, schedule.id, 3);
  const described = await call(api, 'GET', scheduleUrl(templateId, schedule.id));
  expect(described.body.recentRuns.map((run: { scheduledAt: string }) => run.scheduledAt)).toEqual(
    [3, 2, 1].map((days) => new Date(today.getTime() - days * 86_400_000 + (3 * 60 + 15) * 60_000).toISOString()),
  );
  expect(new Set(runs.map((run) => run.body.runId)).size).toBe(3);
  expect(runs.every((run) => run.body.startedBy === `schedule:${schedule.id}`)).toBe(true);

  // A range in the future, or reversed, is no backfill.
  const future = new Date(Date.now() + 3_600_000).toISOString();
  expectProblem(await call(api, 'POST', `${scheduleUrl(templateId, schedule.id)}/backfill`, { token: operator, json: { start: today.toISOString(), end: future } }), 422);
  expectProblem(await call(api, 'POST', `${scheduleUrl(templateId, schedule.id)}/backfill`, { token: operator, json: { start: today.toISOString(), end: start.toISOString() } }), 422);
  expectProblem(await call(api, 'POST', `${scheduleUrl(templateId, schedule.id)}/backfill`, { token: operator, json: { start: 'yesterday', end: future } }), 400);
  await api.temporal.schedule.getHandle(schedule.id).delete();
}, 90_000);

test('a schedule following the latest version picks up a new version; a pinned one does not', async () => {
  const templateId = await template();
  const latest = (await createSchedule(templateId, { cron: NEVER_NOW, input: { service: 'a' } })).body;
  const pinned = (await createSchedule(templateId, { cron: NEVER_NOW, input: { service: 'b' }, version: 1 })).body;
  expect([latest.version, pinned.version]).toEqual(['latest', 1]);

  await call(api, 'POST', `${scheduleUrl(templateId, latest.id)}/trigger`, { token: operator });
  const [first] = await finishedRuns(templateId, latest.id, 1);
  expect(first!.body.version).toBe(1);

  expect((await call(api, 'POST', `/api/v1/templates/${templateId}/versions`, { json: { spec: specV2 } })).status).toBe(201);
  await call(api, 'POST', `${scheduleUrl(templateId, latest.id)}/trigger`, { token: operator });
  await call(api, 'POST', `${scheduleUrl(templateId, pinned.id)}/trigger`, { token: operator });
  const afterNewVersion = await finishedRuns(templateId, latest.id, 2);
  expect(afterNewVersion.map((run) => run.body.version)).toEqual([1, 2]);
  expect(afterNewVersion[1]!.body.steps.map((step: { id: string }) => step.id)).toEqual(['hello', 'again']);
  const [pinnedRun] = await finishedRuns(templateId, pinned.id, 1);
  expect(pinnedRun!.body.version).toBe(1);

  await Promise.all([latest.id, pinned.id].map((id) => api.temporal.schedule.getHandle(id).delete()));
}, 90_000);

test('the overlap policy applies to runs: cancelOther cancels the previous firing’s run, which ends cancelled', async () => {
  const gated = { inputs, steps: [{ id: 'gate', type: 'approval', with: { approvers: { roles: ['sre'] } } }] };
  const templateId = await template(gated);
  const { body: schedule } = await createSchedule(templateId, { cron: NEVER_NOW, input: { service: 'x' }, overlap: 'cancelOther' });
  const url = scheduleUrl(templateId, schedule.id);
  await call(api, 'POST', `${url}/trigger`, { token: operator });
  const first = await eventually(() => call(api, 'GET', url), (answer) => answer.body.runningRuns?.length === 1);
  const firstRunId: string = first.body.runningRuns[0];
  await eventually(() => call(api, 'GET', `/api/v1/runs/${firstRunId}`), (answer) => answer.body.status === 'waiting_approval');
  // Temporal names firings to the second: the next one in another second.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await call(api, 'POST', `${url}/trigger`, { token: operator });
  const cancelled = await eventually(() => call(api, 'GET', `/api/v1/runs/${firstRunId}`), (answer) => answer.body.status === 'cancelled');
  expect(cancelled.body.startedBy).toBe(`schedule:${schedule.id}`);
  const second = await eventually(
    () => call(api, 'GET', url),
    (answer) => answer.body.runningRuns?.length === 1 && answer.body.runningRuns[0] !== firstRunId,
  );
  const secondRunId: string = second.body.runningRuns[0];
  await eventually(() => call(api, 'GET', `/api/v1/runs/${secondRunId}`), (answer) => answer.body.status === 'waiting_approval');
  // Deleting the schedule leaves its run in flight; the test cancels it.
  expect((await call(api, 'DELETE', url, { token: operator })).status).toBe(204);
  expect((await call(api, 'POST', `/api/v1/runs/${secondRunId}/cancel`, { token: operator })).status).toBe(202);
}, 60_000);

test('archiving a template pauses its schedules, audited; a firing Temporal still makes fails its launcher as TemplateArchived, and starts no run', async () => {
  const templateId = await template();
  const { body: schedule } = await createSchedule(templateId, { cron: NEVER_NOW, input: { service: 'old' } });
  await eventually(() => call(api, 'GET', `/api/v1/templates/${templateId}/schedules`), (answer) => answer.body.items?.length === 1);
  expect((await call(api, 'DELETE', `/api/v1/templates/${templateId}`)).status).toBe(204);
  const paused = await call(api, 'GET', scheduleUrl(templateId, schedule.id));
  expect(paused.body).toMatchObject({ paused: true, note: expect.stringContaining('template archived'), nextRunTimes: [] });
  const audited = await eventually(
    () => call(api, 'GET', `/api/v1/audit?targetId=${schedule.id}`),
    (answer) => answer.body.items?.some((entry: { action: string }) => entry.action === 'schedule.paused'),
  );
  expect(audited.body.items.find((entry: { action: string }) => entry.action === 'schedule.paused').summary).toEqual({ templateId, note: paused.body.note });
  // The API refuses to fire it (409); Temporal still may, as its clock would.
  expectProblem(await call(api, 'POST', `${scheduleUrl(templateId, schedule.id)}/trigger`, { token: operator }), 409);
  const handle = api.temporal.schedule.getHandle(schedule.id);
  await handle.trigger();
  const launcher = (
    await eventually(
      () => handle.describe(),
      (described) => described.info.recentActions.length === 1,
    )
  ).info.recentActions[0]!.action.workflow;
  const failure = await api.temporal.workflow.getHandle(launcher.workflowId).result().catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  // The activity's typed failure, not retried, under the ActivityFailure Temporal wraps it in.
  const cause = (failure as WorkflowFailedError).cause?.cause as ApplicationFailure;
  expect([cause.type, cause.nonRetryable, cause.message]).toEqual(['TemplateArchived', true, expect.stringContaining('is archived')]);
  expectProblem(await call(api, 'GET', `/api/v1/runs/${scheduledRunId(launcher.firstExecutionRunId)}`), 404);
  // Its schedules can still be cleared away.
  expect((await call(api, 'DELETE', scheduleUrl(templateId, schedule.id), { token: operator })).status).toBe(204);
}, 60_000);

test('a schedule the archiving missed pauses itself at its first firing', async () => {
  const templateId = await template();
  // Archived behind the API's back, as if the schedule had not been listed yet when it was.
  const { body: schedule } = await createSchedule(templateId, { cron: NEVER_NOW, input: { service: 'old' } });
  await database.template.update({ where: { id: templateId }, data: { archived: true } });
  const handle = api.temporal.schedule.getHandle(schedule.id);
  await handle.trigger();
  const described = await eventually(
    () => handle.describe(),
    (description) => description.state.paused,
  );
  expect(described.state.note).toContain('is archived');
  expect((await call(api, 'DELETE', scheduleUrl(templateId, schedule.id), { token: operator })).status).toBe(204);
}, 60_000);

describe('refusals', () => {
  let templateId: string;
  beforeAll(async () => {
    templateId = await template();
  });

  test.each([
    ['not five fields', { cron: 'every day' }, ['cron', 0]],
    ['six fields (seconds)', { cron: '*/5 * * * * *' }, ['cron', 0]],
    ['a time zone in the expression', { cron: 'CRON_TZ=Europe/Paris 0 9 * * *' }, ['cron', 0]],
    ['an unknown time zone', { cron: '0 9 * * *', timeZone: 'Mars/Olympus_Mons' }, ['timeZone']],
    ['a time zone misspelt in case', { cron: '0 9 * * *', timeZone: 'europe/berlin' }, ['timeZone']],
    ['a version that does not exist', { cron: '0 9 * * *', version: 7 }, ['version']],
    ['inputs the version refuses', { cron: '0 9 * * *', input: { service: 42 } }, ['input', 'service']],
  ])('%s: 422 naming the field', async (_name, body, path) => {
    const answer = await createSchedule(templateId, { input: { service: 'x' }, ...body });
    expectProblem(answer, 422);
    expect(answer.body.invalidParams).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
  });

  test('a cron field Temporal refuses: 422 with its reason', async () => {
    const answer = await createSchedule(templateId, { cron: '61 * * * *', input: { service: 'x' } });
    expectProblem(answer, 422);
    expect(answer.body.detail).toMatch(/Temporal refused the schedule/);
  });

  test('the time zone message suggests the right spelling', async () => {
    const answer = await createSchedule(templateId, { cron: '0 9 * * *', timeZone: 'europe/berlin', input: { service: 'x' } });
    expect(answer.body.invalidParams[0].message).toContain('"Europe/Berlin"');
  });

  test('a malformed body is a 400; an unknown or malformed schedule id a 404', async () => {
    expectProblem(await createSchedule(templateId, { cron: 5 }), 400);
    expectProblem(await createSchedule(templateId, { cron: '0 9 * * *', overlap: 'sometimes' }), 400);
    expectProblem(await call(api, 'GET', scheduleUrl(templateId, 'schedule-00000000-0000-4000-8000-000000000000')), 404);
    expectProblem(await call(api, 'GET', scheduleUrl(templateId, 'nope')), 404);
    expectProblem(await call(api, 'GET', `/api/v1/templates/00000000-0000-4000-8000-000000000000/schedules`), 404);
  });

  test('an archived template takes no new schedule', async () => {
    const archivedId = await template();
    expect((await call(api, 'DELETE', `/api/v1/templates/${archivedId}`)).status).toBe(204);
    expectProblem(await createSchedule(archivedId, { cron: '0 9 * * *', input: { service: 'x' } }), 409);
  });
});
