import { parseSpecOrThrow, type SpecInput } from '../../../workflows/spec';
import {
  conditionTaskKey,
  mapDefinition,
  mappingProblems,
  taskCodeKeys,
  UnmappableSpecError,
  type MappedDefinition,
} from '../../../workflows/publishing/mapping';

const settings = { name: 'orders-etl', description: 'nightly orders', tenantCode: 'etl', workerGroup: 'default' };

function codesFor(spec: ReturnType<typeof parseSpecOrThrow>): Record<string, number> {
  return Object.fromEntries(taskCodeKeys(spec).map((key, i) => [key, 1000 + i]));
}

function mapped(input: SpecInput): MappedDefinition {
  const spec = parseSpecOrThrow(input);
  return mapDefinition(spec, settings, codesFor(spec));
}

function problemsOf(input: SpecInput) {
  return mappingProblems(parseSpecOrThrow(input));
}

test('http and shell steps become HTTP and SHELL tasks with their relations, root rows and layout', () => {
  const definition = mapped({
    timeout: '2h',
    steps: [
      { id: 'extract', type: 'shell', name: 'Extract orders', with: { script: 'echo extract' } },
      {
        id: 'notify',
        type: 'http',
        dependsOn: ['extract'],
        with: { method: 'POST', url: 'https://hooks.example.com/done', headers: { 'X-Team': 'data' }, body: { status: 'done' }, expectedStatuses: [202], timeout: '10s' },
      },
      { id: 'audit', type: 'shell', with: { script: 'echo audit' } },
    ],
  });
  expect(definition).toMatchObject({ name: 'orders-etl', description: 'nightly orders', tenantCode: 'etl', timeout: 120, executionType: 'PARALLEL', globalParams: [] });
  expect(definition.tasks.map((t) => [t.code, t.name, t.taskType, t.description])).toEqual([
    [1000, 'extract', 'SHELL', 'Extract orders'],
    [1001, 'notify', 'HTTP', ''],
    [1002, 'audit', 'SHELL', ''],
  ]);
  expect(definition.tasks[0]!.taskParams).toEqual({ rawScript: 'echo extract', localParams: [], resourceList: [] });
  expect(definition.tasks[1]!.taskParams).toEqual({
    url: 'https://hooks.example.com/done',
    httpMethod: 'POST',
    httpParams: [
      { prop: 'X-Team', httpParametersType: 'HEADERS', value: 'data' },
      { prop: 'status', httpParametersType: 'BODY', value: 'done' },
    ],
    httpCheckCondition: 'STATUS_CODE_CUSTOM',
    condition: '202',
    connectTimeout: 10_000,
    socketTimeout: 10_000,
    localParams: [],
  });
  expect(definition.relations.map((r) => [r.preTaskCode, r.postTaskCode])).toEqual([
    [0, 1000],
    [1000, 1001],
    [0, 1002],
  ]);
  // Every task is a postTaskCode exactly once per upstream, roots once with preTaskCode 0.
  expect(definition.locations).toEqual([
    { taskCode: 1000, x: 80, y: 80 },
    { taskCode: 1001, x: 320, y: 80 },
    { taskCode: 1002, x: 80, y: 190 },
  ]);
});

test('retries and timeouts become failRetryTimes, failRetryInterval and timeout in minutes, rounded up', () => {
  const definition = mapped({
    steps: [
      { id: 'a', type: 'shell', with: { script: 'true' }, retry: { maxAttempts: 4, initialInterval: '90s' }, timeout: '30s' },
      { id: 'b', type: 'shell', with: { script: 'true' }, retry: { maxAttempts: 1, initialInterval: '5s' } },
      { id: 'c', type: 'shell', with: { script: 'true' } },
    ],
  });
  const [a, b, c] = definition.tasks;
  expect(a).toMatchObject({ failRetryTimes: 3, failRetryInterval: 2, timeoutFlag: 'OPEN', timeoutNotifyStrategy: 'FAILED', timeout: 1 });
  expect(b).toMatchObject({ failRetryTimes: 0, failRetryInterval: 1, timeoutFlag: 'CLOSE', timeout: 0 });
  // No retry policy: the engine's default (3 attempts), so a step behaves alike on both.
  expect(c).toMatchObject({ failRetryTimes: 2, failRetryInterval: 1 });
  expect(definition.timeout).toBe(0);
});

