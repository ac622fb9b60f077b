import type { Duration } from '@temporalio/common';
import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';
import type { Step } from '../spec/schema';
import { DEFAULT_ACTIVITY_STEP_TIMEOUT, DEFAULT_STEP_RETRY, HTTP_HEARTBEAT_TIMEOUT } from './limits';

/** Activity ids name the step; operator re-runs add `#2`, `#3`… so each execution has its own id. */
export function activityIdFor(stepId: string, execution: number): string {
  return execution <= 1 ? stepId : `${stepId}#${execution}`;
}

/**
 * Options of one step's activity.
 *
 * Cancellation waits for the activity to acknowledge (WAIT_CANCELLATION_COMPLETED): a step is only
 * reported cancelled once its request has really been aborted, and a run never finishes while a
 * call it cancelled may still be writing somewhere. TRY_CANCEL would report sooner but could lie.
 */
export function stepActivityOptions(step: Step, execution: number): ActivityOptions {
  const retry = step.retry ?? DEFAULT_STEP_RETRY;
  return {
    activityId: activityIdFor(step.id, execution),
    summary: step.name ? `${step.id}: ${step.name}`.slice(0, 200) : step.id,
    startToCloseTimeout: (step.timeout ?? DEFAULT_ACTIVITY_STEP_TIMEOUT) as Duration,
    heartbeatTimeout: step.type === 'http' ? HTTP_HEARTBEAT_TIMEOUT : undefined,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      maximumAttempts: retry.maxAttempts,
      initialInterval: retry.initialInterval as Duration,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: 'maxInterval' in retry ? (retry.maxInterval as Duration | undefined) : undefined,
      nonRetryableErrorTypes: [...retry.nonRetryableErrors],
    },
  };
}
