import { randomUUID } from 'node:crypto';
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
  [first, second, deaf] = await Promise.all([
    startApi(),
    startApi(),
    startApi({ templateChangesUrl: 'postgresql://nobody:nothing@127.0.0.1:1/none' }),
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

  const added = await call(first, 'POST', `/api/v1/templates/${template.id}/versions`, {
    json: { spec: sampleSpec({ duration: '7m' }), message: 'longer wait' },
  });
  expect(added.status).toBe(201);

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

test('an instance that cannot listen for changes reads every head from the database', async () => {
  const template = await createTemplate(first);
  expect((await startRun(deaf, template.id)).body.version).toBe(1);
  const added = await call(first, 'POST', `/api/v1/templates/${template.id}/versions`, {
    json: { spec: sampleSpec({ duration: '9m' }), message: 'even longer' },
  });
  expect(added.status).toBe(201);
  // No waiting: without a live feed nothing was cached.
  expect((await startRun(deaf, template.id)).body.version).toBe(2);
});

test('an unknown template is a 404 from every instance', async () => {
  const missing = randomUUID();
  expectProblem(await startRun(first, missing), 404);
  expectProblem(await startRun(deaf, missing), 404);
});
