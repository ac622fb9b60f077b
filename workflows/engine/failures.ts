import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TimeoutFailure } from '@temporalio/workflow';
import type { StepError } from '../contract';

/** Failure types the engine itself gives steps and runs (activities add their own, e.g. HttpServerError). */
export const FailureType = {
  InvalidStepInput: 'InvalidStepInput',
  ExpressionError: 'ExpressionError',
  StepTimeout: 'StepTimeout',
  Rejected: 'Rejected',
  ApprovalTimeout: 'ApprovalTimeout',
  GroupTimeout: 'GroupTimeout',
  GroupFailFast: 'GroupFailFast',
  GroupAny: 'GroupAny',
  RunFailed: 'RunFailed',
  RunTimedOut: 'RunTimedOut',
  RunTimeout: 'RunTimeout',
  /** The engine threw on this run's own data (see crash-guard.ts): the run ends failed instead of wedging. */
  RunCrashed: 'RunCrashed',
  /** A step's output would take the outputs the run carries past MAX_RUN_OUTPUT_BYTES. */
  RunOutputLimit: 'RunOutputLimit',
  Cancelled: 'Cancelled',
  /** Items of a `forEach` step failed (each item's own error is in the step's error message). */
  ForEachItemsFailed: 'ForEachItemsFailed',
  /** A `template` step's child run failed, timed out or was cancelled on its own. */
  ChildRunFailed: 'ChildRunFailed',
} as const;

/** What the activity wrapper puts in the details of every failure it reports. */
export interface StepFailureDetails {
  attempt: number;
}

/** A step failure raised inside the workflow (not by an activity): never retried. */
export function stepFailure(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** The innermost meaningful failure: an activity's own error rather than Temporal's ActivityFailure wrapper. */
function rootFailure(error: unknown): unknown {
  if ((error instanceof ActivityFailure || error instanceof ChildWorkflowFailure) && error.cause) return rootFailure(error.cause);
  return error;
}

export function toStepError(error: unknown): StepError {
  const root = rootFailure(error);
  if (root instanceof ApplicationFailure) return { type: root.type ?? 'Error', message: root.message };
  if (root instanceof TimeoutFailure) return { type: FailureType.StepTimeout, message: `timed out (${root.timeoutType})` };
  if (root instanceof Error) return { type: root.name, message: root.message };
  return { type: 'Error', message: String(root) };
}

/** Attempts an activity made, as reported by the activity wrapper in its failure details. */
export function failedAttempts(error: unknown): number | undefined {
  const root = rootFailure(error);
  if (!(root instanceof ApplicationFailure)) return undefined;
  const details = root.details?.[0] as Partial<StepFailureDetails> | undefined;
  return typeof details?.attempt === 'number' ? details.attempt : undefined;
}

