import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { inspectionsWorkflowId } from '../../workflows/dolphinscheduler/contract';
import { toHistoryFile } from '../replay/history-file';
import { workflowBundle } from '../support/worker';
import { call, createTestTenant, createToken, expectProblem, startApi } from '../api/harness';
import { startFakeDolphinScheduler, type FakeDolphinScheduler } from '../support/dolphinscheduler-fake';
import { waitForPublish } from '../publishing/support';
import { publishShellTemplate, startHistoryEnvironment, type HistoryEnvironment, type PublishedTemplate } from './support';
import type { TaskDefinition, TaskDefinitionInput } from '../../activities/dolphinscheduler/client';

/**
 * The inspection rules against the 3.3+ fake: each rule found, stored once per fingerprint,
 * assigned to the owner, alerted once (through the tenant's webhook channel) to a local receiver until it changes, resolved when
 * it clears; acknowledgements; the Prometheus metrics.
 */

let fake: FakeDolphinScheduler;
let env: HistoryEnvironment;

beforeAll(async () => {
  fake = await startFakeDolphinScheduler();
  env = await startHistoryEnvironment({ url: fake.url, token: fake.token, dialect: 'v3.3', tenantCode: 'default' }, { failureThreshold: 3 });
}, 120_000);

afterAll(async () => {
  await env?.close();
  await fake?.close();
});

async function inspect() {
  const answer = await call(env.api, 'POST', '/api/v1/inspections/run');
  expect([answer.status, answer.body.status]).toEqual([200, 'completed']);
  return answer.body.result as { opened: number; changed: number; resolved: number; alerted: number; alertFailures: number; skipped: unknown[] };
}

async function findings(query = '') {
  const answer = await call(env.api, 'GET', `/api/v1/inspections${query}`);
  expect(answer.status).toBe(200);
  return answer.body.items as { id: string; rule: string; status: string; templateId: string; owner: string | null; details: Record<string, unknown>; summary: string }[];
}

const alertsFor = (templateId: string, rule: string) => env.alerts.filter((alert) => alert.templateId === templateId && alert.rule === rule);

/** Changes a published definition directly in DolphinScheduler, as someone there would. */
async function changeBehindOurBack(published: PublishedTemplate, change: (tasks: TaskDefinitionInput[]) => TaskDefinitionInput[]) {
  const current = await env.dolphin.getDefinition(published.projectCode, published.definitionCode);
  await env.dolphin.releaseDefinition(published.projectCode, published.definitionCode, 'OFFLINE');
  const tasks = change(current.tasks.map(asInput));
  const roots = tasks.map((task) => ({ preTaskCode: 0, postTaskCode: task.code }));
  await env.dolphin.updateDefinition(published.projectCode, published.definitionCode, {
    name: current.definition.name,
    tenantCode: 'default',
    tasks,
    relations: roots,
    releaseState: 'ONLINE',
  });
}

function asInput(task: TaskDefinition): TaskDefinitionInput {
  return { code: task.code, name: task.name, taskType: task.taskType, taskParams: task.taskParams };
}

test('an ownerless published template: found, alerted once to its owner-to-be, resolved once it has an owner', async () => {
  const published = await publishShellTemplate(env.api, env.target, { only: 'echo only' });
  await inspect();
  const [finding] = await findings(`?rule=template-without-owner&templateId=${published.templateId}`);
  expect(finding).toMatchObject({ status: 'open', owner: null, summary: expect.stringContaining('has no owner') });
  expect(alertsFor(published.templateId, 'template-without-owner')).toHaveLength(1);

  await inspect();
  expect(alertsFor(published.templateId, 'template-without-owner')).toHaveLength(1);

  expect((await call(env.api, 'PATCH', `/api/v1/templates/${published.templateId}`, { json: { owner: 'dana' } })).body.owner).toBe('dana');
  const result = await inspect();
  expect(result.resolved).toBeGreaterThanOrEqual(1);
  expect(await findings(`?rule=template-without-owner&templateId=${published.templateId}`)).toEqual([]);
  expect(await findings(`?status=resolved&rule=template-without-owner&templateId=${published.templateId}`)).toEqual([expect.objectContaining({ id: finding!.id })]);
}, 60_000);

