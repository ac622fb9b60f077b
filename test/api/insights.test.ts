import pino from 'pino';
import { RunSummaryCollector } from '../../apps/api/src/insights/collector';
import { EXPRESSION_BOUNDS } from '../../workflows/spec/expression-bounds';
import { TemplateIdKey, TemplateVersionKey, TenantIdKey } from '../../workflows/search-attributes';
import { useTestWorker } from '../support/worker';
import { json, startHttpServer } from '../workflow/support';
import { call, createTestTenant, createToken, expectProblem, startApi, tokenFor, uniqueName, type Answer, type Api } from './harness';

/**
 * Template stats, version analysis and step dry runs over real HTTP, with real runs on a real worker:
 * finished runs are summarised by the collector from Temporal (visibility and each run's result) into
 * PostgreSQL, open runs are counted by visibility.
 */

const worker = useTestWorker();
let api: Api;
let viewer: string;
let otherTenantAdmin: string;
let collector: RunSummaryCollector;
let backend: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  api = await startApi({ taskQueue: worker().taskQueue });
  viewer = await tokenFor(api, 'vera', ['viewer']);
  const other = await createTestTenant(api.prisma);
  otherTenantAdmin = await createToken(api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin'] });
  collector = new RunSummaryCollector({ prisma: api.prisma, temporal: api.temporal, logger: pino({ level: 'silent' }) });
  // The first call of each run fails with a 503 (retried), the second answers; `/broken` always refuses.
  const attempts = new Map<string, number>();
  backend = await startHttpServer({
    '/flaky': (request, response) => {
      const run = request.headers['x-run'] as string;
      const attempt = (attempts.get(run) ?? 0) + 1;
      attempts.set(run, attempt);
      json(response, attempt === 1 ? 503 : 200, { attempt });
    },
    '/broken': (_request, response) => json(response, 400, { error: 'no' }),
  });
}, 60_000);

afterAll(async () => {
  await backend?.close();
  await api?.close();
});

