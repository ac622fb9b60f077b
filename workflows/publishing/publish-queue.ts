import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { PublishActivities, PublishFailure } from '../../activities/dolphinscheduler/publish-activities';
import { refusal } from '../engine/approvals';
import {
  approvePublishUpdate,
  enqueuePublishSignal,
  publishQueueStateQuery,
  rejectPublishUpdate,
  type PublishDecision,
  type PublishDecisionCommand,
  type PublishQueueInput,
  type PublishQueueState,
  type PublishRequest,
} from './contract';

/**
 * Publishes one template to one target, one request at a time. The workflow id is derived from
 * (tenant, template, target), so every publish, online and offline of that pair goes through this
 * one queue and none interleaves with another on the same DolphinScheduler definition. It ends when
 * its queue is empty; the next request starts it again (signal-with-start).
 *
 * Each request: an optional approval gate (approvers hold a role granting approval; the requester
 * may not approve their own publish), then the steps, each an activity that records itself. A step
 * that keeps failing ends the publish in `publishFailed`, which compensates, records `failed` and
 * starts the failure's notice.
 */

/**
 * DolphinScheduler calls: transient failures (5xx, timeouts, network) are retried a few times. The
 * steps heartbeat, so one whose worker died is taken over within the heartbeat timeout.
 */
const dolphinScheduler = proxyActivities<PublishActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});

/** Record keeping only needs the database: retried until it answers, so a publish always ends recorded. */
const bookkeeping = proxyActivities<PublishActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/** How long a publish waits for its approval before it is rejected as expired. */
const APPROVAL_TIMEOUT = '7 days';
const APPROVAL_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;
/** Requests handled before the queue continues as new with what is left. */
const REQUESTS_PER_RUN = 50;

export async function publishQueue(input: PublishQueueInput): Promise<void> {
  const pending: PublishRequest[] = [...(input.pending ?? [])];
  const seen = new Set(pending.map((request) => request.publishId));
  let current: { request: PublishRequest; phase: 'awaiting_approval' | 'running'; decision?: PublishDecision } | undefined;

  setHandler(enqueuePublishSignal, (request) => {
    // A repeated signal (a client retry) is one request.
    if (seen.has(request.publishId)) return;
    seen.add(request.publishId);
    pending.push(request);
  });
  setHandler(publishQueueStateQuery, (): PublishQueueState => ({
    ...(current ? { current: { publishId: current.request.publishId, phase: current.phase } } : {}),
    pending: pending.map((request) => request.publishId),
  }));

  const decide = (decision: PublishDecision['decision']) => (command: PublishDecisionCommand): PublishDecision => {
    const taken: PublishDecision = {
      decision,
      by: command.actor.subject,
      at: new Date().toISOString(),
      ...(command.comment ? { comment: command.comment } : {}),
    };
    current!.decision = taken;
    return taken;
  };
  const validate = (decision: PublishDecision['decision']) => (command: PublishDecisionCommand): void => {
    if (!current || current.request.publishId !== command.publishId || current.phase !== 'awaiting_approval' || current.decision) {
      throw refusal('Conflict', `publish ${command.publishId} is not waiting for an approval`);
    }
    if (decision === 'approved' && command.actor.subject === current.request.requestedBy) {
      throw refusal('Forbidden', `${command.actor.subject} requested this publish and may not approve it`);
    }
  };
  setHandler(approvePublishUpdate, decide('approved'), { validator: validate('approved') });
  setHandler(rejectPublishUpdate, decide('rejected'), { validator: validate('rejected') });

  let handled = 0;
  while (pending.length > 0) {
    const request = pending.shift()!;
    current = { request, phase: request.requireApproval ? 'awaiting_approval' : 'running' };
    if (request.requireApproval) {
      await bookkeeping.publishApprovalRequested(request.publishId, new Date(Date.now() + APPROVAL_TIMEOUT_MS).toISOString());
      const decided = await condition(() => current?.decision !== undefined, APPROVAL_TIMEOUT);
      const decision = decided
        ? current.decision!
        : { decision: 'rejected' as const, by: 'flowpilot', at: new Date().toISOString(), comment: `no decision within ${APPROVAL_TIMEOUT}` };
      await bookkeeping.publishDecided(request.publishId, decision);
      if (decision.decision === 'rejected') {
        current = undefined;
        continue;
      }
      current.phase = 'running';
    }
    await handle(request);
    current = undefined;
    handled += 1;
    if (handled >= REQUESTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof publishQueue>({ ...input, pending });
    }
  }
  await condition(allHandlersFinished);
}

async function handle(request: PublishRequest): Promise<void> {
  const { publishId } = request;
  try {
    if (!(await bookkeeping.publishStarted(publishId))) return;
    if (request.action === 'publish') {
      await dolphinScheduler.publishEnsureProject(publishId);
      await dolphinScheduler.publishWriteDefinition(publishId);
      await dolphinScheduler.publishBringOnline(publishId);
      await dolphinScheduler.publishWriteSchedule(publishId);
      await bookkeeping.publishSucceeded(publishId);
    } else {
      await dolphinScheduler.publishToggle(publishId, request.action);
    }
  } catch (error) {
    await bookkeeping.publishFailed(publishId, failureOf(error));
  }
}

/** The failure as the record keeps it: the DolphinScheduler error's own summary when there is one. */
function failureOf(error: unknown): PublishFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as { retryable?: boolean; code?: number; operation?: string };
    return {
      type: cause.type ?? 'Error',
      message: cause.message,
      ...(typeof details.retryable === 'boolean' ? { retryable: details.retryable } : {}),
      ...(typeof details.code === 'number' ? { code: details.code } : {}),
      ...(typeof details.operation === 'string' ? { operation: details.operation } : {}),
    };
  }
  return { type: 'Error', message: cause instanceof Error ? cause.message : String(cause) };
}