test('a definition changed in DolphinScheduler is drift, alerted once per change, assigned to the owner', async () => {
  const published = await publishShellTemplate(env.api, env.target, { extract: 'echo extract', load: 'echo load' });
  await call(env.api, 'PATCH', `/api/v1/templates/${published.templateId}`, { json: { owner: 'erin' } });
  await inspect();
  expect(await findings(`?rule=definition-drift&templateId=${published.templateId}`)).toEqual([]);

  const [extraCode] = await env.dolphin.genTaskCodes(published.projectCode, 1);
  await changeBehindOurBack(published, (tasks) => [...tasks, { code: extraCode!, name: 'sneaky', taskType: 'SHELL', taskParams: { rawScript: 'echo sneaky', localParams: [], resourceList: [] } }]);
  await inspect();
  const [drift] = await findings(`?rule=definition-drift&templateId=${published.templateId}`);
  expect(drift).toMatchObject({
    status: 'open',
    owner: 'erin',
    details: expect.objectContaining({ recordedVersion: published.definitionVersion, tasksAdded: [extraCode], tasksRemoved: [] }),
  });
  expect(alertsFor(published.templateId, 'definition-drift')).toEqual([
    expect.objectContaining({ findingId: drift!.id, owner: 'erin', target: env.target, templateName: published.name, severity: 'critical' }),
  ]);

  const delivered = [expect.objectContaining({ eventKind: 'inspection_finding', eventKey: alertsFor(published.templateId, 'definition-drift')[0]!.key, status: 'succeeded', attempts: 1, channel: expect.objectContaining({ id: env.channelId }) })];
  expect(await env.deliveries(drift!.id)).toEqual(delivered);
  expect(env.rejected).toEqual([]);

  // Found again, unchanged: no second alert.
  await inspect();
  expect(alertsFor(published.templateId, 'definition-drift')).toHaveLength(1);
  expect(await env.deliveries(drift!.id)).toEqual(delivered);

  // Changed again: alerted again, still one finding.
  await changeBehindOurBack(published, (tasks) => tasks.filter((task) => task.name !== 'load'));
  const result = await inspect();
  expect(result.changed).toBeGreaterThanOrEqual(1);
  const again = await findings(`?rule=definition-drift&templateId=${published.templateId}`);
  expect(again.map((f) => f.id)).toEqual([drift!.id]);
  expect(alertsFor(published.templateId, 'definition-drift')).toHaveLength(2);
  expect(alertsFor(published.templateId, 'definition-drift')[0]!.key).not.toBe(alertsFor(published.templateId, 'definition-drift')[1]!.key);
  expect((await env.deliveries(drift!.id)).map((delivery) => delivery.eventKey).sort()).toEqual(alertsFor(published.templateId, 'definition-drift').map((alert) => alert.key).sort());

  // The inspections workflow replays its own history (a run that alerted); `RECORD_HISTORIES=1` keeps it for test/replay.
  const history = await env.api.temporal.workflow.getHandle(inspectionsWorkflowId({ tenantId: env.api.tenant.id })).fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  if (process.env.RECORD_HISTORIES === '1') writeFileSync(join(__dirname, '..', 'replay', 'histories', 'inspections.json'), toHistoryFile(history));

  // A publish that fails leaves the drift finding as it was (neither resolved nor alerted again)...
  const v2 = await call(env.api, 'POST', `/api/v1/templates/${published.templateId}/versions`, { json: { spec: { steps: [{ id: 'extract', type: 'shell', with: { script: 'echo v2' } }] } } });
  fake.inject({ method: 'PUT', path: new RegExp(`workflow-definition/${published.definitionCode}$`), body: JSON.stringify({ code: 10107, msg: 'update workflow definition error', data: null, success: false, failed: true }) });
  const failing = await call(env.api, 'POST', `/api/v1/templates/${published.templateId}/versions/${v2.body.number}/publish`, { json: { target: env.target } });
  expect((await waitForPublish(env.api, failing.body.id)).status).toBe('failed');
  await inspect();
  expect((await findings(`?rule=definition-drift&templateId=${published.templateId}`)).map((f) => f.id)).toEqual([drift!.id]);
  expect(alertsFor(published.templateId, 'definition-drift')).toHaveLength(2);
  expect(alertsFor(published.templateId, 'failed-publish')).toHaveLength(1);

  // ...and publishing again over the edit resolves both.
  const again2 = await call(env.api, 'POST', `/api/v1/templates/${published.templateId}/versions/${v2.body.number}/publish`, { json: { target: env.target } });
  expect((await waitForPublish(env.api, again2.body.id)).status).toBe('published');
  await inspect();
  expect(await findings(`?templateId=${published.templateId}&rule=definition-drift`)).toEqual([]);
  expect(await findings(`?templateId=${published.templateId}&rule=failed-publish`)).toEqual([]);
}, 90_000);

