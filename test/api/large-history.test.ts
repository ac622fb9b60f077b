import { call, createTemplate, useApiWithWorker } from './harness';

/**
 * A run whose history is larger than gRPC's 4 MB message limit (40 steps with 60 KB inputs and
 * results, some 5 MB): its events and its cancellation are read in pages that fit, so they answer 2xx at once
 * rather than 503 "Temporal is down" after the call deadline (F4).
 */

const STEPS = 40;
const api = useApiWithWorker();

function largeOutputSpec() {
  const steps: object[] = Array.from({ length: STEPS }, (_, i) => ({
    id: `s${i}`,
    type: 'noop',
    // The engine carries at most 512 KB of outputs per run and fails the steps past it; their
    // 60 KB inputs and results are in the history all the same, and `continue` goes on.
    onError: 'continue',
    with: { output: '{{ $pad("", 60000, "x") }}' },
  }));
  steps.push({ id: 'gate', type: 'approval', with: { approvers: { users: ['nobody'] } } });
  return { steps };
}

test('events and cancel of a run with a history over 4 MB answer 2xx quickly', async () => {
  const template = await createTemplate(api(), { spec: largeOutputSpec() });
  const started = await call(api(), 'POST', '/api/v1/runs', { json: { templateId: template.id } });
  expect(started.status).toBe(201);
  const runId = started.body.runId as string;

  // Wait until every large step has completed and the run waits on its approval.
  const deadline = Date.now() + 40_000;
  for (;;) {
    const run = await call(api(), 'GET', `/api/v1/runs/${runId}`);
    const states = new Map<string, string>((run.body.steps ?? []).map((step: { id: string; status: string }) => [step.id, step.status]));
    const settled = [...states].filter(([id, status]) => id !== 'gate' && (status === 'succeeded' || status === 'failed')).length;
    if (settled === STEPS && states.get('gate') === 'waiting_approval') break;
    if (Date.now() > deadline) {
      throw new Error(`the run did not reach its approval: ${run.body.status} ${JSON.stringify(run.body.error ?? run.body.note ?? '')} ${JSON.stringify([...states])}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  let before = Date.now();
  const page = await call(api(), 'GET', `/api/v1/runs/${runId}/events?limit=5`);
  expect(page.status).toBe(200);
  expect(Date.now() - before).toBeLessThan(3000);

  before = Date.now();
  const all = [];
  let after: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const answer = await call(api(), 'GET', `/api/v1/runs/${runId}/events?limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    expect(answer.status).toBe(200);
    const events = (answer.body.events ?? answer.body.items ?? []) as { id: string; type: string; stepId?: string; error?: { type?: string } }[];
    all.push(...events);
    after = answer.body.nextCursor ?? answer.body.next ?? undefined;
    if (!after || events.length === 0) break;
  }
  // Each step's last settling event says how it ended: a step whose output the run could not carry
  // completed its activity (step.succeeded) and was then failed by the engine (step.failed, RunOutputLimit).
  const ended = new Map(all.filter((event) => event.type === 'step.succeeded' || event.type === 'step.failed').map((event) => [event.stepId, event]));
  expect(ended.size).toBe(STEPS);
  const failed = [...ended.values()].filter((event) => event.type === 'step.failed');
  expect(failed.length).toBeGreaterThan(0);
  expect(failed.every((event) => event.error?.type === 'RunOutputLimit')).toBe(true);
  expect(Date.now() - before).toBeLessThan(10_000);

  before = Date.now();
  const cancelled = await call(api(), 'POST', `/api/v1/runs/${runId}/cancel`);
  expect({ status: cancelled.status, body: cancelled.body }).toMatchObject({ status: 202, body: { terminated: false } });
  expect(Date.now() - before).toBeLessThan(3000);
}, 180_000);