test('a dependency on a group of join "all" is one on each of its members; layout follows the longest path', () => {
  const definition = mapped({
    steps: [
      { id: 'a', type: 'shell', with: { script: 'a' } },
      { id: 'b', type: 'shell', with: { script: 'b' }, dependsOn: ['a'] },
      { id: 'c', type: 'shell', with: { script: 'c' } },
      { id: 'd', type: 'shell', with: { script: 'd' }, dependsOn: ['both', 'a'] },
    ],
    groups: [{ id: 'both', steps: ['b', 'c'] }],
  });
  expect(definition.relations.map((r) => [r.preTaskCode, r.postTaskCode])).toEqual([
    [0, 1000],
    [1000, 1001],
    [0, 1002],
    [1001, 1003],
    [1002, 1003],
    [1000, 1003],
  ]);
  expect(definition.locations.find((l) => l.taskCode === 1003)).toEqual({ taskCode: 1003, x: 80 + 2 * 240, y: 80 });
});

test('a step that may fail, with dependants deciding on its outcome, gets a CONDITIONS task routing to them', () => {
  const input: SpecInput = {
    steps: [
      { id: 'load', type: 'shell', with: { script: 'load' }, onError: 'continue' },
      { id: 'report', type: 'shell', with: { script: 'report' }, dependsOn: ['load'], when: 'steps.load.status = "succeeded"' },
      { id: 'page', type: 'http', with: { url: 'https://pager.example.com/' }, dependsOn: ['load'], when: "steps.load.status = 'failed'" },
    ],
  };
  const spec = parseSpecOrThrow(input);
  expect(taskCodeKeys(spec)).toEqual(['load', 'report', 'page', conditionTaskKey('load')]);
  const definition = mapped(input);
  const condition = definition.tasks.find((t) => t.taskType === 'CONDITIONS')!;
  expect(condition).toMatchObject({ code: 1003, name: 'load#condition' });
  expect(condition.taskParams).toEqual({
    localParams: [],
    dependence: { relation: 'AND', dependTaskList: [{ relation: 'AND', dependItemList: [{ depTaskCode: 1000, status: 'SUCCESS' }] }] },
    conditionResult: { successNode: [1001], failedNode: [1002] },
  });
  expect(definition.relations.map((r) => [r.preTaskCode, r.postTaskCode])).toEqual([
    [0, 1000],
    [1003, 1001],
    [1003, 1002],
    [1000, 1003],
  ]);
});

test('the mapping is deterministic: the same spec and codes give the same definition', () => {
  const input: SpecInput = {
    steps: [
      { id: 'x', type: 'shell', with: { script: 'x' } },
      { id: 'y', type: 'http', with: { url: 'https://example.com/' }, dependsOn: ['x'] },
    ],
  };
  expect(JSON.stringify(mapped(input))).toBe(JSON.stringify(mapped(input)));
});

