import { isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { RunState, StepState } from '../contract';
import type { Step } from '../spec/schema';
import type { ApprovalWith } from '../spec/step-types';
import { activityIdFor } from './activity-options';
import { toStepError } from './failures';
import type { RunContext } from './run-context';
import type { ApprovalActivities } from './step-activity';

const { notifyApprovers } = proxyActivities<ApprovalActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, initialInterval: '1s', backoffCoefficient: 2 },
});

/** How an approval left waiting: by its decisions, or by its deadline (then `onTimeout` decided). */
export type ApprovalSettlement = 'approved' | 'rejected' | 'timed_out';

/**
 * Run lifecycle notices: the moments people outside the run may need to hear of, each one call.
 * The engine calls these at exactly those moments and nowhere else, so whatever tells people
 * (approvers' notices today, notification channels later) plugs in here without touching the
 * scheduler.
 *
 * Replay safety: a notice that issues a command (an activity, a timer) changes the history of new
 * runs at that point; guard such a change with `patched()` inside the notice, as `approvalRequested`
 * would have been had it come later. The synchronous notices are called from step callbacks and
 * the run's ending: they must not throw (a throw there crashes the run) and must not await.
 */
export class RunNotices {
  constructor(private readonly ctx: RunContext) {}

  /**
   * An approval step starts waiting for decisions: its approvers are told. The step awaits this
   * before it waits (it holds a slot while it does); a notice that cannot be sent must not keep
   * approvers from deciding, so a failure is logged and the step waits anyway.
   */
  async approvalRequested(step: Step, approval: ApprovalWith, deadline: string | undefined): Promise<void> {
    const { input } = this.ctx;
    try {
      await notifyApprovers.executeWithOptions(
        { activityId: `notify:${activityIdFor(step.id, this.ctx.execution(step.id))}`, summary: `notify approvers of ${step.id}` },
        [
          {
            stepId: step.id,
            templateName: input.templateName,
            templateVersion: input.templateVersion,
            startedBy: input.startedBy,
            users: approval.approvers.users,
            roles: approval.approvers.roles,
            required: approval.required,
            message: approval.message,
            deadline,
          },
        ],
      );
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn('approval notice failed; waiting for decisions anyway', { stepId: step.id, error: toStepError(error) });
    }
  }

  /** An approval step stopped waiting; `state.approvals` holds the decisions that settled it. */
  approvalSettled(step: Step, state: StepState, settlement: ApprovalSettlement, approval: ApprovalWith): void {
    log.info('approval settled', { stepId: step.id, settlement, decisions: state.approvals?.length ?? 0, onTimeout: approval.onTimeout });
  }

  /** A step failed with `onError: pause`: the run is held until an operator retries or skips it. */
  stepHeld(step: Step, state: StepState): void {
    log.info('step held for an operator', { stepId: step.id, error: state.error });
  }

  /** The run finished: `state.status` says how (succeeded, failed, timed_out, cancelled), `state.error` why. */
  runFinished(state: RunState, crashed: boolean): void {
    switch (state.status) {
      case 'succeeded':
        return this.runSucceeded(state);
      case 'timed_out':
        return this.runTimedOut(state);
      case 'cancelled':
        return this.runCancelled(state);
      default:
        return this.runFailed(state, crashed);
    }
  }

  runSucceeded(state: RunState): void {
    log.info('run finished', { status: state.status });
  }

  /** The run failed: a step with `onError: fail`, a group's timeout, or the engine crashed on the run (`crashed`). */
  runFailed(state: RunState, crashed: boolean): void {
    log.info('run finished', { status: state.status, crashed, error: state.error });
  }

  runTimedOut(state: RunState): void {
    log.info('run finished', { status: state.status, error: state.error });
  }

  runCancelled(state: RunState): void {
    log.info('run finished', { status: state.status });
  }
}
