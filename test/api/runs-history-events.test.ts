import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { arrayFromPayloads, defaultPayloadConverter, toPayloads } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import {
  comesAfter,
  HistoryEventMapper,
  formatRunEventId,
  parseRunEventId,
  type RunEvent,
} from '../../apps/api/src/runs/history-events';
import { fromHistoryFile } from '../replay/history-file';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const RUN = '7f1c2a4e-0000-4000-8000-000000000001';
const decode = async (payloads: temporal.api.common.v1.IPayload[] | null | undefined) =>
  arrayFromPayloads(defaultPayloadConverter, payloads);
const payloads = (...values: unknown[]) => ({ payloads: toPayloads(defaultPayloadConverter, ...values) });
const at = (second: number) => ({ seconds: 1_700_000_000 + second, nanos: 0 });

/** Hand-built events use plain numbers where the wire has Longs; the mapper accepts both. */
async function mapAll(events: object[]): Promise<RunEvent[]> {
  const mapper = new HistoryEventMapper(RUN, decode);
  const mapped: RunEvent[] = [];
  for (const event of events) {
    const runEvent = await mapper.map(event as HistoryEvent);
    if (runEvent) mapped.push(runEvent);
  }
  return mapped;
}

const actor = { subject: 'alice', roles: ['ops'] };

