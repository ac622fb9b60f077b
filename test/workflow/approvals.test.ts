import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { approveUpdate, rejectUpdate, stateQuery, type RunState } from '../../workflows/contract';
import { startTestWorker, type TestWorker } from '../support/worker';
import { failedRunState, runInput, starter, startRun, waitForState, type RunHandle } from './support';

let env: TestWorker;

beforeAll(async () => {
  env = await startTestWorker();
});
afterAll(async () => {
  await env?.shutdown();
});

const bob = { subject: 'bob', roles: ['ops'] };
const carol = { subject: 'carol', roles: ['ops'] };
const mallory = { subject: 'mallory', roles: ['marketing'] };

function approvalRun(approval: Record<string, unknown>) {
  return runInput({
    steps: [
      { id: 'approve', type: 'approval', with: approval },
      { id: 'deploy', type: 'noop', dependsOn: ['approve'], with: { output: 'deployed' } },
    ],
  });
}

async function waiting(handle: RunHandle): Promise<RunState> {
  return waitForState(handle, (state) => state.steps.approve!.status === 'waiting_approval' && state.status === 'waiting_approval');
}

async function refusalType(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((error as WorkflowUpdateFailedError).cause as unknown as { type?: string }).type;
}

test('a quorum of two distinct approvers approves; the same approver twice counts once', async () => {
  const handle = await startRun(env.client, env.taskQueue, approvalRun({ approvers: { roles: ['ops'] }, required: 2 }));
  await waiting(handle);

  const first = await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: bob }], updateId: 'bob-approves' });
  expect(first.approvals).toHaveLength(1);
  // The same update id is answered from history; the same person again is recorded once.
  const replayed = await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: bob }], updateId: 'bob-approves' });
  expect(replayed).toEqual(first);
  const again = await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: bob, comment: 'again' }] });
  expect(again.approvals).toHaveLength(1);
  expect(again.status).toBe('waiting_approval');

  // The approval that completes the quorum is answered with the step as it leaves the approval.
  const settling = await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: carol, comment: 'ship it' }] });
  expect(settling).toMatchObject({ status: 'succeeded', output: { approved: true, approvedBy: ['bob', 'carol'] } });
  const { status, steps } = await handle.result();
  expect(status).toBe('succeeded');
  expect(steps.approve).toMatchObject({ status: 'succeeded', output: { approved: true, approvedBy: ['bob', 'carol'] } });
  expect(steps.approve!.approvals!.map((d) => [d.decision, d.by, d.comment])).toEqual([
    ['approved', 'bob', undefined],
    ['approved', 'carol', 'ship it'],
  ]);
  expect(steps.approve!.approvals!.every((d) => !Number.isNaN(Date.parse(d.at)))).toBe(true);
  expect(steps.deploy!.status).toBe('succeeded');
});

test('a rejection needs a reason when required, then fails the step as Rejected', async () => {
  const handle = await startRun(env.client, env.taskQueue, approvalRun({ approvers: { users: ['bob'] }, requireRejectReason: true }));
  await waiting(handle);
  expect(await refusalType(handle.executeUpdate(rejectUpdate, { args: [{ stepId: 'approve', actor: bob }] }))).toBe('Invalid');
  const rejected = await handle.executeUpdate(rejectUpdate, { args: [{ stepId: 'approve', actor: bob, comment: 'not today' }] });
  expect(rejected).toMatchObject({ status: 'failed', error: { type: 'Rejected' } });
  const state = failedRunState(await handle.result().catch((e: unknown) => e));
  expect(state.steps.approve).toMatchObject({ status: 'failed', error: { type: 'Rejected' } });
  expect(state.steps.approve!.error!.message).toContain('not today');
  expect(state.steps.approve!.approvals).toMatchObject([{ decision: 'rejected', by: 'bob', comment: 'not today' }]);
  expect(state.steps.deploy!.status).toBe('cancelled');
});

test('validators refuse unknown steps, outsiders, self-approval and steps not waiting', async () => {
  const handle = await startRun(
    env.client,
    env.taskQueue,
    approvalRun({ approvers: { users: [starter.subject], roles: ['ops'] } }),
  );
  await waiting(handle);
  expect(await refusalType(handle.executeUpdate(approveUpdate, { args: [{ stepId: 'nope', actor: bob }] }))).toBe('NotFound');
  expect(await refusalType(handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: mallory }] }))).toBe('Forbidden');
  expect(await refusalType(handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: starter }] }))).toBe('Forbidden');
  expect(await refusalType(handle.executeUpdate(approveUpdate, { args: [{ stepId: 'deploy', actor: bob }] }))).toBe('Conflict');
  // Refused updates leave no trace: the step still waits with no decision.
  const state = await handle.query(stateQuery);
  expect(state.steps.approve!.approvals).toEqual([]);
  // The rule the validator applied is what the run reports, for the API to apply before it sends.
  expect(state.steps.approve!.approvers).toEqual({
    users: [starter.subject],
    roles: ['ops'],
    required: 1,
    allowSelfApproval: false,
    requireRejectReason: false,
  });
  await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: bob }] });
  expect((await handle.result()).status).toBe('succeeded');
});

test('cancelling a run that waits for approval ends the wait; later decisions find the run finished', async () => {
  const handle = await startRun(env.client, env.taskQueue, approvalRun({ approvers: { roles: ['ops'] } }));
  await waiting(handle);
  await handle.cancel();
  const error = await handle.result().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect((error as WorkflowFailedError).cause?.name).toBe('CancelledFailure');
  const state = await handle.query(stateQuery);
  expect(state).toMatchObject({ status: 'cancelled', steps: { approve: { status: 'cancelled', approvals: [] }, deploy: { status: 'cancelled' } } });
  const late = await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: bob }] }).catch((e: unknown) => e);
  expect(late).toBeInstanceOf(WorkflowNotFoundError);
});