test('N failed executions in a row: found from the cache, in the metrics, resolved by a success', async () => {
  const published = await publishShellTemplate(env.api, env.target, { only: 'echo flaky' });
  await call(env.api, 'PATCH', `/api/v1/templates/${published.templateId}`, { json: { owner: 'fay' } });
  fake.seedInstances(published.projectCode, published.definitionCode, 2, 'FAILURE');
  await call(env.api, 'GET', `/api/v1/templates/${published.templateId}/executions?refresh=true`);
  await inspect();
  expect(await findings(`?rule=consecutive-failures&templateId=${published.templateId}`)).toEqual([]);

  fake.seedInstances(published.projectCode, published.definitionCode, 1, 'FAILURE');
  await call(env.api, 'GET', `/api/v1/templates/${published.templateId}/executions?refresh=true`);
  await inspect();
  const [streak] = await findings(`?rule=consecutive-failures&templateId=${published.templateId}`);
  expect(streak).toMatchObject({ owner: 'fay', details: expect.objectContaining({ failures: 3, threshold: 3 }) });
  expect(alertsFor(published.templateId, 'consecutive-failures')).toHaveLength(1);

  const system = await createToken(env.api.prisma, { tenantId: env.api.tenant.id, name: 'prometheus', roles: [], system: true });
  const metrics = await call(env.api, 'GET', '/metrics', { token: system });
  expect(metrics.status).toBe(200);
  expect(metrics.contentType).toContain('text/plain');
  expect(metrics.body).toContain(
    `flowpilot_dolphinscheduler_consecutive_failures{tenant="${env.api.tenant.slug}",template_id="${published.templateId}",template="${published.name}",target="${env.target}"} 3`,
  );
  expect(metrics.body).toMatch(new RegExp(`flowpilot_inspection_findings\\{tenant="${env.api.tenant.slug}",rule="consecutive-failures",status="open"\\} \\d+`));
  expectProblem(await call(env.api, 'GET', '/metrics'), 403);
  expectProblem(await call(env.api, 'GET', '/metrics', { token: null }), 401);

  // A fourth failure extends the streak: the same finding, not alerted again.
  fake.seedInstances(published.projectCode, published.definitionCode, 1, 'FAILURE');
  await call(env.api, 'GET', `/api/v1/templates/${published.templateId}/executions?refresh=true`);
  await inspect();
  expect((await findings(`?rule=consecutive-failures&templateId=${published.templateId}`))[0]!.details.failures).toBe(4);
  expect(alertsFor(published.templateId, 'consecutive-failures')).toHaveLength(1);

  fake.seedInstances(published.projectCode, published.definitionCode, 1, 'SUCCESS');
  await call(env.api, 'GET', `/api/v1/templates/${published.templateId}/executions?refresh=true`);
  await inspect();
  expect(await findings(`?rule=consecutive-failures&templateId=${published.templateId}`)).toEqual([]);
}, 90_000);