describe('HistoryEventMapper', () => {
  it('maps an activity step through retries to success', async () => {
    const events = await mapAll([
      { eventId: 1, eventTime: at(0), workflowExecutionStartedEventAttributes: {} },
      { eventId: 5, eventTime: at(1), activityTaskScheduledEventAttributes: { activityId: 'fetch', activityType: { name: 'http' } } },
      {
        eventId: 6,
        eventTime: at(2),
        activityTaskStartedEventAttributes: {
          scheduledEventId: 5,
          attempt: 3,
          lastFailure: { message: 'HTTP 503', applicationFailureInfo: { type: 'HttpServerError' } },
        },
      },
      { eventId: 7, eventTime: at(3), activityTaskCompletedEventAttributes: { scheduledEventId: 5, result: payloads({ output: { status: 200 }, attempt: 3 }) } },
    ]);
    expect(events).toEqual([
      { id: `${RUN}:5`, type: 'step.started', at: '2023-11-14T22:13:21.000Z', stepId: 'fetch', stepType: 'http' },
      {
        id: `${RUN}:6`,
        type: 'step.attempt_failed',
        at: '2023-11-14T22:13:22.000Z',
        stepId: 'fetch',
        stepType: 'http',
        attempt: 2,
        error: { message: 'HTTP 503', type: 'HttpServerError' },
      },
      { id: `${RUN}:7`, type: 'step.succeeded', at: '2023-11-14T22:13:23.000Z', stepId: 'fetch', stepType: 'http', output: { status: 200 } },
    ]);
  });

  it('names the step of an operator re-run (stepId#n) and reports failures, timeouts and cancellations', async () => {
    const events = await mapAll([
      { eventId: 5, activityTaskScheduledEventAttributes: { activityId: 'fetch#2', activityType: { name: 'http' } } },
      { eventId: 6, activityTaskStartedEventAttributes: { scheduledEventId: 5, attempt: 1 } },
      { eventId: 7, activityTaskFailedEventAttributes: { scheduledEventId: 5, failure: { message: 'boom', applicationFailureInfo: { type: 'HttpClientError' } } } },
      { eventId: 8, activityTaskScheduledEventAttributes: { activityId: 'slow', activityType: { name: 'noop' } } },
      { eventId: 9, activityTaskTimedOutEventAttributes: { scheduledEventId: 8, failure: { message: 'activity timeout', timeoutFailureInfo: {} } } },
      { eventId: 10, activityTaskScheduledEventAttributes: { activityId: 'other', activityType: { name: 'noop' } } },
      { eventId: 11, activityTaskCancelRequestedEventAttributes: { scheduledEventId: 10 } },
      { eventId: 12, activityTaskCanceledEventAttributes: { scheduledEventId: 10 } },
    ]);
    expect(events.map(({ type, stepId, error }) => ({ type, stepId, error }))).toEqual([
      { type: 'step.started', stepId: 'fetch', error: undefined },
      { type: 'step.failed', stepId: 'fetch', error: { message: 'boom', type: 'HttpClientError' } },
      { type: 'step.started', stepId: 'slow', error: undefined },
      { type: 'step.failed', stepId: 'slow', error: { message: 'activity timeout', type: 'Timeout' } },
      { type: 'step.started', stepId: 'other', error: undefined },
      { type: 'step.cancelled', stepId: 'other', error: undefined },
    ]);
  });

  it('announces a waiting approval from the notification activity and keeps that activity out of the steps', async () => {
    const events = await mapAll([
      {
        eventId: 5,
        activityTaskScheduledEventAttributes: {
          activityId: 'notify-gate',
          activityType: { name: 'notifyApprovers' },
          input: payloads({ stepId: 'gate', approvers: { users: ['bob'], roles: [] } }),
        },
      },
      { eventId: 6, activityTaskStartedEventAttributes: { scheduledEventId: 5, attempt: 2, lastFailure: { message: 'smtp down' } } },
      { eventId: 7, activityTaskCompletedEventAttributes: { scheduledEventId: 5 } },
    ]);
    expect(events).toEqual([{ id: `${RUN}:5`, type: 'approval.waiting', at: expect.any(String), stepId: 'gate' }]);
  });

  it('reports accepted updates where they were accepted, with their actor and comment', async () => {
    const events = await mapAll([
      {
        eventId: 10,
        workflowExecutionUpdateAcceptedEventAttributes: {
          acceptedRequest: { input: { name: 'approve', args: payloads({ stepId: 'gate', actor, comment: 'ship it' }) } },
        },
      },
      { eventId: 11, workflowExecutionUpdateCompletedEventAttributes: { acceptedEventId: 10, outcome: { success: payloads({}) } } },
      {
        eventId: 12,
        workflowExecutionUpdateAcceptedEventAttributes: {
          acceptedRequest: { input: { name: 'pause', args: payloads({ actor, reason: 'maintenance' }) } },
        },
      },
      { eventId: 13, workflowExecutionUpdateCompletedEventAttributes: { acceptedEventId: 12, outcome: { success: payloads({}) } } },
      {
        eventId: 14,
        workflowExecutionUpdateAcceptedEventAttributes: {
          acceptedRequest: { input: { name: 'reject', args: payloads({ stepId: 'gate', actor }) } },
        },
      },
      { eventId: 15, workflowExecutionUpdateCompletedEventAttributes: { acceptedEventId: 14, outcome: { failure: { message: 'no' } } } },
      {
        eventId: 16,
        workflowExecutionUpdateAcceptedEventAttributes: {
          acceptedRequest: { input: { name: 'skipStep', args: payloads({ stepId: 'fetch', actor }) } },
        },
      },
      { eventId: 17, workflowExecutionUpdateCompletedEventAttributes: { acceptedEventId: 16, outcome: { success: payloads({}) } } },
    ]);
    expect(events.map(({ id, type, stepId, actor: by, comment }) => ({ id, type, stepId, by, comment }))).toEqual([
      { id: `${RUN}:10`, type: 'approval.approved', stepId: 'gate', by: 'alice', comment: 'ship it' },
      { id: `${RUN}:12`, type: 'run.paused', stepId: undefined, by: 'alice', comment: 'maintenance' },
      { id: `${RUN}:14`, type: 'approval.rejected', stepId: 'gate', by: 'alice', comment: undefined },
      { id: `${RUN}:16`, type: 'step.skipped', stepId: 'fetch', by: 'alice', comment: undefined },
    ]);
  });

  it('treats summarised timers as delay steps and other timers as internal', async () => {
    const summary = (text: string) => ({ summary: toPayloads(defaultPayloadConverter, text)![0] });
    const events = await mapAll([
      { eventId: 5, timerStartedEventAttributes: { timerId: '1' }, userMetadata: summary('cooldown: wait a bit') },
      { eventId: 6, timerStartedEventAttributes: { timerId: '2' }, userMetadata: summary('approval deadline of gate') },
      { eventId: 7, timerStartedEventAttributes: { timerId: '3' } },
      { eventId: 8, timerFiredEventAttributes: { timerId: '2' } },
      { eventId: 9, timerFiredEventAttributes: { timerId: '1' } },
    ]);
    expect(events.map(({ type, stepId, stepType }) => ({ type, stepId, stepType }))).toEqual([
      { type: 'step.started', stepId: 'cooldown', stepType: 'delay' },
      { type: 'step.succeeded', stepId: 'cooldown', stepType: 'delay' },
    ]);
  });

  it('finishes the run with the final state from the result or the failure details', async () => {
    const state = { status: 'failed', paused: false, held: [], steps: { a: { id: 'a', type: 'noop', status: 'failed', attempts: 1 } }, startedAt: 'x' };
    const [completed] = await mapAll([{ eventId: 20, workflowExecutionCompletedEventAttributes: { result: payloads(state) } }]);
    expect(completed).toMatchObject({ type: 'run.finished', status: 'failed', state });

    const [failed] = await mapAll([
      {
        eventId: 20,
        workflowExecutionFailedEventAttributes: {
          failure: { message: 'step a failed', applicationFailureInfo: { type: 'RunFailed', details: payloads(state) } },
        },
      },
    ]);
    expect(failed).toMatchObject({ type: 'run.finished', status: 'failed', error: { message: 'step a failed', type: 'RunFailed' }, state });

    const closes = await mapAll([
      { eventId: 30, workflowExecutionCanceledEventAttributes: {} },
      { eventId: 31, workflowExecutionTimedOutEventAttributes: {} },
      { eventId: 32, workflowExecutionTerminatedEventAttributes: { reason: 'operator' } },
      { eventId: 33, workflowExecutionContinuedAsNewEventAttributes: { newExecutionRunId: 'next-run' } },
    ]);
    expect(closes.map(({ type, status, nextRunId }) => ({ type, status, nextRunId }))).toEqual([
      { type: 'run.finished', status: 'cancelled', nextRunId: undefined },
      { type: 'run.finished', status: 'timed_out', nextRunId: undefined },
      { type: 'run.finished', status: 'cancelled', nextRunId: undefined },
      { type: 'run.continued', status: undefined, nextRunId: 'next-run' },
    ]);
  });

  it('ignores bookkeeping events', async () => {
    expect(
      await mapAll([
        { eventId: 2, workflowTaskScheduledEventAttributes: {} },
        { eventId: 3, workflowTaskStartedEventAttributes: {} },
        { eventId: 4, workflowTaskCompletedEventAttributes: {} },
        { eventId: 5, markerRecordedEventAttributes: {} },
      ]),
    ).toEqual([]);
  });
});

