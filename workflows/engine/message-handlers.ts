import { setHandler } from '@temporalio/workflow';
import {
  approveUpdate,
  pauseUpdate,
  rejectUpdate,
  resumeUpdate,
  retryStepUpdate,
  skipStepUpdate,
  stateQuery,
  type ApprovalCommand,
  type ControlCommand,
  type StepCommand,
} from '../contract';
import type { ApprovalSteps } from './approval-steps';
import type { OperatorControl } from './operator-control';
import type { RunContext } from './run-context';

/**
 * The run's query and control updates. Installed before the first await, so that updates in the
 * first workflow task are not lost. Synchronous handlers run under the crash guard.
 */
export function installControlHandlers(ctx: RunContext, control: OperatorControl): void {
  const { guard } = ctx;
  setHandler(stateQuery, () => ctx.state);
  setHandler(pauseUpdate, (command) => guard.update('pause', () => control.setPaused(true, command)), {
    validator: (_command: ControlCommand) => control.validatePause(true),
  });
  setHandler(resumeUpdate, (command) => guard.update('resume', () => control.setPaused(false, command)), {
    validator: (_command: ControlCommand) => control.validatePause(false),
  });
  setHandler(retryStepUpdate, (command) => guard.update('retryStep', () => control.retryHeld(command)), {
    validator: (command: StepCommand) => control.validateHeld(command),
  });
  setHandler(skipStepUpdate, (command) => guard.update('skipStep', () => control.skipHeld(command)), {
    validator: (command: StepCommand) => control.validateHeld(command),
  });
}

/**
 * The approve and reject updates. Decisions are validated against the approval's rendered `with`.
 * Updates that reach a continued run in its first task are buffered by the SDK until their handler
 * exists, so these are installed once the carried approvals are rendered (still within that task).
 */
export async function installDecisionHandlers(approvals: ApprovalSteps): Promise<void> {
  await approvals.renderCarried();
  setHandler(approveUpdate, (command) => approvals.decide('approved', command), {
    validator: (command: ApprovalCommand) => approvals.validateDecision('approved', command),
  });
  setHandler(rejectUpdate, (command) => approvals.decide('rejected', command), {
    validator: (command: ApprovalCommand) => approvals.validateDecision('rejected', command),
  });
}
