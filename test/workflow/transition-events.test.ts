import { arrayFromPayloads, defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { HistoryEventMapper, type RunEvent } from '../../apps/api/src/runs/history-events';
import { approveUpdate, rejectUpdate, skipStepUpdate } from '../../workflows/contract';
import type { SpecInput } from '../../workflows/spec/schema';
import { useTestWorker } from '../support/worker';
import { json, runInput, startHttpServer, startRun, waitForState, type RunHandle } from './support';

/**
 * Every step transition reaches the run's event stream: the history is read as the API reads it
 * (HistoryEventMapper, across continue-as-new), and skips, settlements, timeouts and operator
 * actions appear as events of their own, with their reason, outcome or actor.
 */

const env = useTestWorker();
const operator = { subject: 'olga', roles: ['ops'] };

const decode = async (payloads: temporal.api.common.v1.IPayload[] | null | undefined) => arrayFromPayloads(defaultPayloadConverter, payloads);

/** The run's events as the API publishes them, across every link of its chain. */
async function runEvents(handle: RunHandle): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  let runId: string | undefined = handle.firstExecutionRunId;
  while (runId) {
    const history = await env().client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    const mapper: HistoryEventMapper = new HistoryEventMapper(runId, decode);
    runId = undefined;
    for (const historyEvent of history.events ?? []) {
      const mapped: { event: RunEvent }[] = await mapper.mapAll(historyEvent);
      for (const { event } of mapped) {
        events.push(event);
        if (event.type === 'run.continued') runId = event.nextRunId;
      }
    }
  }
  return events;
}

/** The events of the given types, with the fields a reader looks at. */
function picked(events: RunEvent[], types: RunEvent['type'][]) {
  return events
    .filter((event) => types.includes(event.type))
    .map(({ type, stepId, groupId, reason, outcome, actor, error }) => ({
      type,
      ...(stepId ? { stepId } : {}),
      ...(groupId ? { groupId } : {}),
      ...(reason ? { reason } : {}),
      ...(outcome ? { outcome } : {}),
      ...(actor ? { actor } : {}),
      ...(error?.type ? { errorType: error.type } : {}),
    }));
}

async function finished(handle: RunHandle): Promise<void> {
  await handle.result().catch(() => undefined);
}

function start(spec: SpecInput, extra: Parameters<typeof runInput>[1] = {}): Promise<RunHandle> {
  return startRun(env().client, env().taskQueue, runInput(spec, extra));
}

test('skips by condition and upstream, and failures decided in the workflow, are events with their reason', async () => {
  const handle = await start({
    steps: [
      { id: 'never', type: 'noop', when: 'false' },
      { id: 'broken', type: 'noop', when: '$undefinedFunction()', onError: 'continue' },
      { id: 'after', type: 'noop', dependsOn: ['broken'] },
      { id: 'ok', type: 'noop' },
    ],
  });
  await finished(handle);
  const events = await runEvents(handle);
  expect(picked(events, ['step.skipped', 'step.failed'])).toEqual([
    { type: 'step.skipped', stepId: 'never', reason: 'condition' },
    { type: 'step.failed', stepId: 'broken', errorType: 'ExpressionError' },
    { type: 'step.skipped', stepId: 'after', reason: 'upstream' },
  ]);
  // Ids are unique and ordered: transitions one history event carries are numbered within it.
  expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
});

test('approvals settle as events: approved by a quorum, rejected, and timed out by their deadline', async () => {
  const approved = await start({ steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } }] });
  await waitForState(approved, (state) => state.status === 'waiting_approval');
  await approved.executeUpdate(approveUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] } }] });
  await finished(approved);
  expect(picked(await runEvents(approved), ['approval.waiting', 'approval.approved', 'approval.settled'])).toEqual([
    { type: 'approval.waiting', stepId: 'gate' },
    { type: 'approval.approved', stepId: 'gate', actor: 'bob' },
    { type: 'approval.settled', stepId: 'gate', outcome: 'approved' },
  ]);

  const rejected = await start({ steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } }] });
  await waitForState(rejected, (state) => state.status === 'waiting_approval');
  await rejected.executeUpdate(rejectUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] }, comment: 'no' }] });
  await finished(rejected);
  expect(picked(await runEvents(rejected), ['approval.rejected', 'approval.settled', 'step.failed'])).toEqual([
    { type: 'approval.rejected', stepId: 'gate', actor: 'bob' },
    { type: 'approval.settled', stepId: 'gate', outcome: 'rejected' },
    { type: 'step.failed', stepId: 'gate', errorType: 'Rejected' },
  ]);

  const timedOut = await start({
    steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] }, timeout: '1s', onTimeout: 'approve' } }],
  });
  await finished(timedOut);
  expect(picked(await runEvents(timedOut), ['approval.timed_out', 'run.finished'])).toEqual([
    { type: 'approval.timed_out', stepId: 'gate', outcome: 'approved' },
    { type: 'run.finished' },
  ]);
});

