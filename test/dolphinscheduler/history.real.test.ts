import type { TaskDefinitionInput } from '../../activities/dolphinscheduler/client';
import { call } from '../api/harness';
import { eventually, publishShellTemplate, startHistoryEnvironment, type HistoryEnvironment } from '../history/support';

/**
 * The history sync and the inspections against a real DolphinScheduler (the 3.1.1 standalone
 * server the global setup starts or reuses, or DOLPHINSCHEDULER_URL, _TOKEN and _TENANT): a run of
 * a published definition shows up in the executions, and a change made behind flowpilot's back is
 * caught by an inspection that alerts a local webhook receiver through the tenant's webhook channel,
 * once.
 */

let env: HistoryEnvironment;

beforeAll(async () => {
  const { DOLPHINSCHEDULER_URL: url, DOLPHINSCHEDULER_TOKEN: token, DOLPHINSCHEDULER_TENANT: tenantCode } = process.env;
  if (!url || !token || !tenantCode) {
    throw new Error('DOLPHINSCHEDULER_URL, _TOKEN and _TENANT are unset: test/support/global-setup.ts provides them for test/dolphinscheduler/');
  }
  const dialect = process.env.DOLPHINSCHEDULER_DIALECT === 'v3.3' ? 'v3.3' : 'v3.1';
  env = await startHistoryEnvironment({ url, token, dialect, tenantCode });
}, 120_000);

afterAll(async () => {
  await env?.close();
});

test('a run of a published definition is seen in the history sync, with its task states', async () => {
  const published = await publishShellTemplate(env.api, env.target, { extract: 'echo extract', load: 'echo load' });
  await env.dolphin.startInstance(published.projectCode, { definitionCode: published.definitionCode, tenantCode: process.env.DOLPHINSCHEDULER_TENANT });

  const finished = await eventually(
    'the run to be synced as finished',
    async () => (await call(env.api, 'GET', `/api/v1/templates/${published.templateId}/executions?refresh=true&limit=10`)).body,
    (body) => body.items.length === 1 && body.items[0].state === 'SUCCESS' && body.items[0].taskStates?.SUCCESS === 2,
    90_000,
  );
  expect(finished.refresh).toMatchObject({ status: 'completed', errors: [] });
  expect(finished.items[0]).toMatchObject({
    target: env.target,
    definitionCode: published.definitionCode,
    definitionVersion: published.definitionVersion,
    startTime: expect.any(String),
    endTime: expect.any(String),
    durationMs: expect.any(Number),
    host: expect.any(String),
    runTimes: 1,
  });
  expect(finished.items[0].tasks.map((task: { name: string; state: string }) => [task.name, task.state]).sort()).toEqual([
    ['extract', 'SUCCESS'],
    ['load', 'SUCCESS'],
  ]);
  expect(finished.sync).toEqual([expect.objectContaining({ target: env.target, lastError: null })]);
}, 150_000);

test('a definition changed behind flowpilot’s back is caught by an inspection that alerts a webhook receiver, once', async () => {
  const published = await publishShellTemplate(env.api, env.target, { extract: 'echo extract', load: 'echo load' });
  await call(env.api, 'PATCH', `/api/v1/templates/${published.templateId}`, { json: { owner: 'olga' } });
  const clean = await call(env.api, 'POST', '/api/v1/inspections/run');
  expect([clean.status, clean.body.result.skipped]).toEqual([200, []]);
  const driftAlerts = () => env.alerts.filter((alert) => alert.templateId === published.templateId && alert.rule === 'definition-drift');
  expect(driftAlerts()).toEqual([]);

  // Someone edits the script in DolphinScheduler directly: offline, update, online.
  const current = await env.dolphin.getDefinition(published.projectCode, published.definitionCode);
  await env.dolphin.releaseDefinition(published.projectCode, published.definitionCode, 'OFFLINE');
  const tasks: TaskDefinitionInput[] = current.tasks.map((task) => ({
    code: task.code,
    name: task.name,
    taskType: task.taskType,
    taskParams: task.name === 'load' ? { ...task.taskParams, rawScript: 'echo edited by hand' } : task.taskParams,
  }));
  await env.dolphin.updateDefinition(published.projectCode, published.definitionCode, {
    name: current.definition.name,
    tenantCode: process.env.DOLPHINSCHEDULER_TENANT!,
    tasks,
    relations: current.relations.map((relation) => ({ preTaskCode: relation.preTaskCode, postTaskCode: relation.postTaskCode })),
    locations: [],
  });
  await env.dolphin.releaseDefinition(published.projectCode, published.definitionCode, 'ONLINE');
  const edited = await env.dolphin.getDefinition(published.projectCode, published.definitionCode);
  expect(edited.definition.version).toBeGreaterThan(published.definitionVersion);

  const run = await call(env.api, 'POST', '/api/v1/inspections/run');
  expect(run.status).toBe(200);
  const findings = await call(env.api, 'GET', `/api/v1/inspections?rule=definition-drift&templateId=${published.templateId}`);
  expect(findings.body.items).toEqual([
    expect.objectContaining({
      status: 'open',
      owner: 'olga',
      target: env.target,
      details: expect.objectContaining({ recordedVersion: published.definitionVersion, currentVersion: edited.definition.version }),
    }),
  ]);
  const findingId: string = findings.body.items[0].id;
  expect(driftAlerts()).toEqual([expect.objectContaining({ findingId, owner: 'olga', severity: 'critical', target: env.target, templateName: published.name })]);
  // It came through the tenant's webhook channel, signed, and the delivery is recorded under the finding.
  expect(env.rejected).toEqual([]);
  const delivered = [expect.objectContaining({ eventKind: 'inspection_finding', eventKey: driftAlerts()[0]!.key, status: 'succeeded', attempts: 1, channel: expect.objectContaining({ id: env.channelId }) })];
  expect(await env.deliveries(findingId)).toEqual(delivered);

  // Inspected again, nothing more changed: no second message, no second delivery.
  const again = await call(env.api, 'POST', '/api/v1/inspections/run');
  expect([again.status, again.body.result.alertFailures]).toEqual([200, 0]);
  expect(driftAlerts()).toHaveLength(1);
  expect(await env.deliveries(findingId)).toEqual(delivered);
}, 150_000);
