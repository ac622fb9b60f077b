import { randomUUID } from 'node:crypto';
import { LISTENER_APPLICATION_NAME } from '../../apps/api/src/templates/template-changes';
import { call, createTemplate, expectProblem, sampleSpec, startApi, type Api, type Answer } from './harness';

/**
 * API instances cache template heads (name, archived, latest version) to start runs without a
 * database round trip. Two instances over one database: what one changes, the other must see.
 */

let first: Api;
let second: Api;
/** An instance whose change feed cannot connect: it must read through, never serve stale heads. */
let deaf: Api;

beforeAll(async () => {
  first = await startApi();
  [second, deaf] = await Promise.all([
    startApi({ tenant: first.tenant }),
    startApi({ tenant: first.tenant, templateChangesUrl: 'postgresql://nobody:nothing@127.0.0.1:1/none' }),
  ]);
});
afterAll(async () => {
  await Promise.all([first, second, deaf].map((api) => api?.close()));
});

const started: { api: Api; workflowId: string }[] = [];
afterEach(async () => {
  const runs = started.splice(0);
  await Promise.all(runs.map(({ api, workflowId }) => api.temporal.workflow.getHandle(workflowId).terminate('test finished').catch(() => undefined)));
});

function startRun(api: Api, templateId: string): Promise<Answer> {
  return call(api, 'POST', '/api/v1/runs', { json: { templateId, input: {} } }).then((answer) => {
    if (answer.status === 201) started.push({ api, workflowId: answer.body.workflowId });
    return answer;
  });
}

/** A new latest version that differs from the sample spec in its wait. */
function addVersion(api: Api, templateId: string, wait: string): Promise<Answer> {
  return call(api, 'POST', `/api/v1/templates/${templateId}/versions`, { json: { spec: sampleSpec({ duration: wait }), message: `wait ${wait}` } });
}

/** Notifications take a moment to cross from one instance to the other. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

test('a version added through one instance is what another instance starts next', async () => {
  const template = await createTemplate(first);
  expect((await startRun(second, template.id)).body.version).toBe(1);

  expect((await addVersion(first, template.id, '7m')).status).toBe(201);

  // The instance that made the change never serves its old head.
  expect((await startRun(first, template.id)).body.version).toBe(2);
  await eventually(async () => (await startRun(second, template.id)).body.version === 2, 'the second instance starts version 2');
});

test('a template archived through one instance cannot be started through another', async () => {
  const template = await createTemplate(first);
  const run = await startRun(second, template.id);
  expect(run.status).toBe(201);
  await first.temporal.workflow.getHandle(run.body.workflowId).terminate('make way for archiving');
  await eventually(
    async () => (await first.temporal.workflow.count(`TemplateId = '${template.id}' AND ExecutionStatus = 'Running'`)).count === 0,
    'visibility sees no running run of the template',
  );

  expect((await call(first, 'DELETE', `/api/v1/templates/${template.id}`)).status).toBe(204);

  expectProblem(await startRun(first, template.id), 409);
  await eventually(async () => (await startRun(second, template.id)).status === 409, 'the second instance refuses the archived template');
});

test('a change nobody announced is served from the cache until the instance reconnects, then read afresh', async () => {
  const template = await createTemplate(first);
  expect((await startRun(second, template.id)).status).toBe(201);

  // Archived behind the API's back: no notification, so the cached head stays.
  await first.prisma.$executeRaw`UPDATE "Template" SET archived = true WHERE id = ${template.id}::uuid`;
  expect((await startRun(second, template.id)).status).toBe(201);

  // Every instance's listening connection drops (other test files' too: they read through meanwhile).
  // Changes may have been missed while it was down, so a reconnected instance starts afresh.
  const sessions = second.templateChanges.sessions;
  await first.prisma.$executeRaw`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${LISTENER_APPLICATION_NAME}`;
  await eventually(async () => second.templateChanges.live && second.templateChanges.sessions > sessions, 'the second instance listens again');
  expectProblem(await startRun(second, template.id), 409);
});

test('an instance that cannot listen for changes reads every head from the database', async () => {
  const template = await createTemplate(first);
  expect((await startRun(deaf, template.id)).body.version).toBe(1);
  expect((await addVersion(first, template.id, '9m')).status).toBe(201);
  // No waiting: without a live feed nothing was cached.
  expect((await startRun(deaf, template.id)).body.version).toBe(2);
});

test('an unknown template is a 404 from every instance', async () => {
  const missing = randomUUID();
  expectProblem(await startRun(first, missing), 404);
  expectProblem(await startRun(deaf, missing), 404);
});
