import { randomUUID } from 'node:crypto';
import { runStartOptions } from '../../apps/common/run-start-options';
import { NativeConnection, Worker } from '@temporalio/worker';
import { RUN_WORKFLOW_TYPE } from '../../workflows/contract';
import { startTestWorker, type TestWorker } from '../support/worker';
import { runInput } from '../workflow/support';
import { call, createTemplate, expectProblem, startApi, tokenFor, type Api } from './harness';

/**
 * Cancel ends any run: one whose workflow task fails forever cannot take a cancellation, so the
 * API terminates it after the grace period. The workers are real; the run is wedged as a broken
 * deploy would wedge it: its task queue is served by a worker whose run workflow throws a plain error
 * (test/api/fixtures/bad-deploy-workflows.ts), so every workflow task fails. (A run's own data can no
 * longer wedge it: the engine's crash guard ends such runs failed.)
 */

const GRACE_MS = 1_500;

let worker: TestWorker;
let brokenDeploy: { taskQueue: string; shutdown(): Promise<void> };
let api: Api;

async function startBrokenDeployWorker(): Promise<typeof brokenDeploy> {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const taskQueue = `broken-${randomUUID()}`;
  const broken = await Worker.create({ connection, taskQueue, workflowsPath: require.resolve('./fixtures/bad-deploy-workflows') });
  const running = broken.run();
  return {
    taskQueue,
    async shutdown() {
      broken.shutdown();
      await running;
      await connection.close();
    },
  };
}

beforeAll(async () => {
  worker = await startTestWorker();
  brokenDeploy = await startBrokenDeployWorker();
  api = await startApi({ taskQueue: worker.taskQueue, runCancelGraceMs: GRACE_MS });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await brokenDeploy?.shutdown();
  await worker?.shutdown();
});

async function startWedgedRun(templateId: string): Promise<string> {
  const input = runInput({ steps: [{ id: 'only', type: 'noop' }] }, { templateId });
  const workflowId = `run-${randomUUID()}`;
  const options = runStartOptions(input, { workflowId, taskQueue: brokenDeploy.taskQueue, tenantId: api.tenant.id });
  await worker.client.workflow.start(RUN_WORKFLOW_TYPE, { ...options, args: [input] });
  // Until the first attempt has failed, the run may still look merely slow.
  for (let attempt = 0; attempt < 100; attempt++) {
    const description = await worker.client.workflow.getHandle(workflowId).describe();
    if ((description.raw.pendingWorkflowTask?.attempt ?? 0) > 1) return workflowId;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the wedged run never failed a workflow task');
}

async function activeRuns(templateId: string): Promise<number> {
  return (await api.temporal.workflow.count(`TemplateId = '${templateId}' AND ExecutionStatus = 'Running'`)).count;
}

test('a run whose workflow task keeps failing is readable, and cancel terminates it after the grace period', async () => {
  const template = await createTemplate(api);
  const runId = await startWedgedRun(template.id);

  const wedged = await call(api, 'GET', `/api/v1/runs/${runId}`);
  expect(wedged.status).toBe(200);
  expect(wedged.body).toMatchObject({ runId, status: 'running', templateId: template.id, steps: [] });
  expect(wedged.body.note).toMatch(/workflow task has failed/);
  while ((await activeRuns(template.id)) !== 1) await new Promise((resolve) => setTimeout(resolve, 100));
  expectProblem(await call(api, 'DELETE', `/api/v1/templates/${template.id}`), 409);

  const startedAt = Date.now();
  const cancelled = await call(api, 'POST', `/api/v1/runs/${runId}/cancel`, { token: await tokenFor(api, 'carol', ['operator']) });
  const elapsedMs = Date.now() - startedAt;
  expect(cancelled.status).toBe(202);
  expect(cancelled.body).toEqual({ runId, cancelRequested: true, terminated: true });
  expect(elapsedMs).toBeGreaterThanOrEqual(GRACE_MS);
  expect(elapsedMs).toBeLessThan(GRACE_MS + 3_000);

  const ended = await call(api, 'GET', `/api/v1/runs/${runId}`);
  expect(ended.status).toBe(200);
  expect(ended.body).toMatchObject({ status: 'cancelled', closedAt: expect.any(String), error: { type: 'Terminated' } });
  expect(ended.body.error.message).toMatch(/^cancelled by carol; terminated because the run did not take the cancellation within 1500 ms$/);
  expect(ended.body.note).toBeUndefined();

  const events = await call(api, 'GET', `/api/v1/runs/${runId}/events`);
  expect(events.body.events.at(-1)).toMatchObject({ type: 'run.finished', status: 'cancelled', error: ended.body.error });
  expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/cancel`), 409);

  while ((await activeRuns(template.id)) !== 0) await new Promise((resolve) => setTimeout(resolve, 100));
  expect((await call(api, 'DELETE', `/api/v1/templates/${template.id}`)).status).toBe(204);
}, 60_000);

test('a healthy run takes the cancellation at once and is not terminated', async () => {
  const template = await createTemplate(api, {
    spec: { steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } }] },
  });
  const started = await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.id } });
  const { runId } = started.body;
  for (let attempt = 0; attempt < 100; attempt++) {
    const run = await call(api, 'GET', `/api/v1/runs/${runId}`);
    if (run.body.status === 'waiting_approval') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const startedAt = Date.now();
  const cancelled = await call(api, 'POST', `/api/v1/runs/${runId}/cancel`);
  expect(cancelled.body).toEqual({ runId, cancelRequested: true, terminated: false });
  expect(Date.now() - startedAt).toBeLessThan(GRACE_MS);
  await worker.client.workflow.getHandle(runId).result().catch(() => undefined);
  const ended = await call(api, 'GET', `/api/v1/runs/${runId}`);
  expect(ended.body).toMatchObject({ status: 'cancelled', steps: [{ id: 'gate', status: 'cancelled' }] });
}, 60_000);
