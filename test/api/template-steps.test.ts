import { randomUUID } from 'node:crypto';
import { prismaTemplateVersions } from '../../activities/template-runs';
import { startTestWorker, type TestWorker } from '../support/worker';
import { call, expectProblem, startApi, uniqueName, type Answer, type Api } from './harness';

/**
 * `template` steps through the API, with a real worker whose child runs load their pinned versions
 * from the same PostgreSQL: pinning at version creation, cycles refused, the child's result as the
 * step's output, parent and child linked on GET /runs/:id, failure and cancellation carried over.
 */

let worker: TestWorker;
let api: Api;

beforeAll(async () => {
  const taskQueue = `test-${randomUUID()}`;
  api = await startApi({ taskQueue });
  worker = await startTestWorker(taskQueue, { templates: prismaTemplateVersions(api.prisma) });
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await api?.close();
});

async function createTemplate(name: string, spec: unknown): Promise<{ id: string; spec: { steps: { with: Record<string, unknown> }[] } }> {
  const answer = await call(api, 'POST', '/api/v1/templates', { json: { name, spec } });
  if (answer.status !== 201) throw new Error(`creating ${name} failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return { id: answer.body.id, spec: answer.body.version.spec };
}

async function newVersion(id: string, spec: unknown): Promise<Answer> {
  return call(api, 'POST', `/api/v1/templates/${id}/versions`, { json: { spec } });
}

async function startRun(templateId: string, input: unknown = {}): Promise<string> {
  const answer = await call(api, 'POST', '/api/v1/runs', { json: { templateId, input } });
  if (answer.status !== 201) throw new Error(`starting a run failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.runId;
}

async function runWhen(runId: string, done: (run: Answer['body']) => boolean): Promise<Answer['body']> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = await call(api, 'GET', `/api/v1/runs/${runId}`);
    if (done(run.body)) return run.body;
    if (Date.now() > deadline) throw new Error(`run ${runId} never got there: ${JSON.stringify(run.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const closed = (run: Answer['body']) => ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(run.status);

function doublerSpec(factor: number) {
  return {
    inputs: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'], additionalProperties: false },
    steps: [{ id: 'double', type: 'noop', with: { output: `{{ inputs.n * ${factor} }}` } }],
  };
}

test('a template step runs the version pinned when its own version was created, with inputs from expressions; parent and child link', async () => {
  const childName = uniqueName('child');
  const child = await createTemplate(childName, doublerSpec(2));
  const parent = await createTemplate(uniqueName('parent'), {
    inputs: { type: 'object' },
    steps: [
      { id: 'sub', type: 'template', with: { template: { name: childName }, inputs: { n: '{{ inputs.n + 1 }}' } } },
      { id: 'after', type: 'noop', dependsOn: ['sub'], with: { output: '{{ steps.sub.output.outputs.double }}' } },
    ],
  });
  const pinned = parent.spec.steps[0]!.with.template as { name: string; version: number; versionId: string };
  expect(pinned).toEqual({ name: childName, version: 1, versionId: expect.stringMatching(/^[0-9a-f-]{36}$/) });

  // A later version of the child changes nothing for the parent's version: it stays pinned.
  expect((await newVersion(child.id, doublerSpec(10))).status).toBe(201);
  const runId = await startRun(parent.id, { n: 2 });
  const run = await runWhen(runId, closed);
  expect(run.status).toBe('succeeded');
  const sub = run.steps.find((step: { id: string }) => step.id === 'sub');
  expect(sub.output).toEqual({ runId: sub.childRunId, status: 'succeeded', outputs: { double: 6 } });
  expect(run.steps.find((step: { id: string }) => step.id === 'after').output).toBe(6);
  expect(run.children).toEqual([{ runId: sub.childRunId, stepId: 'sub' }]);

  const childRun = await call(api, 'GET', `/api/v1/runs/${sub.childRunId}`);
  expect(childRun.status).toBe(200);
  expect(childRun.body).toMatchObject({ status: 'succeeded', templateId: child.id, version: 1, parent: { runId, stepId: 'sub' }, children: [] });
});

test('an explicit version is run; an unknown template or version is refused with 422 naming the path', async () => {
  const childName = uniqueName('child');
  const child = await createTemplate(childName, doublerSpec(2));
  await newVersion(child.id, doublerSpec(3));
  const explicit = await createTemplate(uniqueName('parent'), {
    steps: [{ id: 'sub', type: 'template', with: { template: { name: childName, version: 2 }, inputs: { n: 5 } } }],
  });
  const run = await runWhen(await startRun(explicit.id), closed);
  expect(run.steps[0].output.outputs).toEqual({ double: 15 });

  const unknown = await call(api, 'POST', '/api/v1/templates', {
    json: { name: uniqueName('parent'), spec: { steps: [{ id: 'sub', type: 'template', with: { template: { name: 'no-such-template' } } }] } },
  });
  expectProblem(unknown, 422);
  expect(unknown.body.invalidParams).toEqual([
    { path: ['spec', 'steps', 0, 'with', 'template', 'name'], message: 'step "sub": there is no template named "no-such-template"' },
  ]);
  const noVersion = await call(api, 'POST', '/api/v1/templates', {
    json: { name: uniqueName('parent'), spec: { steps: [{ id: 'sub', type: 'template', with: { template: { name: childName, version: 9 } } }] } },
  });
  expectProblem(noVersion, 422);
  expect(noVersion.body.invalidParams[0].path).toEqual(['spec', 'steps', 0, 'with', 'template', 'version']);
  const templated = await call(api, 'POST', '/api/v1/templates', {
    json: { name: uniqueName('parent'), spec: { steps: [{ id: 'sub', type: 'template', with: { template: { name: '{{ inputs.which }}' } } }] } },
  });
  expectProblem(templated, 422);
  expect(templated.body.invalidParams[0].path).toEqual(['spec', 'steps', 0, 'with', 'template']);
});

test("another tenant's template and an archived one are refused", async () => {
  const childName = uniqueName('child');
  const child = await createTemplate(childName, doublerSpec(2));
  const otherTenant = await startApi();
  try {
    const answer = await call(otherTenant, 'POST', '/api/v1/templates', {
      json: { name: uniqueName('parent'), spec: { steps: [{ id: 'sub', type: 'template', with: { template: { name: childName } } }] } },
    });
    expectProblem(answer, 422);
    expect(answer.body.invalidParams[0].message).toBe(`step "sub": there is no template named "${childName}"`);
  } finally {
    await otherTenant.close();
  }
  expect((await call(api, 'DELETE', `/api/v1/templates/${child.id}`)).status).toBeLessThan(300);
  const archived = await call(api, 'POST', '/api/v1/templates', {
    json: { name: uniqueName('parent'), spec: { steps: [{ id: 'sub', type: 'template', with: { template: { name: childName } } }] } },
  });
  expectProblem(archived, 422);
  expect(archived.body.invalidParams[0].message).toBe(`step "sub": template "${childName}" is archived; a new version may not run it`);
});

test('cycles between templates are refused at validation, naming the cycle', async () => {
  const a = uniqueName('a');
  const b = uniqueName('b');
  const first = await createTemplate(a, { steps: [{ id: 'work', type: 'noop' }] });
  await createTemplate(b, { steps: [{ id: 'runA', type: 'template', with: { template: { name: a } } }] });
  const cycle = await newVersion(first.id, { steps: [{ id: 'runB', type: 'template', with: { template: { name: b } } }] });
  expectProblem(cycle, 422);
  expect(cycle.body.invalidParams).toEqual([
    { path: ['spec', 'steps', 0, 'with', 'template'], message: `step "runB": would start a cycle of templates: ${a} → ${b} → ${a}` },
  ]);
  const itself = await newVersion(first.id, { steps: [{ id: 'again', type: 'template', with: { template: { name: a } } }] });
  expectProblem(itself, 422);
  expect(itself.body.invalidParams[0].message).toBe(`step "again": runs template "${a}" itself: a cycle (${a} → ${a})`);
});

test('a failed child fails the step per its onError; inputs the child refuses fail it as InvalidStepInput', async () => {
  const failing = uniqueName('failing');
  await createTemplate(failing, { steps: [{ id: 'broken', type: 'noop', when: '$undefinedFunction()' }] });
  const doubler = uniqueName('child');
  await createTemplate(doubler, doublerSpec(2));
  const parent = await createTemplate(uniqueName('parent'), {
    steps: [
      { id: 'sub', type: 'template', onError: 'continue', with: { template: { name: failing } } },
      { id: 'badInputs', type: 'template', onError: 'continue', with: { template: { name: doubler }, inputs: { n: 'two' } } },
      { id: 'independent', type: 'noop', with: { output: 'ran' } },
    ],
  });
  const run = await runWhen(await startRun(parent.id), closed);
  expect(run.status).toBe('succeeded');
  const step = (id: string) => run.steps.find((s: { id: string }) => s.id === id);
  expect(step('sub')).toMatchObject({ status: 'failed', error: { type: 'ChildRunFailed' } });
  expect(step('sub').error.message).toContain(`child run ${step('sub').childRunId} failed: RunFailed`);
  expect(step('badInputs')).toMatchObject({ status: 'failed', error: { type: 'InvalidStepInput' } });
  expect(step('badInputs').error.message).toContain('inputs.n: must be number');
  expect(step('independent').output).toBe('ran');
});

test("a template step's timeout bounds its child run", async () => {
  const waiting = uniqueName('waiting');
  await createTemplate(waiting, { steps: [{ id: 'wait', type: 'delay', with: { duration: '1h' } }] });
  const parent = await createTemplate(uniqueName('parent'), {
    steps: [{ id: 'sub', type: 'template', timeout: '2s', onError: 'continue', with: { template: { name: waiting } } }],
  });
  const run = await runWhen(await startRun(parent.id), closed);
  expect(run.steps[0]).toMatchObject({ status: 'failed', error: { type: 'StepTimeout' } });
  expect((await runWhen(run.steps[0].childRunId, closed)).status).toBe('timed_out');
});

test('cancelling the parent cancels its child run', async () => {
  const waiting = uniqueName('waiting');
  await createTemplate(waiting, { steps: [{ id: 'wait', type: 'delay', with: { duration: '1h' } }] });
  const parent = await createTemplate(uniqueName('parent'), { steps: [{ id: 'sub', type: 'template', with: { template: { name: waiting } } }] });
  const runId = await startRun(parent.id);
  const running = await runWhen(runId, (run) => run.children?.length === 1);
  const childRunId = running.children[0].runId;
  await runWhen(childRunId, (run) => run.steps?.[0]?.status === 'running');
  expect((await call(api, 'POST', `/api/v1/runs/${runId}/cancel`)).status).toBeLessThan(300);
  expect((await runWhen(runId, closed)).status).toBe('cancelled');
  expect((await runWhen(childRunId, closed)).status).toBe('cancelled');
});
