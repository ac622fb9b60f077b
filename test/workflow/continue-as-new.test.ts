import { approveUpdate } from '../../workflows/contract';
import { startTestWorker, type TestWorker } from '../support/worker';
import { runInput, startRun, waitForState } from './support';

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
