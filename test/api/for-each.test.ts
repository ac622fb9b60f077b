import { call, expectProblem, uniqueName, useApiWithWorker, type Answer } from './harness';

/** `forEach` through the API: the spec's checks as 422s naming the path, and a run's progress per item. */

const api = useApiWithWorker();

const createWith = (steps: unknown[]) => call(api(), 'POST', '/api/v1/templates', { json: { name: uniqueName('for-each'), spec: { steps } } });

function issuePaths(answer: Answer): string[] {
  return answer.body.invalidParams.map((param: { path: (string | number)[] }) => param.path.join('.'));
}

test.each([
  ['a concurrency over the bound', { items: '[1, 2]', concurrency: 101 }, 'noop', 'spec.steps.0.forEach.concurrency'],
  ['a concurrency under one', { items: '[1, 2]', concurrency: 0 }, 'noop', 'spec.steps.0.forEach.concurrency'],
  ['an unknown field', { items: '[1, 2]', parallel: 3 }, 'noop', 'spec.steps.0.forEach'],
  ['items in {{ }}', { items: '{{ inputs.list }}' }, 'noop', 'spec.steps.0.forEach.items'],
  ['items that do not parse', { items: 'inputs.(' }, 'noop', 'spec.steps.0.forEach.items'],
  ['items reading a step that may not have run', { items: 'steps.later.output' }, 'noop', 'spec.steps.0.forEach.items'],
  ['a step type with no per-item form', { items: '[1, 2]' }, 'delay', 'spec.steps.0.forEach'],
])('refuses %s with 422 naming the path', async (_, forEach, type, path) => {
  const withOf = type === 'delay' ? { duration: '1s' } : {};
  const answer = await createWith([
    { id: 'each', type, forEach, with: withOf },
    { id: 'later', type: 'noop' },
  ]);
  expectProblem(answer, 422);
  expect(issuePaths(answer)).toContain(path);
  expect(answer.body.invalidParams.find((param: { stepId?: string }) => param.stepId === 'each')).toBeDefined();
});

test('a forEach run shows its items\' outputs and progress on GET /runs/:id', async () => {
  const created = await createWith([
    { id: 'each', type: 'noop', forEach: { items: '[1..5]', concurrency: 2 }, when: 'item % 2 = 1', with: { output: '{{ item * index }}' } },
  ]);
  expect(created.status).toBe(201);
  expect(created.body.version.spec.steps[0].forEach).toEqual({ items: '[1..5]', concurrency: 2 });
  const started = await call(api(), 'POST', '/api/v1/runs', { json: { templateId: created.body.id, input: {} } });
  expect(started.status).toBe(201);
  const deadline = Date.now() + 20_000;
  let run: Answer;
  do {
    run = await call(api(), 'GET', `/api/v1/runs/${started.body.runId}`);
    if (run.body.status === 'succeeded') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  } while (Date.now() < deadline);
  expect(run.body.status).toBe('succeeded');
  expect(run.body.steps[0]).toMatchObject({
    id: 'each',
    status: 'succeeded',
    output: [0, null, 6, null, 20],
    forEach: { total: 5, succeeded: 3, failed: 0, skipped: 2 },
  });
});