async function createTemplate(spec: unknown): Promise<{ id: string }> {
  const answer = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('insights'), spec } });
  if (answer.status !== 201) throw new Error(`creating a template failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function startRun(templateId: string, inputs: Record<string, unknown>): Promise<string> {
  const answer = await call(api, 'POST', '/api/v1/runs', { json: { templateId, input: inputs } });
  if (answer.status !== 201) throw new Error(`starting a run failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.runId;
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const runOf = (runId: string) => call(api, 'GET', `/api/v1/runs/${runId}`);

/** Waits until visibility lists the run as closed with the given status, which is what the collector reads. */
async function listedAs(templateId: string, runId: string, status: string): Promise<void> {
  const listed = await eventually(
    () => call(api, 'GET', `/api/v1/runs?templateId=${templateId}&status=${status}&limit=100`),
    (answer) => answer.body.items?.some((item: { runId: string }) => item.runId === runId),
  );
  expect(listed.body.items.map((item: { runId: string }) => item.runId)).toContain(runId);
}

describe('stats', () => {
  /** call (flaky: retried once) → gate (approval) → finish (skipped unless inputs.finish). */
  const spec = {
    inputs: { type: 'object', properties: { target: { type: 'string' }, finish: { type: 'boolean' } } },
    steps: [
      {
        id: 'call',
        type: 'http',
        retry: { maxAttempts: 3, initialInterval: '100ms', nonRetryableErrors: ['HttpClientError'] },
        with: { url: `{{ inputs.target }}`, headers: { 'x-run': '{{ $string($millis()) & $string($random()) }}' } },
      },
      { id: 'gate', type: 'approval', dependsOn: ['call'], with: { approvers: { users: ['alice'] }, allowSelfApproval: true } },
      { id: 'finish', type: 'noop', dependsOn: ['gate'], when: 'inputs.finish = true', with: { output: 'done' } },
    ],
  };
  let template: { id: string };
  let succeeded: string[];
  let failed: string;
  let open: string;
  let stats: Answer;

  beforeAll(async () => {
    template = await createTemplate(spec);
    const flaky = backend.url('/flaky');
    succeeded = [await startRun(template.id, { target: flaky, finish: true }), await startRun(template.id, { target: flaky, finish: false })];
    failed = await startRun(template.id, { target: backend.url('/broken') });
    open = await startRun(template.id, { target: flaky });
    for (const runId of [...succeeded, open]) {
      await eventually(() => runOf(runId), (answer) => answer.body.status === 'waiting_approval');
    }
    // The approvals wait a little, so that their wait is measurable.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const runId of succeeded) {
      expect((await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { json: { comment: 'ok' } })).status).toBe(200);
    }
    for (const runId of succeeded) await listedAs(template.id, runId, 'succeeded');
    await listedAs(template.id, failed, 'failed');
    await listedAs(template.id, open, 'waiting_approval');

    // A run started in Temporal by other means, naming no tenant or template of ours, is passed over.
    const stray = await worker().client.workflow.start('runTemplate', {
      taskQueue: uniqueName('no-worker'),
      workflowId: uniqueName('stray'),
      args: [{}],
      typedSearchAttributes: [
        { key: TenantIdKey, value: 'tpl-1' },
        { key: TemplateIdKey, value: 'not-a-uuid' },
        { key: TemplateVersionKey, value: 2 ** 40 },
      ],
    });
    await stray.terminate('closed before any worker saw it');

    const pass = await collector.collect();
    expect(pass).toMatchObject({ leased: true, written: expect.any(Number) });
    expect(pass.written).toBeGreaterThanOrEqual(3);
    stats = await call(api, 'GET', `/api/v1/templates/${template.id}/stats`, { token: viewer });
  }, 120_000);

  test('runs by status, success rate and durations: finished from the summaries, open from visibility', () => {
    expect(stats.status).toBe(200);
    const { runs } = stats.body;
    expect(runs.byStatus).toEqual({
      running: 0,
      waiting_approval: 1,
      paused: 0,
      held: 0,
      succeeded: 2,
      failed: 1,
      cancelled: 0,
      timed_out: 0,
    });
    expect(runs.total).toBe(4);
    expect(runs.successRate).toBeCloseTo(2 / 3, 3);
    expect(runs.openCountsAvailable).toBe(true);
    expect(runs.durationMs.p50).toBeGreaterThan(0);
    expect(runs.durationMs.p50).toBeLessThanOrEqual(runs.durationMs.p95);
    expect(runs.durationMs.p95).toBeLessThanOrEqual(runs.durationMs.p99);
    expect(Date.parse(stats.body.summarisedBefore)).toBeGreaterThan(Date.now() - 5 * 60_000);
  });

  test('per step: outcomes, failure rate, retries, durations and approval waits', () => {
    const byId = Object.fromEntries(stats.body.steps.map((step: { stepId: string }) => [step.stepId, step]));
    expect(Object.keys(byId).sort()).toEqual(['call', 'finish', 'gate']);
    // Each successful call failed once (a 503) and was retried; the failed run's call was refused at once.
    expect(byId.call).toMatchObject({ type: 'http', runs: 3, succeeded: 2, failed: 1, retries: { total: 2, runsWithRetries: 2, maxAttempts: 2 } });
    expect(byId.call.failureRate).toBeCloseTo(1 / 3, 3);
    expect(byId.call.durationMs.p50).toBeGreaterThanOrEqual(100); // the retry's backoff
    expect(byId.call.approvalWaitMs).toBeNull();
    // Two approvals decided; the failed run cancelled what it had not run.
    expect(byId.gate).toMatchObject({ type: 'approval', runs: 3, succeeded: 2, cancelled: 1, failureRate: 0 });
    expect(byId.gate.approvalWaitMs.p50).toBeGreaterThanOrEqual(300);
    expect(byId.gate.durationMs.p50).toBeGreaterThanOrEqual(byId.gate.approvalWaitMs.p50);
    // One run skipped it by its condition; only the step that ran has a duration.
    expect(byId.finish).toMatchObject({ type: 'noop', succeeded: 1, skipped: 1, cancelled: 1 });
    expect(byId.finish.durationMs.p50).toBe(byId.finish.durationMs.p99);
  });

  test('a version filter and a window select runs; an empty window has no durations', async () => {
    const version1 = await call(api, 'GET', `/api/v1/templates/${template.id}/stats?version=1`);
    expect(version1.body.runs.byStatus).toMatchObject({ succeeded: 2, failed: 1, waiting_approval: 1 });
    const version2 = await call(api, 'GET', `/api/v1/templates/${template.id}/stats?version=2`);
    expect(version2.body.runs).toMatchObject({ total: 0, successRate: null, durationMs: null });
    expect(version2.body.steps).toEqual([]);
    const past = await call(api, 'GET', `/api/v1/templates/${template.id}/stats?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z`);
    expect(past.body).toMatchObject({ from: '2020-01-01T00:00:00.000Z', to: '2020-02-01T00:00:00.000Z', runs: { total: 0 } });
  });

  test('whole days come from the daily rollups and agree with the summaries; percentiles within 2% of exact', async () => {
    const today = new Date(new Date().toISOString().slice(0, 10));
    const tomorrow = new Date(today.getTime() + 24 * 3_600_000);
    // Today is whole in this window (rollups); in the default one it is its partial end (summaries).
    const wholeDay = await call(api, 'GET', `/api/v1/templates/${template.id}/stats?from=${today.toISOString()}&to=${tomorrow.toISOString()}`);
    expect(wholeDay.status).toBe(200);
    const rollups = await api.prisma.runRollup.findMany({ where: { templateId: template.id } });
    expect(rollups.map((row) => row.stepId).sort()).toEqual(['', 'call', 'finish', 'gate']);
    expect(rollups.find((row) => row.stepId === '')).toMatchObject({ runs: 3, succeeded: 2, failed: 1 });
    const { byStatus, successRate, durationMs } = stats.body.runs;
    expect(wholeDay.body.runs).toMatchObject({ byStatus, successRate, durationMs });
    expect(wholeDay.body.steps).toEqual(stats.body.steps);
    const [exact] = await api.prisma.$queryRaw<[{ p50: number; p99: number }]>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY "durationMs") AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY "durationMs") AS p99
      FROM "RunSummary" WHERE "templateId" = ${template.id}::uuid`;
    expect(Math.abs(durationMs.p50 - exact.p50) / exact.p50).toBeLessThan(0.02);
    expect(Math.abs(durationMs.p99 - exact.p99) / exact.p99).toBeLessThan(0.02);
  });

  test('collecting again writes nothing twice', async () => {
    const again = await collector.collect();
    expect(again.leased).toBe(true);
    const rows = await api.prisma.runSummary.count({ where: { templateId: template.id } });
    expect(rows).toBe(3);
    const steps = await api.prisma.runStepSummary.count({ where: { templateId: template.id } });
    expect(steps).toBe(9);
    const runsRolledUp = await api.prisma.runRollup.aggregate({ where: { templateId: template.id, stepId: '' }, _sum: { runs: true } });
    expect(runsRolledUp._sum.runs).toBe(3);
  });

  test('one instance collects at a time: another finds the lease taken', async () => {
    const other = new RunSummaryCollector({ prisma: api.prisma, temporal: api.temporal, logger: pino({ level: 'silent' }) });
    await api.prisma.runSummaryWatermark.update({ where: { id: 'closed-runs' }, data: { leasedBy: 'someone-else', leaseUntil: new Date(Date.now() + 60_000) } });
    try {
      expect(await other.collect()).toEqual({ leased: false, listed: 0, written: 0 });
    } finally {
      await api.prisma.runSummaryWatermark.update({ where: { id: 'closed-runs' }, data: { leasedBy: null, leaseUntil: null } });
    }
  });

  test('a terminated run is summarised from visibility alone', async () => {
    const runId = await startRun(template.id, { target: backend.url('/flaky') });
    await eventually(() => runOf(runId), (answer) => answer.body.status === 'waiting_approval');
    await api.temporal.workflow.getHandle(runId).terminate('stopped by the test');
    await listedAs(template.id, runId, 'cancelled');
    await collector.collect();
    const row = await api.prisma.runSummary.findFirst({ where: { runId }, include: { steps: true } });
    expect(row).toMatchObject({ status: 'cancelled', stepsKnown: false, steps: [] });
    // Added to its day's rollup of runs, beside the three summarised before.
    const rolledUp = await api.prisma.runRollup.findMany({ where: { templateId: template.id, stepId: '' } });
    const sum = (field: 'runs' | 'succeeded' | 'failed' | 'cancelled') => rolledUp.reduce((total, day) => total + day[field], 0);
    expect([sum('runs'), sum('succeeded'), sum('failed'), sum('cancelled')]).toEqual([4, 2, 1, 1]);
    const histogramTotal = rolledUp.reduce((total, day) => total + Object.values(day.durations as Record<string, number>).reduce((a, b) => a + b, 0), 0);
    expect(histogramTotal).toBe(4);
  }, 60_000);

  test('a reversed or far-off window counts nothing; 400 for malformed parameters, 404 for another tenant, 403 without a role', async () => {
    const reversed = await call(api, 'GET', `/api/v1/templates/${template.id}/stats?from=2021-01-02T00:00:00Z&to=2021-01-01T00:00:00Z`);
    expect([reversed.status, reversed.body.runs.total]).toEqual([200, 0]);
    const yearZero = await call(api, 'GET', `/api/v1/templates/${template.id}/stats?from=0000-01-01T00:00:00Z&to=9999-12-31T23:59:59Z&version=9999999999`);
    expect([yearZero.status, yearZero.body.from, yearZero.body.runs.total]).toEqual([200, '1970-01-01T00:00:00.000Z', 0]);
    expectProblem(await call(api, 'GET', `/api/v1/templates/${template.id}/stats?from=yesterday`), 400);
    expectProblem(await call(api, 'GET', `/api/v1/templates/${template.id}/stats?version=0`), 400);
    expectProblem(await call(api, 'GET', `/api/v1/templates/${template.id}/stats?group=x`), 400);
    const foreign = await call(api, 'GET', `/api/v1/templates/${template.id}/stats`, { token: otherTenantAdmin });
    expectProblem(foreign, 404);
    const noRole = await tokenFor(api, 'nobody', ['sre']);
    expectProblem(await call(api, 'GET', `/api/v1/templates/${template.id}/stats`, { token: noRole }), 403);
  });

  test('the analysis of a version with summarised runs weighs its steps by their observed medians', async () => {
    const answer = await call(api, 'GET', `/api/v1/templates/${template.id}/versions/1/analysis`, { token: viewer });
    expect(answer.status).toBe(200);
    expect(answer.body.criticalPath.basis).toBe('observedMedians');
    expect(answer.body.criticalPath.steps.map((step: { id: string }) => step.id)).toEqual(['call', 'gate', 'finish']);
    expect(answer.body.criticalPath.steps[1]).toMatchObject({ id: 'gate', source: 'observed', weight: expect.any(Number) });
    expect(answer.body.criticalPath.steps[1].weight).toBeGreaterThanOrEqual(300);
    expect(answer.body.criticalPath.approvals).toEqual(['gate']);
  });
});

describe('analysis', () => {
  /**
   * a → {b1 (delay 1m), b2 (approval, 2h timeout), b3} as group `fan` (join all) → c;
   * d waits for nothing. Levels: {a, d}, {b1, b2, b3}, {c}.
   */
  const spec = {
    steps: [
      { id: 'a', type: 'noop', timeout: '10s' },
      { id: 'b1', type: 'delay', dependsOn: ['a'], with: { duration: '1m' } },
      { id: 'b2', type: 'approval', dependsOn: ['a'], with: { approvers: { roles: ['ops'] }, timeout: '2h' } },
      { id: 'b3', type: 'noop', dependsOn: ['a'] },
      { id: 'c', type: 'noop', dependsOn: ['fan'], timeout: '30s' },
      { id: 'd', type: 'noop' },
    ],
    groups: [{ id: 'fan', steps: ['b1', 'b2', 'b3'] }],
  };

  test('levels, depth, widest level, and a critical path by declared durations with its approvals', async () => {
    const template = await createTemplate(spec);
    const answer = await call(api, 'GET', `/api/v1/templates/${template.id}/versions/1/analysis`, { token: viewer });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      templateId: template.id,
      version: 1,
      steps: 6,
      groups: 1,
      depth: 3,
      maxParallelism: 3,
      levels: [
        { level: 1, steps: ['a', 'd'] },
        { level: 2, steps: ['b1', 'b2', 'b3'] },
        { level: 3, steps: ['c'] },
      ],
      criticalPath: {
        basis: 'declaredTimeouts',
        length: 10_000 + 2 * 3_600_000 + 30_000,
        steps: [
          { id: 'a', type: 'noop', weight: 10_000, source: 'declared' },
          { id: 'b2', type: 'approval', weight: 7_200_000, source: 'declared' },
          { id: 'c', type: 'noop', weight: 30_000, source: 'declared' },
        ],
        approvals: ['b2'],
      },
    });
  });

  test('a group of join `any` is done with its earliest member, which the path then goes through', async () => {
    const template = await createTemplate({ ...spec, groups: [{ id: 'fan', steps: ['b1', 'b2'], join: 'any' }] });
    const answer = await call(api, 'GET', `/api/v1/templates/${template.id}/versions/1/analysis`);
    expect(answer.body.criticalPath.steps.map((step: { id: string }) => step.id)).toEqual(['a', 'b1', 'c']);
    expect(answer.body.criticalPath).toMatchObject({ length: 10_000 + 60_000 + 30_000, approvals: [] });
  });

  test('with nothing declared, the path is a longest chain by step count', async () => {
    const template = await createTemplate({ steps: [{ id: 'x', type: 'noop' }, { id: 'y', type: 'noop', dependsOn: ['x'] }, { id: 'z', type: 'noop' }] });
    const answer = await call(api, 'GET', `/api/v1/templates/${template.id}/versions/1/analysis`);
    expect(answer.body).toMatchObject({ depth: 2, maxParallelism: 2, criticalPath: { basis: 'stepCount', length: 2, approvals: [] } });
    expect(answer.body.criticalPath.steps.map((step: { id: string }) => step.id)).toEqual(['x', 'y']);
  });

  test('404 for a version that does not exist or another tenant’s', async () => {
    const template = await createTemplate(spec);
    expectProblem(await call(api, 'GET', `/api/v1/templates/${template.id}/versions/9/analysis`), 404);
    expectProblem(await call(api, 'GET', `/api/v1/templates/${template.id}/versions/x/analysis`), 404);
    expectProblem(await call(api, 'GET', `/api/v1/templates/${template.id}/versions/1/analysis`, { token: otherTenantAdmin }), 404);
  });
});

describe('evaluate', () => {
  const spec = {
    inputs: { type: 'object' },
    steps: [
      { id: 'build', type: 'noop', with: { output: { ok: true } } },
      {
        id: 'notify',
        type: 'http',
        dependsOn: ['build'],
        when: 'steps.build.output.artifacts > 0 and inputs.env != "dev"',
        with: {
          method: 'POST',
          url: 'https://hooks.example.com/{{ inputs.env }}',
          headers: { authorization: 'Bearer {{ secrets.HOOK_TOKEN }}' },
          body: { text: 'Built {{ steps.build.output.artifacts }} artifacts for {{ $uppercase(inputs.env) }}', count: '{{ steps.build.output.artifacts }}' },
        },
      },
      { id: 'loop', type: 'noop', when: '($f := function($n){ $f($n+1) }; $f(0)) > 0' },
      { id: 'bad', type: 'http', with: { url: '{{ inputs.target }}' } },
      {
        id: 'many',
        type: 'noop',
        // Each within its own bound, but not all within one workflow task's: the run would fail the step.
        with: { output: Array.from({ length: 8 }, () => '{{ $count($map([1..400], function($x){ $x })) }}') },
      },
    ],
  };
  let template: { id: string };

  beforeAll(async () => {
    template = await createTemplate(spec);
  });

  const evaluate = (body: unknown, token?: string) =>
    call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/evaluate`, { json: body, ...(token ? { token } : {}) });

  test('a true condition and a rendered `with`, secrets left as written, checked against the step type', async () => {
    const answer = await evaluate({ stepId: 'notify', inputs: { env: 'prod' }, steps: { build: { output: { artifacts: 3 } } } }, viewer);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      stepId: 'notify',
      type: 'http',
      when: { source: spec.steps[1]!.when, value: true },
      runs: true,
      with: {
        method: 'POST',
        url: 'https://hooks.example.com/prod',
        headers: { authorization: 'Bearer {{ secrets.HOOK_TOKEN }}' },
        body: { text: 'Built 3 artifacts for PROD', count: 3 },
      },
      withIssues: [],
    });
  });

  test('a false condition: the step would be skipped and `with` is not rendered', async () => {
    const answer = await evaluate({ stepId: 'notify', inputs: { env: 'dev' }, steps: { build: { output: { artifacts: 3 } } } });
    expect(answer.body).toMatchObject({ when: { value: false }, runs: false, with: null });
    // Steps left out are pending, with no output: the comparison is false.
    expect((await evaluate({ stepId: 'notify', inputs: { env: 'prod' } })).body).toMatchObject({ runs: false });
  });

  test('a rendered `with` the step type refuses is reported, as a run would fail the step', async () => {
    const answer = await evaluate({ stepId: 'bad', inputs: { target: 'ftp://example.com' } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ runs: true, with: { url: 'ftp://example.com' }, withIssues: [{ path: ['url'], message: 'must be an http(s) URL' }] });
  });

  test('a hostile condition is a quick 422 naming the bound it ran past', async () => {
    const started = Date.now();
    const answer = await evaluate({ stepId: 'loop' });
    expectProblem(answer, 422);
    expect(answer.body).toMatchObject({
      type: 'https://flowpilot.dev/problems/expression-failed',
      bound: 'steps',
      limit: EXPRESSION_BOUNDS.maxEvaluationSteps,
      expression: { part: 'when', kind: 'evaluation' },
    });
    expect(answer.body.detail).toMatch(/^when: expression exceeded 1500 evaluation steps/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test('the expressions of one step share one workflow task’s budget, as in the worker', async () => {
    const answer = await evaluate({ stepId: 'many' });
    expectProblem(answer, 422);
    expect(answer.body).toMatchObject({ bound: 'workflowTaskSteps', limit: EXPRESSION_BOUNDS.maxWorkflowTaskSteps, expression: { part: 'with', path: ['output', expect.any(Number)] } });
  });

  test('hostile dry runs at once all answer, and ordinary ones still do after them', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => evaluate({ stepId: 'loop' })));
    for (const answer of answers) expect([answer.status, answer.body.bound]).toEqual([422, 'steps']);
    const ordinary = await evaluate({ stepId: 'build' });
    expect(ordinary.body).toMatchObject({ runs: true, with: { output: { ok: true } } });
  });

  test('400 for a malformed body, 422 for steps the version lacks, 404 for another tenant', async () => {
    expectProblem(await evaluate({}), 400);
    expectProblem(await evaluate({ stepId: 'build', steps: { build: { status: 'done' } } }), 400);
    expectProblem(await evaluate({ stepId: 'build', extra: true }), 400);
    const unknownStep = await evaluate({ stepId: 'nope' });
    expectProblem(unknownStep, 422);
    expect(unknownStep.body.invalidParams).toEqual([{ path: ['body', 'stepId'], message: 'names no step of this version' }]);
    expectProblem(await evaluate({ stepId: 'build', steps: { ghost: { output: 1 } } }), 422);
    expectProblem(await evaluate({ stepId: 'build' }, otherTenantAdmin), 404);
  });
});
