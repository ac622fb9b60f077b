import type { temporal } from '@temporalio/proto';
import {
  RUN_TRANSITIONS_MEMO_KEY,
  runTransitionTypes,
  type RunState,
  type RunStatus,
  type RunTransition,
  type StepError,
} from '../../../../workflows/contract';
import { stepIdOfActivity, type StepActivityResult } from '../../../../workflows/engine/step-activity';

/**
 * Turns Temporal history events into the run events the API publishes. It holds no I/O: payloads
 * are decoded by the function it is given, so it can be tested on hand-built events.
 * One mapper reads one Temporal run (one link of a continue-as-new chain), in event order:
 * completions refer back to their scheduling or acceptance events, which it remembers.
 * Transitions the history does not show by itself come from the workflow's memo upserts
 * (`RunTransition` in workflows/contract.ts): one history event, then, gives several run events.
 */

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payloads = temporal.api.common.v1.IPayload[] | null | undefined;
type Failure = temporal.api.failure.v1.IFailure;
type LongLike = number | { toNumber(): number };

export type PayloadsDecoder = (payloads: Payloads) => Promise<unknown[]>;

export const runEventTypes = [
  'step.started',
  'step.attempt_failed',
  'step.succeeded',
  'step.failed',
  'step.cancelled',
  'step.retried',
  'step.skipped',
  'step.held',
  'approval.waiting',
  'approval.approved',
  'approval.rejected',
  'approval.settled',
  'approval.timed_out',
  'group.closed',
  'group.timed_out',
  'run.timed_out',
  'run.paused',
  'run.resumed',
  'run.cancel_requested',
  'run.continued',
  'run.finished',
] as const;

export type RunEventType = (typeof runEventTypes)[number];

export interface RunEvent {
  /**
   * `<temporal run id>:<history event id>`, with `.<n>` for the n-th transition one history event
   * carries: stable, ordered within a run, and enough to resume from.
   */
  id: string;
  type: RunEventType;
  at: string;
  stepId?: string;
  groupId?: string;
  /** step.skipped: condition, upstream, group or operator. */
  reason?: NonNullable<RunTransition['reason']>;
  /** approval.settled and approval.timed_out: approved, rejected or (timed out) failed. */
  outcome?: NonNullable<RunTransition['outcome']>;
  stepType?: string;
  attempt?: number;
  output?: unknown;
  error?: StepError;
  actor?: string;
  comment?: string;
  status?: RunStatus;
  state?: RunState;
  nextRunId?: string;
}

/** The activity that tells approvers a decision is waiting; it is bookkeeping, not a step. */
export const NOTIFY_APPROVERS_ACTIVITY = 'notifyApprovers';

/**
 * The child workflow that delivers a run's notice through its channels (workflows/notifications):
 * in a run with channel notices, its `approval_requested` start takes the place of the
 * notifyApprovers activity as the sign that an approval began to wait.
 */
export const SEND_NOTICE_WORKFLOW = 'sendNotice';
/** The activity a `template` step loads its child's version with: the step's own events are transitions. */
export const LOAD_CHILD_TEMPLATE_ACTIVITY = 'loadChildTemplate';

const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const updateEventTypes: Record<string, { eventType: RunEventType; withStep: boolean; reason?: 'operator' }> = {
  approve: { eventType: 'approval.approved', withStep: true },
  reject: { eventType: 'approval.rejected', withStep: true },
  pause: { eventType: 'run.paused', withStep: false },
  resume: { eventType: 'run.resumed', withStep: false },
  retryStep: { eventType: 'step.retried', withStep: true },
  skipStep: { eventType: 'step.skipped', withStep: true, reason: 'operator' },
};

/** A run event and its place among those one history event gives: 0 alone, 1… for transitions. */
export interface MappedRunEvent {
  event: RunEvent;
  index: number;
}

interface ScheduledActivity {
  stepId: string;
  stepType: string;
}

export class HistoryEventMapper {
  /** Scheduled activities by event id; the engine's own (approval notices, child template loads) are 'notification'. */
  private readonly activities = new Map<number, ScheduledActivity | 'notification'>();
  private readonly timers = new Map<string, string>();

