import type { WorkflowExecutionStatusName } from '@temporalio/client';
import type { RunStatus } from '../../../../workflows/contract';
import { runStatuses } from './schemas';

const terminalStatuses = new Set<RunStatus>(['succeeded', 'failed', 'cancelled', 'timed_out']);

/**
 * A run's status from what visibility and describe know: the workflow keeps the RunStatus search
 * attribute current while it runs, but only Temporal knows about a termination, a workflow
 * timeout or a crash, so a closed execution's own status wins over a stale attribute.
 */
export function runStatusOf(execution: WorkflowExecutionStatusName, attribute: string | undefined): RunStatus {
  const reported = isRunStatus(attribute) ? attribute : undefined;
  switch (execution) {
    case 'RUNNING':
    case 'PAUSED':
    case 'CONTINUED_AS_NEW':
      return reported && !terminalStatuses.has(reported) ? reported : 'running';
    case 'COMPLETED':
      return reported && terminalStatuses.has(reported) ? reported : 'succeeded';
    case 'FAILED':
      // A run that hit its own deadline fails the workflow (RunTimedOut) after publishing timed_out.
      return reported === 'timed_out' ? 'timed_out' : 'failed';
    case 'CANCELLED':
    case 'TERMINATED':
      return 'cancelled';
    case 'TIMED_OUT':
      return 'timed_out';
    default:
      return reported ?? 'running';
  }
}

const closedExecutions = new Set<WorkflowExecutionStatusName>(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT', 'CONTINUED_AS_NEW']);

export function isClosed(execution: WorkflowExecutionStatusName): boolean {
  return closedExecutions.has(execution);
}

function isRunStatus(value: string | undefined): value is RunStatus {
  return (runStatuses as readonly string[]).includes(value ?? '');
}