test('a failed publish is found, and counted in the metrics', async () => {
  const published = await publishShellTemplate(env.api, env.target, { only: 'echo v1' });
  const v2 = await call(env.api, 'POST', `/api/v1/templates/${published.templateId}/versions`, { json: { spec: { steps: [{ id: 'only', type: 'shell', with: { script: 'echo v2' } }] } } });
  fake.inject({ method: 'PUT', path: /workflow-definition\/\d+$/, body: JSON.stringify({ code: 10107, msg: 'update workflow definition error', data: null, success: false, failed: true }) });
  const publish = await call(env.api, 'POST', `/api/v1/templates/${published.templateId}/versions/${v2.body.number}/publish`, { json: { target: env.target } });
  const deadline = Date.now() + 60_000;
  while ((await call(env.api, 'GET', `/api/v1/publishes/${publish.body.id}`)).body.status !== 'failed') {
    if (Date.now() > deadline) throw new Error('the publish did not fail');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await inspect();
  const [failed] = await findings(`?rule=failed-publish&templateId=${published.templateId}`);
  expect(failed).toMatchObject({ status: 'open', details: expect.objectContaining({ publishId: publish.body.id, templateVersion: v2.body.number }) });
  expect(failed!.summary).toContain('update workflow definition error');
  expect(alertsFor(published.templateId, 'failed-publish')).toHaveLength(1);

  const system = await createToken(env.api.prisma, { tenantId: env.api.tenant.id, name: 'prometheus', roles: [], system: true });
  const metrics = await call(env.api, 'GET', '/metrics', { token: system });
  expect(metrics.body).toMatch(new RegExp(`flowpilot_dolphinscheduler_publish_failures_total\\{tenant="${env.api.tenant.slug}",target="${env.target}"\\} [1-9]`));
}, 90_000);

test('a schedule online for an offline definition is found', async () => {
  const published = await publishShellTemplate(env.api, env.target, { only: 'echo scheduled' });
  const offline = await call(env.api, 'POST', `/api/v1/templates/${published.templateId}/targets/${env.target}/offline`);
  const deadline = Date.now() + 60_000;
  while ((await call(env.api, 'GET', `/api/v1/publishes/${offline.body.id}`)).body.status !== 'offline') {
    if (Date.now() > deadline) throw new Error('the offline request did not finish');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // DolphinScheduler takes a definition's schedules offline with it; one left online (a bug, a direct database edit) is what this rule is for.
  const scheduleList = JSON.stringify({
    code: 0,
    msg: 'success',
    data: { totalList: [{ id: 4242, workflowDefinitionCode: published.definitionCode, crontab: '0 0 3 * * ? *', releaseState: 'ONLINE', startTime: '2026-01-01 00:00:00', endTime: '2100-01-01 00:00:00', timezoneId: 'UTC' }], total: 1, totalPage: 1, pageSize: 100, currentPage: 1 },
    success: true,
    failed: false,
  });
  fake.inject({ method: 'GET', path: new RegExp(`/schedules\\?.*${published.definitionCode}`), body: scheduleList, status: 200 });
  await inspect();
  const [found] = await findings(`?rule=schedule-online-definition-offline&templateId=${published.templateId}`);
  expect(found).toMatchObject({ details: expect.objectContaining({ scheduleIds: [4242] }) });
  // The offline request recorded OFFLINE: no drift for that.
  expect(await findings(`?rule=definition-drift&templateId=${published.templateId}`)).toEqual([]);
}, 90_000);

test('a dependency on another template’s workflow stays a finding until someone confirms it', async () => {
  const upstream = await publishShellTemplate(env.api, env.target, { produce: 'echo produce' });
  const downstream = await publishShellTemplate(env.api, env.target, { consume: 'echo consume' });
  const [subCode] = await env.dolphin.genTaskCodes(downstream.projectCode, 1);
  await changeBehindOurBack(downstream, (tasks) => [
    ...tasks,
    { code: subCode!, name: 'wait-for-upstream', taskType: 'SUB_PROCESS', taskParams: { processDefinitionCode: upstream.definitionCode } },
  ]);
  await inspect();
  const [dependency] = await findings(`?rule=unconfirmed-dependency&templateId=${downstream.templateId}`);
  expect(dependency).toMatchObject({ status: 'open', details: expect.objectContaining({ dependsOnTemplateId: upstream.templateId, task: 'wait-for-upstream' }) });
  expect(alertsFor(downstream.templateId, 'unconfirmed-dependency')).toHaveLength(1);

  const viewer = await createToken(env.api.prisma, { tenantId: env.api.tenant.id, name: 'victor', roles: ['viewer'] });
  expectProblem(await call(env.api, 'POST', `/api/v1/inspections/${dependency!.id}/acknowledge`, { token: viewer, json: {} }), 403);
  const other = await createTestTenant(env.api.prisma);
  const mallory = await createToken(env.api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin'] });
  expectProblem(await call(env.api, 'POST', `/api/v1/inspections/${dependency!.id}/acknowledge`, { token: mallory, json: {} }), 404);
  expect((await call(env.api, 'GET', '/api/v1/inspections?status=all', { token: mallory })).body.items).toEqual([]);

  const confirmed = await call(env.api, 'POST', `/api/v1/inspections/${dependency!.id}/acknowledge`, { json: { comment: 'downstream waits for upstream on purpose' } });
  expect(confirmed.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'alice' });
  const audit = await env.api.prisma.auditEvent.findFirst({ where: { subjectId: dependency!.id, action: 'inspection.finding.acknowledged' } });
  expect(audit).toMatchObject({ actor: 'alice', details: expect.objectContaining({ comment: 'downstream waits for upstream on purpose' }) });

  await inspect();
  expect(await findings(`?status=acknowledged&rule=unconfirmed-dependency&templateId=${downstream.templateId}`)).toEqual([expect.objectContaining({ id: dependency!.id })]);
  expect(alertsFor(downstream.templateId, 'unconfirmed-dependency')).toHaveLength(1);
}, 90_000);

test('an on-demand inspection moments after the last one answers its result instead of reading DolphinScheduler again', async () => {
  const throttled = await startApi({ taskQueue: env.worker.taskQueue, tenant: env.api.tenant, inspectionMinIntervalMs: 60_000 });
  try {
    // Without a minimum interval every call inspects: DolphinScheduler is read each time.
    let mark = fake.requests.length;
    const fresh = await call(env.api, 'POST', '/api/v1/inspections/run');
    expect(fresh.body.status).toBe('completed');
    expect(fake.requests.length).toBeGreaterThan(mark);

    mark = fake.requests.length;
    const recent = await Promise.all([1, 2, 3].map(() => call(throttled, 'POST', '/api/v1/inspections/run')));
    expect(recent.map((answer) => [answer.status, answer.body.status, answer.body.workflowId])).toEqual(
      [1, 2, 3].map(() => [200, 'recent', fresh.body.workflowId]),
    );
    expect(recent.map((answer) => answer.body.result)).toEqual([1, 2, 3].map(() => fresh.body.result));
    expect(fake.requests.length).toBe(mark);
  } finally {
    await throttled.close();
  }
}, 60_000);

test('bad parameters are a 400, an unknown finding a 404', async () => {
  expectProblem(await call(env.api, 'GET', '/api/v1/inspections?status=burning'), 400);
  expectProblem(await call(env.api, 'GET', '/api/v1/inspections?rule=nope'), 400);
  expectProblem(await call(env.api, 'GET', '/api/v1/inspections?limit=1000'), 400);
  expectProblem(await call(env.api, 'POST', '/api/v1/inspections/run', { json: { tenantId: 'someone-else' } }), 400);
  expectProblem(await call(env.api, 'POST', '/api/v1/inspections/00000000-0000-4000-8000-000000000000/acknowledge', { json: {} }), 404);
  expectProblem(await call(env.api, 'POST', '/api/v1/inspections/not-an-id/acknowledge', { json: {} }), 404);
});