  constructor(
    private readonly temporalRunId: string,
    private readonly decode: PayloadsDecoder,
  ) {}

  /** Every run event one history event gives, in order. */
  async mapAll(event: HistoryEvent): Promise<MappedRunEvent[]> {
    const memo = event.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.[RUN_TRANSITIONS_MEMO_KEY];
    if (memo) return this.mapTransitions(event, memo);
    const single = await this.map(event);
    return single ? [{ event: single, index: 0 }] : [];
  }

  /** The run event one history event gives, if any (transitions: see `mapAll`). */
  async map(event: HistoryEvent): Promise<RunEvent | undefined> {
    const eventId = toNumber(event.eventId);
    const base = {
      id: formatRunEventId(this.temporalRunId, eventId),
      at: timestampToIso(event.eventTime),
    };

    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      if (scheduled.activityType?.name === NOTIFY_APPROVERS_ACTIVITY) {
        this.activities.set(eventId, 'notification');
        const [request] = await this.decode(scheduled.input?.payloads);
        const stepId = stringField(request, 'stepId');
        return stepId ? { ...base, type: 'approval.waiting', stepId } : undefined;
      }
      if (scheduled.activityType?.name === LOAD_CHILD_TEMPLATE_ACTIVITY) {
        this.activities.set(eventId, 'notification');
        return undefined;
      }
      const activity = { stepId: stepIdOfActivity(scheduled.activityId ?? ''), stepType: scheduled.activityType?.name ?? '' };
      this.activities.set(eventId, activity);
      return { ...base, type: 'step.started', ...activity };
    }

