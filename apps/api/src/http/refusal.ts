import { ApplicationFailure } from '@temporalio/common';
import { RefusalType } from '../../../../workflows/contract';
import { problems, type ProblemError } from './problem';

const refusalStatuses: Record<string, (detail: string) => ProblemError> = {
  [RefusalType.Forbidden]: problems.forbidden,
  [RefusalType.NotFound]: problems.notFound,
  [RefusalType.Conflict]: problems.conflict,
  [RefusalType.Invalid]: (detail) => problems.unprocessable(detail),
};

/**
 * The problem for an update a workflow refused: the contract's refusal types keep their 4xx; any
 * other failure reached the workflow but could not be applied, so it is a 422 rather than a 500.
 */
export function refusalProblem(cause: Error | undefined, fallbackMessage: string): ProblemError {
  const message = cause?.message || fallbackMessage;
  if (cause instanceof ApplicationFailure && cause.type && refusalStatuses[cause.type]) {
    return refusalStatuses[cause.type]!(message);
  }
  return problems.unprocessable(message);
}