test('every unmappable part of a spec is listed at once, each naming its step', () => {
  const problems = problemsOf({
    steps: [
      { id: 'wait', type: 'delay', with: { duration: '5m' } },
      { id: 'ok', type: 'approval', with: { approvers: { roles: ['ops'] } } },
      { id: 'nothing', type: 'noop' },
      { id: 'patch', type: 'http', with: { method: 'PATCH', url: 'https://example.com/' } },
      { id: 'templated', type: 'http', with: { url: 'https://example.com/{{ inputs.id }}' } },
      { id: 'secret', type: 'http', with: { url: 'https://example.com/', headers: { authorization: '{{ secrets.API_KEY }}' } } },
      { id: 'nested', type: 'http', with: { method: 'POST', url: 'https://example.com/', body: { count: 1 } } },
      { id: 'statuses', type: 'http', with: { url: 'https://example.com/', expectedStatuses: [200, 204] } },
      { id: 'held', type: 'shell', with: { script: 'true' }, onError: 'pause' },
      { id: 'picky', type: 'shell', with: { script: 'true' }, retry: { nonRetryableErrors: ['X'] } },
      { id: 'gated', type: 'shell', with: { script: 'true' }, when: 'inputs.deploy = true' },
    ],
    groups: [{ id: 'race', steps: ['wait', 'ok'], join: 'any' }],
  });
  expect(problems.map((p) => [p.stepId, p.path.join('.')])).toEqual([
    [undefined, 'groups.0'],
    ['wait', 'steps.0.type'],
    ['ok', 'steps.1.type'],
    ['nothing', 'steps.2.type'],
    ['patch', 'steps.3.with.method'],
    ['templated', 'steps.4.with.url'],
    ['secret', 'steps.5.with.headers.authorization'],
    ['nested', 'steps.6.with.body'],
    ['statuses', 'steps.7.with.expectedStatuses'],
    ['held', 'steps.8.onError'],
    ['picky', 'steps.9.retry.nonRetryableErrors'],
    ['gated', 'steps.10.when'],
  ]);
  for (const problem of problems.filter((p) => p.stepId)) expect(problem.message).toContain(`step ${problem.stepId}`);
  expect(problems.find((p) => p.stepId === 'secret')!.message).toContain('secrets are never sent');
  expect(problems.find((p) => p.stepId === 'wait')!.message).toMatch(/delay steps cannot be published/);
});

test('a step that may fail needs each dependant to decide on its outcome, and mapDefinition refuses what mappingProblems lists', () => {
  const input: SpecInput = {
    steps: [
      { id: 'load', type: 'shell', with: { script: 'load' }, onError: 'continue' },
      { id: 'after', type: 'shell', with: { script: 'after' }, dependsOn: ['load'] },
    ],
  };
  expect(problemsOf(input)).toEqual([
    expect.objectContaining({ stepId: 'after', message: expect.stringContaining('steps.load.status = "succeeded"') }),
  ]);
  const spec = parseSpecOrThrow(input);
  expect(() => mapDefinition(spec, settings, codesFor(spec))).toThrow(UnmappableSpecError);
});

test('a condition on a step that does not continue on failure is refused', () => {
  expect(
    problemsOf({
      steps: [
        { id: 'load', type: 'shell', with: { script: 'load' } },
        { id: 'report', type: 'shell', with: { script: 'r' }, dependsOn: ['load'], when: 'steps.load.status = "succeeded"' },
      ],
    }),
  ).toEqual([expect.objectContaining({ stepId: 'report', path: ['steps', 1, 'when'] })]);
});

test('forEach and template steps cannot be published, each said so at its path', () => {
  const problems = problemsOf({
    steps: [
      { id: 'each', type: 'http', forEach: { items: '[1, 2]' }, with: { url: 'https://example.com/{{ item }}' } },
      { id: 'sub', type: 'template', with: { template: { name: 'child' } } },
    ],
  });
  expect(problems.map((p) => [p.stepId, p.path.join('.')])).toEqual(
    expect.arrayContaining([
      ['each', 'steps.0.forEach'],
      ['sub', 'steps.1.type'],
    ]),
  );
  expect(problems.find((p) => p.stepId === 'each')!.message).toBe('step each: forEach steps cannot be published: DolphinScheduler has no task that runs once per item of a list');
  expect(problems.find((p) => p.stepId === 'sub')!.message).toMatch(/template steps cannot be published/);
});