    const childStart = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (childStart?.workflowType?.name === SEND_NOTICE_WORKFLOW) {
      const [notice] = await this.decode(childStart.input?.payloads);
      const stepId = stringField(notice, 'kind') === 'approval_requested' ? stringField(objectField(notice, 'step'), 'id') : undefined;
      return stepId ? { ...base, type: 'approval.waiting', stepId } : undefined;
    }

    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const activity = this.stepActivity(started.scheduledEventId);
      const attempt = started.attempt ?? 1;
      // Temporal writes the started event once, for the last attempt; earlier attempts show only here.
      if (!activity || attempt <= 1 || !started.lastFailure) return undefined;
      return { ...base, type: 'step.attempt_failed', ...activity, attempt: attempt - 1, error: stepErrorOf(started.lastFailure) };
    }

    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const activity = this.stepActivity(completed.scheduledEventId);
      if (!activity) return undefined;
      const [result] = await this.decode(completed.result?.payloads);
      return { ...base, type: 'step.succeeded', ...activity, output: (result as StepActivityResult | undefined)?.output };
    }

    const failed = event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes;
    if (failed) {
      const activity = this.stepActivity(failed.scheduledEventId);
      if (!activity) return undefined;
      return { ...base, type: 'step.failed', ...activity, ...(failed.failure ? { error: stepErrorOf(failed.failure) } : {}) };
    }

    const cancelled = event.activityTaskCanceledEventAttributes;
    if (cancelled) {
      const activity = this.stepActivity(cancelled.scheduledEventId);
      return activity ? { ...base, type: 'step.cancelled', ...activity } : undefined;
    }

    const timerStarted = event.timerStartedEventAttributes;
    if (timerStarted) {
      const [summary] = event.userMetadata?.summary ? await this.decode([event.userMetadata.summary]) : [];
      const stepId = stepIdOfSummary(summary);
      if (!stepId) return undefined;
      this.timers.set(timerStarted.timerId ?? '', stepId);
      return { ...base, type: 'step.started', stepId, stepType: 'delay' };
    }

    const timerFired = event.timerFiredEventAttributes;
    if (timerFired) {
      const stepId = this.timers.get(timerFired.timerId ?? '');
      return stepId ? { ...base, type: 'step.succeeded', stepId, stepType: 'delay' } : undefined;
    }

    const timerCancelled = event.timerCanceledEventAttributes;
    if (timerCancelled) {
      const stepId = this.timers.get(timerCancelled.timerId ?? '');
      return stepId ? { ...base, type: 'step.cancelled', stepId, stepType: 'delay' } : undefined;
    }

    // Refused requests are never accepted. An accepted one took effect then: every handler applies
    // its change at once, and a decision's answer may wait for the step it settles (later events).
    const accepted = event.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted) {
      const input = accepted.acceptedRequest?.input;
      const kind = updateEventTypes[input?.name ?? ''];
      if (!kind) return undefined;
      const [command] = await this.decode(input?.args?.payloads);
      const stepId = kind.withStep ? stringField(command, 'stepId') : undefined;
      const actor = stringField(objectField(command, 'actor'), 'subject');
      const comment = stringField(command, 'comment') ?? stringField(command, 'reason');
      return {
        ...base,
        type: kind.eventType,
        ...(stepId ? { stepId } : {}),
        ...(kind.reason ? { reason: kind.reason } : {}),
        ...(actor ? { actor } : {}),
        ...(comment ? { comment } : {}),
      };
    }

    // The API sends the caller's subject as the request's identity (runs/control.ts `cancelRun`).
    const cancelRequested = event.workflowExecutionCancelRequestedEventAttributes;
    if (cancelRequested) {
      const actor = cancelRequested.identity || undefined;
      const comment = cancelRequested.cause || undefined;
      return { ...base, type: 'run.cancel_requested', ...(actor ? { actor } : {}), ...(comment ? { comment } : {}) };
    }

    return this.mapWorkflowClose(event, base);
  }

  private async mapWorkflowClose(event: HistoryEvent, base: Pick<RunEvent, 'id' | 'at'>): Promise<RunEvent | undefined> {
    const completed = event.workflowExecutionCompletedEventAttributes;
    if (completed) {
      const [result] = await this.decode(completed.result?.payloads);
      const state = asRunState(result);
      return { ...base, type: 'run.finished', status: state?.status ?? 'succeeded', ...(state ? { state } : {}) };
    }
    const failed = event.workflowExecutionFailedEventAttributes;
    if (failed) {
      const state = await this.stateFromFailure(failed.failure);
      const status = state?.status ?? (failed.failure?.applicationFailureInfo?.type === 'RunTimedOut' ? 'timed_out' : 'failed');
      return { ...base, type: 'run.finished', status, ...(failed.failure ? { error: stepErrorOf(failed.failure) } : {}), ...(state ? { state } : {}) };
    }
    const cancelled = event.workflowExecutionCanceledEventAttributes;
    if (cancelled) {
      const [details] = await this.decode(cancelled.details?.payloads);
      const state = asRunState(details);
      return { ...base, type: 'run.finished', status: 'cancelled', ...(state ? { state } : {}) };
    }
    if (event.workflowExecutionTimedOutEventAttributes) {
      return { ...base, type: 'run.finished', status: 'timed_out' };
    }
    const terminated = event.workflowExecutionTerminatedEventAttributes;
    if (terminated) {
      return { ...base, type: 'run.finished', status: 'cancelled', error: { message: terminated.reason || 'terminated', type: 'Terminated' } };
    }
    const continued = event.workflowExecutionContinuedAsNewEventAttributes;
    if (continued) {
      return { ...base, type: 'run.continued', nextRunId: continued.newExecutionRunId ?? '' };
    }
    return undefined;
  }

  /** The transitions of one memo upsert; removing the entry (an empty payload) gives none. */
  private async mapTransitions(event: HistoryEvent, memo: temporal.api.common.v1.IPayload): Promise<MappedRunEvent[]> {
    const [transitions] = await this.decode([memo]);
    if (!Array.isArray(transitions)) return [];
    const eventId = toNumber(event.eventId);
    const mapped: MappedRunEvent[] = [];
    for (const [i, transition] of transitions.entries()) {
      const runEvent = transitionEvent(transition);
      if (!runEvent) continue;
      const index = i + 1;
      mapped.push({ event: { id: formatRunEventId(this.temporalRunId, eventId, index), ...runEvent }, index });
    }
    return mapped;
  }

  private stepActivity(scheduledEventId: LongLike | null | undefined): ScheduledActivity | undefined {
    const activity = this.activities.get(toNumber(scheduledEventId));
    return activity === 'notification' ? undefined : activity;
  }

  private async stateFromFailure(failure: Failure | null | undefined): Promise<RunState | undefined> {
    const details = failure?.applicationFailureInfo?.details?.payloads;
    if (!details?.length) return undefined;
    const [first] = await this.decode(details);
    return asRunState(first);
  }
}

