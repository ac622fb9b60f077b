import {
  CancellationScope,
  CancelledFailure,
  ChildWorkflowFailure,
  TerminatedFailure,
  TimeoutFailure,
  proxyActivities,
  startChild,
} from '@temporalio/workflow';
import { RUN_WORKFLOW_TYPE } from './contract';
import type { ScheduledRunInput, ScheduledRunResult } from './scheduled-start';
import type { ScheduledRunActivities } from '../activities/scheduled-runs';

/**
 * What a Temporal Schedule of a template starts at each firing (scheduled-start.ts says why it is
 * not the run itself): the activity resolves the version the schedule names (`latest` at this
 * firing, or a pinned one), checks the template and the inputs, and answers the run's start
 * options; the run then starts as this workflow's child, with the schedule's tenant and the
 * schedule as its starter, and this workflow waits for it, so that the schedule's overlap policy
 * (skip, buffer, cancel or terminate the previous firing) applies to runs.
 *
 * Cancelling this workflow (the `cancelOther` overlap policy) cancels the run and waits for it to
 * take the cancellation; terminating it (`terminateOther`) asks the run to cancel (parent close
 * policy REQUEST_CANCEL), so a run always ends through its own cancellation handling. A run's
 * failure is the run's: this workflow completes and reports it.
 */

const { resolveScheduledRun } = proxyActivities<ScheduledRunActivities>({
  startToCloseTimeout: '30s',
  // A database outage is retried for about a minute; a template that is gone or archived, a missing
  // version or inputs the version refuses are not (typed, non-retryable failures).
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 6 },
});

export async function scheduledRun(input: ScheduledRunInput): Promise<ScheduledRunResult> {
  const start = await resolveScheduledRun(input);
  const { runId } = start;
  const child = await startChild(RUN_WORKFLOW_TYPE, {
    workflowId: runId,
    taskQueue: start.taskQueue,
    args: start.args,
    memo: start.memo,
    staticSummary: start.staticSummary,
    staticDetails: start.staticDetails,
    typedSearchAttributes: start.typedSearchAttributes,
    parentClosePolicy: 'REQUEST_CANCEL',
  });
  const templateVersion = start.templateVersion;
  try {
    await child.result();
    return { runId, templateVersion, outcome: 'completed' };
  } catch (error) {
    // Cancelled by the schedule (overlap policy) and the run took it: end cancelled, as asked.
    if (CancellationScope.current().consideredCancelled) throw error;
    if (error instanceof ChildWorkflowFailure) return { runId, templateVersion, outcome: outcomeOf(error) };
    throw error;
  }
}

function outcomeOf(failure: ChildWorkflowFailure): ScheduledRunResult['outcome'] {
  const cause = failure.cause;
  if (cause instanceof CancelledFailure) return 'cancelled';
  if (cause instanceof TerminatedFailure) return 'terminated';
  if (cause instanceof TimeoutFailure) return 'timedOut';
  return 'failed';
}