test('a group decided early and a group that timed out are events, with the members they skipped', async () => {
  const handle = await start({
    steps: [
      { id: 'fails', type: 'noop', when: '$undefinedFunction()' },
      { id: 'waits', type: 'approval', with: { approvers: { users: ['bob'] } } },
      { id: 'slow', type: 'delay', with: { duration: '1m' } },
      { id: 'later', type: 'noop', dependsOn: ['fails'] },
    ],
    groups: [
      { id: 'checks', steps: ['fails', 'waits'], join: 'failFast' },
      { id: 'timed', steps: ['slow'], timeout: '1s' },
    ],
  });
  await finished(handle);
  const events = await runEvents(handle);
  expect(picked(events, ['group.closed', 'group.timed_out', 'step.skipped', 'step.cancelled'])).toEqual(
    expect.arrayContaining([
      { type: 'group.closed', groupId: 'checks', errorType: 'GroupFailFast' },
      { type: 'step.cancelled', stepId: 'waits', errorType: 'GroupFailFast' },
    ]),
  );
  // The failFast failure ends the run before the group's timeout: no group.timed_out here.
  expect(picked(events, ['group.timed_out'])).toEqual([]);

  const timed = await start({
    steps: [{ id: 'slow', type: 'delay', with: { duration: '1m' } }, { id: 'queued', type: 'noop', dependsOn: ['slow'] }],
    groups: [{ id: 'timed', steps: ['slow'], timeout: '1s' }],
  });
  await finished(timed);
  expect(picked(await runEvents(timed), ['group.timed_out', 'step.cancelled', 'run.finished'])).toEqual([
    { type: 'group.timed_out', groupId: 'timed', errorType: 'GroupTimeout' },
    { type: 'step.cancelled', stepId: 'slow' },
    { type: 'step.cancelled', stepId: 'queued', errorType: 'GroupTimeout' },
    { type: 'run.finished', errorType: 'RunFailed' },
  ]);
});

test('the run timing out, a cancel, and operator actions are events, with the actor', async () => {
  const timedOut = await start({ timeout: '1s', steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } }] });
  await finished(timedOut);
  expect(picked(await runEvents(timedOut), ['run.timed_out', 'step.cancelled', 'run.finished'])).toEqual([
    { type: 'run.timed_out', errorType: 'RunTimeout' },
    { type: 'step.cancelled', stepId: 'gate', errorType: undefined as never },
    { type: 'run.finished', errorType: 'RunTimedOut' },
  ].map(({ errorType, ...rest }) => (errorType ? { ...rest, errorType } : rest)));

  const cancelled = await start({ steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } }] });
  await waitForState(cancelled, (state) => state.status === 'waiting_approval');
  await cancelled.cancel();
  await finished(cancelled);
  expect(picked(await runEvents(cancelled), ['run.cancel_requested', 'step.cancelled', 'run.finished'])).toEqual([
    { type: 'run.cancel_requested', actor: expect.any(String) },
    { type: 'step.cancelled', stepId: 'gate' },
    { type: 'run.finished' },
  ]);

  const receiver = await startHttpServer({ '/bad': (_request, response) => json(response, 400, { error: 'no' }) });
  try {
    const held = await start({
      steps: [
        { id: 'call', type: 'http', with: { url: receiver.url('/bad') }, retry: { maxAttempts: 1 }, onError: 'pause' },
        { id: 'after', type: 'noop', dependsOn: ['call'] },
      ],
    });
    await waitForState(held, (state) => state.status === 'held');
    await held.executeUpdate(skipStepUpdate, { args: [{ stepId: 'call', actor: operator }] });
    await finished(held);
    expect(picked(await runEvents(held), ['step.failed', 'step.held', 'step.skipped', 'step.started'])).toEqual([
      { type: 'step.started', stepId: 'call' },
      { type: 'step.failed', stepId: 'call', errorType: 'HttpClientError' },
      { type: 'step.held', stepId: 'call', errorType: 'HttpClientError' },
      { type: 'step.skipped', stepId: 'call', reason: 'operator', actor: 'olga' },
      { type: 'step.started', stepId: 'after' },
    ]);
  } finally {
    await receiver.close();
  }
});

test('transitions are batched per workflow task, not one history event per step', async () => {
  const handle = await start({
    steps: [
      ...Array.from({ length: 50 }, (_, i) => ({ id: `skip${i}`, type: 'noop' as const, when: 'inputs.env = "prod"' })),
      ...Array.from({ length: 50 }, (_, i) => ({ id: `after${i}`, type: 'noop' as const, dependsOn: [`skip${i}`, 'fails'] })),
      { id: 'fails', type: 'noop', when: '$undefinedFunction()', onError: 'continue' },
    ],
  }, { inputs: { env: 'dev' } });
  await finished(handle);
  const history = await handle.fetchHistory();
  const kinds = (history.events ?? []).map((event) => Object.keys(event).find((key) => key.endsWith('EventAttributes')));
  const upserts = kinds.filter((kind) => kind === 'workflowPropertiesModifiedEventAttributes').length;
  const tasks = kinds.filter((kind) => kind === 'workflowTaskCompletedEventAttributes').length;
  const skipped = picked(await runEvents(handle), ['step.skipped']);
  expect(skipped.filter((event) => event.reason === 'condition')).toHaveLength(50);
  expect(skipped.filter((event) => event.reason === 'upstream')).toHaveLength(50);
  // 101 transitions; at most one upsert per workflow task, and one more removing the entry at the end.
  expect(upserts).toBeLessThanOrEqual(tasks + 1);
  expect(upserts).toBeLessThan(10);
});
