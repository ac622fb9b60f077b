import { temporal } from '@temporalio/proto';
import { approveUpdate } from '../../workflows/contract';
import { MAX_RUN_OUTPUT_BYTES, MAX_STEP_ERROR_BYTES } from '../../workflows/engine/limits';
import { startTestWorker, type TestWorker } from '../support/worker';
import { runInput, startRun, waitForState, type RunHandle } from './support';

const { EventType } = temporal.api.enums.v1;

let env: TestWorker;

beforeAll(async () => {
  env = await startTestWorker();
});
afterAll(async () => {
  await env?.shutdown();
});

/**
 * The run's `limits.continueAsNewAfterEvents` forces continue-as-new every few steps; an approval
 * waits across several runs of the chain with its first decision and its deadline carried along.
 */
test('continue-as-new carries step state, approval decisions and deadlines', async () => {
  const chain = Array.from({ length: 8 }, (_, i) => ({
    id: `s${i}`,
    type: 'noop' as const,
    with: { output: i === 0 ? 0 : `{{ steps.s${i - 1}.output + 1 }}` },
    dependsOn: i === 0 ? [] : [`s${i - 1}`],
  }));
  const handle = await startRun(
    env.client,
    env.taskQueue,
    runInput(
      {
        steps: [
          { id: 'gate', type: 'approval', with: { approvers: { users: ['bob', 'carol'] }, required: 2, timeout: '1h' } },
          ...chain,
          { id: 'final', type: 'noop', dependsOn: ['gate', 's7'], with: { output: '{{ steps.s7.output }}' } },
        ],
      },
      { limits: { continueAsNewAfterEvents: 25 } },
    ),
  );
  const first = await waitForState(handle, (state) => state.steps.gate!.status === 'waiting_approval');
  await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] } }] });
  await waitForState(handle, (state) => state.steps.s7!.status === 'succeeded');

  const description = await handle.describe();
  expect(description.runId).not.toBe(handle.firstExecutionRunId);

  await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'gate', actor: { subject: 'carol', roles: [] } }] });
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  expect(chain.map(({ id }) => steps[id]!.output)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  expect(steps.gate!.approvals!.map((d) => d.by)).toEqual(['bob', 'carol']);
  expect(steps.gate!.deadline).toBe(first.steps.gate!.deadline);
  expect(steps.final).toMatchObject({ status: 'succeeded', output: 7 });
});

/** Failed workflow tasks and terminations in every link of the chain, read one event at a time (its events are large). */
async function troubleIn(handle: RunHandle): Promise<string[]> {
  const trouble: string[] = [];
  let runId: string | null | undefined = handle.firstExecutionRunId;
  while (runId) {
    let nextPageToken: Uint8Array | undefined;
    let continuedTo: string | null | undefined;
    do {
      const page = await env.client.workflowService.getWorkflowExecutionHistory({
        namespace: env.client.options.namespace,
        execution: { workflowId: handle.workflowId, runId },
        maximumPageSize: 1,
        nextPageToken,
      });
      for (const event of page.history?.events ?? []) {
        if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED || event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED) {
          trouble.push(String(event.eventType));
        }
        continuedTo ??= event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    runId = continuedTo;
  }
  return trouble;
}

/**
 * A spec and inputs as large as a start may be (1 MiB of spec and 700 KiB of inputs, under the 1.875 MiB a start may hand on) leave
 * little of Temporal's 2 MiB for what the run carries: outputs are admitted only while spec, inputs,
 * state and outputs together fit, so every continue-as-new goes through and the run ends.
 */
test('outputs are bounded by what the spec, inputs and state leave of the continue-as-new payload', async () => {
  const chain = Array.from({ length: 10 }, (_, i) => ({
    id: `o${i}`,
    type: 'noop' as const,
    onError: 'continue' as const,
    with: { output: '{{ $pad("", 60000, "x") }}' },
  }));
  const ballast = { id: 'ballast', type: 'noop' as const, when: 'false', with: { output: 'b'.repeat(1024 * 1024 - 2048) } };
  const input = runInput({ steps: [ballast, ...chain] }, {
    inputs: { blob: 'i'.repeat(700 * 1024) },
    // One step at a time, so the chain continues as new between them.
    limits: { continueAsNewAfterEvents: 25, maxStepsInFlight: 1 },
  });
  const handle = await startRun(env.client, env.taskQueue, input);
  const { status, steps } = await handle.result();

  expect(status).toBe('succeeded');
  const kept = chain.filter(({ id }) => steps[id]!.status === 'succeeded');
  // 512 KiB alone would admit eight outputs of 60 KB; spec and inputs leave room for fewer.
  expect(kept.length).toBeGreaterThan(0);
  expect(kept.length).toBeLessThan(Math.floor(MAX_RUN_OUTPUT_BYTES / 60_002));
  for (const { id } of chain.filter(({ id }) => steps[id]!.status !== 'succeeded')) {
    expect(steps[id]).toMatchObject({
      status: 'failed',
      error: { type: 'RunOutputLimit', message: expect.stringMatching(/spec, inputs, state and outputs: \d+ bytes\) past 1966080 bytes/) },
    });
  }
  expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
  expect(await troubleIn(handle)).toEqual([]);
}, 120_000);

test('a long step error is kept cut to its bound, with a marker, across continue-as-new', async () => {
  const input = runInput(
    {
      steps: [
        { id: 'loud', type: 'noop', onError: 'continue', when: '$error($pad("", 20000, "e"))' },
        ...Array.from({ length: 6 }, (_, i) => ({ id: `n${i}`, type: 'noop' as const, dependsOn: i === 0 ? [] : [`n${i - 1}`] })),
      ],
    },
    { limits: { continueAsNewAfterEvents: 15 } },
  );
  const handle = await startRun(env.client, env.taskQueue, input);
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  const message = steps.loud!.error!.message;
  expect(steps.loud).toMatchObject({ status: 'failed', error: { type: 'ExpressionError' } });
  expect(message).toMatch(/^step loud: `when` failed: .*e+ … \[cut: the message was \d+ bytes\]$/);
  expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_STEP_ERROR_BYTES);
  expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
}, 60_000);
