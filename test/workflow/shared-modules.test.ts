import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, type Worker } from '@temporalio/worker';
import { bundleRunWorkflows, createRunWorker } from '../../apps/worker/src/worker';
import { createLogger } from '../../apps/common/logger';
import { approveUpdate } from '../../workflows/contract';
import { installQuietRuntime } from '../support/worker';
import { failedRunState, runInput, startRun, waitForState, type RunHandle } from './support';

/**
 * The production bundle shares zod, jsonata and ms between runs (preloaded, deep-frozen by the SDK).
 * Other tests run an unshared bundle; this one checks that the libraries still work frozen, for many
 * runs of one worker at once: `with` schemas and their defaults, templates, conditions, approvals.
 */

let worker: Worker;
let running: Promise<void>;
let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;
const taskQueue = `test-shared-${randomUUID()}`;

beforeAll(async () => {
  installQuietRuntime();
  const address = process.env.TEMPORAL_ADDRESS!;
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  nativeConnection = await NativeConnection.connect({ address });
  worker = await createRunWorker({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowBundle: await bundleRunWorkflows({ logger: new DefaultLogger('ERROR') }),
    logger: createLogger('test-worker', 'error'),
    shutdownGraceTime: '1s',
  });
  running = worker.run();
  connection = await Connection.connect({ address });
  client = new Client({ connection, namespace });
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await nativeConnection?.close();
});

const expressionSpec = runInput(
  {
    steps: [
      { id: 'config', type: 'noop', with: { output: { replicas: 3, env: 'prod' } } },
      { id: 'render', type: 'noop', dependsOn: ['config'], with: { output: { n: '{{ steps.config.output.replicas * 2 }}', label: 'env {{ steps.config.output.env }}' } } },
      { id: 'skipped', type: 'noop', dependsOn: ['config'], when: 'steps.config.output.replicas > 5' },
      { id: 'bad', type: 'http', dependsOn: ['render'], onError: 'continue', with: { url: '{{ "not a url" }}' } },
    ],
  },
);

test('many runs at once render templates, evaluate conditions and validate `with` with the shared libraries', async () => {
  const handles = await Promise.all(Array.from({ length: 10 }, () => startRun(client, taskQueue, expressionSpec)));
  for (const handle of handles) {
    const { status, steps } = await handle.result();
    expect(status).toBe('succeeded');
    expect(steps.render!.output).toEqual({ n: 6, label: 'env prod' });
    expect(steps.skipped).toMatchObject({ status: 'skipped', skipReason: 'condition' });
    // zod still reports invalid input, with its default (English) messages.
    expect(steps.bad).toMatchObject({ status: 'failed', error: { type: 'InvalidStepInput' } });
    expect(steps.bad!.error!.message).toMatch(/with\.url/);
  }
});

test('approvals wait and decide under the shared libraries', async () => {
  const input = runInput({
    steps: [
      { id: 'approve', type: 'approval', with: { approvers: { users: ['bob'] } } },
      { id: 'late', type: 'approval', dependsOn: ['approve'], with: { approvers: { users: ['bob'] }, timeout: '1s', onTimeout: 'fail' } },
    ],
  });
  const handles: RunHandle[] = await Promise.all(Array.from({ length: 5 }, () => startRun(client, taskQueue, input)));
  for (const handle of handles) {
    await waitForState(handle, (state) => state.status === 'waiting_approval');
    await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: { subject: 'bob', roles: [] } }] });
  }
  for (const handle of handles) {
    const state = failedRunState(await handle.result().catch((e: unknown) => e));
    expect(state.steps.approve).toMatchObject({ status: 'succeeded', output: { approved: true, approvedBy: ['bob'] } });
    expect(state.steps.late).toMatchObject({ status: 'failed', error: { type: 'ApprovalTimeout' } });
  }
});