describe('transitions the workflow hands on in its memo', () => {
  const memoEvent = (eventId: number, transitions: unknown) => ({
    eventId,
    eventTime: at(eventId),
    workflowPropertiesModifiedEventAttributes: { upsertedMemo: { fields: { transitions: toPayloads(defaultPayloadConverter, transitions)![0] } } },
  });

  it('gives one event per transition, numbered within its history event, and checks what it reads', async () => {
    const mapper = new HistoryEventMapper(RUN, decode);
    const mapped = await mapper.mapAll(
      memoEvent(9, [
        { type: 'step.skipped', at: 'T1', stepId: 'a', reason: 'condition' },
        { type: 'not.a.transition', at: 'T1' },
        { type: 'group.timed_out', at: 'T1', groupId: 'g', error: { type: 'GroupTimeout', message: 'group g timed out after 1s' } },
      ]) as object as HistoryEvent,
    );
    expect(mapped).toEqual([
      { index: 1, event: { id: `${RUN}:9.1`, type: 'step.skipped', at: 'T1', stepId: 'a', reason: 'condition' } },
      {
        index: 3,
        event: { id: `${RUN}:9.3`, type: 'group.timed_out', at: 'T1', groupId: 'g', error: { type: 'GroupTimeout', message: 'group g timed out after 1s' } },
      },
    ]);
    // The entry's removal at the end of a link, and a memo that is not a list, give nothing.
    expect(await mapper.mapAll(memoEvent(10, null) as object as HistoryEvent)).toEqual([]);
    expect(await mapper.mapAll(memoEvent(11, { type: 'step.skipped' }) as object as HistoryEvent)).toEqual([]);
  });

  it('resumes after a transition within its history event', () => {
    const after = parseRunEventId(`${RUN}:9.1`);
    expect([comesAfter(9, 1, after), comesAfter(9, 2, after), comesAfter(8, 0, after), comesAfter(10, 0, after)]).toEqual([false, true, false, true]);
    expect(comesAfter(9, 1, parseRunEventId(`${RUN}:9`))).toBe(true);
  });
});

describe('run event ids', () => {
  it('round-trips and rejects anything else', () => {
    expect(parseRunEventId(formatRunEventId(RUN, 42))).toEqual({ temporalRunId: RUN, eventId: 42 });
    expect(parseRunEventId(formatRunEventId(RUN, 42, 3))).toEqual({ temporalRunId: RUN, eventId: 42, index: 3 });
    for (const bad of ['', '42', `${RUN}:0`, `${RUN}:x`, `${RUN}:42:1`, `${RUN}:42.0`, `${RUN}:42.`, `${RUN}:42.1.2`, "x' OR 1=1:3"]) {
      expect(parseRunEventId(bad)).toBeUndefined();
    }
  });
});

describe('HistoryEventMapper on recorded forEach and template step runs', () => {
  async function streamOf(file: string): Promise<RunEvent[]> {
    const history = fromHistoryFile(readFileSync(join(__dirname, '../replay/histories', file), 'utf8'));
    const mapper = new HistoryEventMapper(RUN, decode);
    const events: RunEvent[] = [];
    for (const event of history.events) events.push(...(await mapper.mapAll(event)).map((mapped) => mapped.event));
    return events;
  }

  const stepEvents = (events: RunEvent[]) => events.filter((event) => event.stepId !== undefined).map((event) => [event.type, event.stepId]);

  it('a template step starts and succeeds in the stream; loading its version is not a step', async () => {
    const events = await streamOf('templateStep.json');
    expect(stepEvents(events)).toEqual([
      ['step.started', 'sub'],
      ['step.succeeded', 'sub'],
      ['step.started', 'after'],
      ['step.succeeded', 'after'],
    ]);
  });

  it('a forEach step starts and, with failed items under onError continue, fails in the stream', async () => {
    const events = await streamOf('forEach.json');
    const each = events.filter((event) => event.stepId === 'each');
    expect(each.map((event) => event.type)).toEqual(['step.started', 'step.failed']);
    expect(each[1]!.error).toMatchObject({ type: 'ForEachItemsFailed' });
  });
});