export interface RunEventId {
  temporalRunId: string;
  eventId: number;
  /** The transition's place within its history event (1…); absent for an event of its own. */
  index?: number;
}

export function formatRunEventId(temporalRunId: string, eventId: number, index?: number): string {
  return index ? `${temporalRunId}:${eventId}.${index}` : `${temporalRunId}:${eventId}`;
}

/** Undefined for anything that is not an id this module made (callers answer 400). */
export function parseRunEventId(value: string): RunEventId | undefined {
  const match = /^([0-9a-fA-F-]{1,64}):([1-9][0-9]{0,15})(?:\.([1-9][0-9]{0,5}))?$/.exec(value);
  if (!match) return undefined;
  return { temporalRunId: match[1]!, eventId: Number(match[2]), ...(match[3] ? { index: Number(match[3]) } : {}) };
}

/** Whether the event at (`eventId`, `index`) comes after `after` in the same Temporal run. */
export function comesAfter(eventId: number, index: number, after: RunEventId | undefined): boolean {
  if (!after) return true;
  return eventId > after.eventId || (eventId === after.eventId && index > (after.index ?? 0));
}

const transitionTypes = new Set<string>(runTransitionTypes);

/** A transition as the workflow recorded it, checked field by field (it is read back from history, not trusted). */
function transitionEvent(value: unknown): Omit<RunEvent, 'id'> | undefined {
  const type = stringField(value, 'type');
  const at = stringField(value, 'at');
  if (!type || !transitionTypes.has(type) || !at) return undefined;
  const stepId = stringField(value, 'stepId');
  const groupId = stringField(value, 'groupId');
  const reason = stringField(value, 'reason') as RunEvent['reason'];
  const outcome = stringField(value, 'outcome') as RunEvent['outcome'];
  const error = objectField(value, 'error');
  const message = stringField(error, 'message');
  const errorType = stringField(error, 'type');
  return {
    type: type as RunEventType,
    at,
    ...(stepId ? { stepId } : {}),
    ...(groupId ? { groupId } : {}),
    ...(reason ? { reason } : {}),
    ...(outcome ? { outcome } : {}),
    ...(message !== undefined ? { error: { message, ...(errorType ? { type: errorType } : {}) } } : {}),
  };
}

/**
 * Delay steps summarise their timer as `stepId` or `stepId: name`, like step activities do; timers
 * without such a summary are the engine's own deadlines and are not steps.
 */
export function stepIdOfSummary(summary: unknown): string | undefined {
  if (typeof summary !== 'string') return undefined;
  const candidate = summary.split(':', 1)[0]!;
  return STEP_ID.test(candidate) ? candidate : undefined;
}

export function stepErrorOf(failure: Failure): StepError {
  const type = failure.applicationFailureInfo?.type || (failure.timeoutFailureInfo ? 'Timeout' : undefined);
  return { message: failure.message ?? '', ...(type ? { type } : {}) };
}

export function toNumber(value: LongLike | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

function timestampToIso(timestamp: temporal.api.history.v1.IHistoryEvent['eventTime']): string {
  if (!timestamp) return new Date(0).toISOString();
  const millis = toNumber(timestamp.seconds ?? 0) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6);
  return new Date(millis).toISOString();
}

function objectField(value: unknown, field: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[field] : undefined;
}

function stringField(value: unknown, field: string): string | undefined {
  const found = objectField(value, field);
  return typeof found === 'string' ? found : undefined;
}

/** The run state a workflow result or failure detail carries, if that is what the value is. */
export function asRunState(value: unknown): RunState | undefined {
  const steps = objectField(value, 'steps');
  return typeof objectField(value, 'status') === 'string' && typeof steps === 'object' && steps !== null
    ? (value as RunState)
    : undefined;
}
