import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { RunResult, RunState } from '../../workflows/contract';
import { runStartOptions } from '../../apps/common/run-start-options';
import { temporalTestServerPath } from '../../scripts/lib/temporal-dev-server';
import { createRunWorker } from '../../apps/worker/src/worker';
import { createLogger } from '../../apps/common/logger';
import { temporal } from '@temporalio/proto';
import { installQuietRuntime, workflowBundle } from '../support/worker';
import { failedRunState, runInput } from './support';

/**
 * Approval deadlines measured in hours, on the time-skipping test server: the tests wait for the
 * results and the server skips the time. Time skipping is global to the server, so these run serially
 * in this one file.
 */
const { IndexedValueType } = temporal.api.enums.v1;
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `approval-timeout-${randomUUID()}`;

beforeAll(async () => {
  installQuietRuntime();
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  // The test server has no ListSearchAttributes (which ensureSearchAttributes uses), only Add.
  const { KEYWORD, INT } = { KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, INT: IndexedValueType.INDEXED_VALUE_TYPE_INT };
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: { TemplateId: KEYWORD, TemplateVersion: INT, RunStatus: KEYWORD, StartedBy: KEYWORD },
  });
  worker = await createRunWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    logger: createLogger('test-worker', 'warn'),
    shutdownGraceTime: '1s',
  });
  running = worker.run();
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

function run(onTimeout: 'approve' | 'reject' | 'fail'): Promise<RunResult> {
  const input = runInput({
    steps: [
      { id: 'approve', type: 'approval', with: { approvers: { users: ['bob'] }, timeout: '2h', onTimeout } },
      { id: 'after', type: 'noop', dependsOn: ['approve'], with: { output: 'ran' } },
    ],
  });
  return env.client.workflow.execute('runTemplate', runStartOptions(input, { workflowId: `run-${randomUUID()}`, taskQueue })) as Promise<RunResult>;
}

async function failedState(promise: Promise<unknown>): Promise<RunState> {
  return failedRunState(await promise.catch((e: unknown) => e));
}

test('onTimeout approve: the step succeeds as timed out and the run goes on', async () => {
  const { status, steps } = await run('approve');
  expect(status).toBe('succeeded');
  expect(steps.approve).toMatchObject({ status: 'succeeded', output: { approved: true, timedOut: true } });
  expect(Date.parse(steps.approve!.finishedAt!) - Date.parse(steps.approve!.startedAt!)).toBeGreaterThanOrEqual(2 * 3600_000);
  expect(steps.after).toMatchObject({ status: 'succeeded', output: 'ran' });
});

test('onTimeout reject: the step fails as Rejected', async () => {
  const state = await failedState(run('reject'));
  expect(state.steps.approve).toMatchObject({ status: 'failed', error: { type: 'Rejected' } });
  expect(state.status).toBe('failed');
});

test('onTimeout fail: the step fails as ApprovalTimeout', async () => {
  const state = await failedState(run('fail'));
  expect(state.steps.approve).toMatchObject({ status: 'failed', error: { type: 'ApprovalTimeout' } });
  expect(state.status).toBe('failed');
});
