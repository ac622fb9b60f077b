import { ActivityFailure, isCancellation, log } from '@temporalio/workflow';
import type { StepError, StepState } from '../contract';
import type { Step } from '../spec/schema';
import { stepTypes } from '../spec/step-types';
import { boundedStepError, type CarriedPayload } from './carried-payload';
import { failedAttempts, FailureType, toStepError } from './failures';
import type { GroupSystem } from './groups';
import type { RunNotices } from './notices';
import type { RunContext } from './run-context';
import { now } from './time';
import { jsonBytes } from './task-budget';

/**
 * How a step ends: succeeded (within the outputs a run may carry), failed (then its `onError`
 * decides what the run does), cancelled or skipped. Settling a member of a group lets the group
 * decide.
 */
export class StepSettlement {
  constructor(
    private readonly ctx: RunContext,
    private readonly groups: GroupSystem,
    private readonly carried: CarriedPayload,
    private readonly notices: RunNotices,
  ) {}

  settle(state: StepState, status: StepState['status'], output?: unknown, error?: StepError): void {
    state.status = status;
    state.finishedAt = now();
    if (output !== undefined) state.output = output;
    if (error) state.error = boundedStepError(error);
    this.ctx.stepsContext[state.id] = { status, output: state.output };
    this.carried.stepChanged(state);
    const group = this.ctx.graph.groupOf(state.id);
    if (group) this.groups.decide(group);
  }

  settleSkipped(id: string, reason: NonNullable<StepState['skipReason']>): void {
    this.ctx.step(id).skipReason = reason;
    this.settle(this.ctx.step(id), 'skipped');
    // An operator's skip is in the history already, as the accepted update with its actor.
    if (reason !== 'operator') this.ctx.transitions.record({ type: 'step.skipped', stepId: id, reason });
  }

  /** Skips a step that has not started. */
  skip(id: string, reason: NonNullable<StepState['skipReason']>): void {
    this.ctx.removePending(id);
    this.settleSkipped(id, reason);
    this.ctx.changed = true;
  }

  /**
   * Settles a step that succeeded, unless its output would take what the run carries past its
   * bounds (carried-payload.ts): then it fails as RunOutputLimit, so the run's state, result and
   * continue-as-new input stay within Temporal's payload limit instead of failing every workflow
   * task that would carry them.
   */
  succeed(step: Step, state: StepState, output: unknown): void {
    const refused = this.carried.admitOutput(step.id, output === undefined ? 0 : jsonBytes(output));
    if (refused !== undefined) {
      this.settle(state, 'failed', undefined, { type: FailureType.RunOutputLimit, message: refused });
      this.ctx.transitions.record({ type: 'step.failed', stepId: step.id, error: state.error });
      this.applyOnError(step);
      return;
    }
    this.settle(state, 'succeeded', output);
    this.notices.stepSucceeded(step);
    // An activity's or timer's success is in the history already; a forEach's or child run's is recorded.
    if (step.forEach !== undefined || stepTypes[step.type].kind === 'child') this.ctx.transitions.record({ type: 'step.succeeded', stepId: step.id });
  }

  /**
   * Settles a step that failed in the workflow's own judgement but has an output to show (a
   * `forEach` whose items failed: the outputs of the others), kept within the run's bounds.
   */
  failWithOutput(step: Step, state: StepState, error: StepError, output: unknown): void {
    const kept = this.carried.admitOutput(step.id, jsonBytes(output)) === undefined ? output : undefined;
    this.settle(state, 'failed', kept, error);
    this.ctx.transitions.record({ type: 'step.failed', stepId: step.id, error: state.error });
    this.applyOnError(step);
  }

  /** Called from a step's own promise, which nobody awaits: hence the crash guard. */
  threw(step: Step, state: StepState, error: unknown): void {
    this.ctx.guard.run(`settling step ${step.id}`, () => {
      // What an activity or a step's timer went through is in the history already; the rest is recorded.
      const inHistory =
        (error instanceof ActivityFailure && error.activityType === step.type) || (stepTypes[step.type].kind === 'timer' && state.status === 'running');
      if (isCancellation(error)) {
        this.settle(state, 'cancelled', undefined, this.groups.cancelReason(step.id));
        if (!inHistory) this.ctx.transitions.record({ type: 'step.cancelled', stepId: step.id, ...(state.error ? { error: state.error } : {}) });
      } else {
        state.attempts ||= failedAttempts(error) ?? 1;
        this.settle(state, 'failed', undefined, toStepError(error));
        if (!inHistory) this.ctx.transitions.record({ type: 'step.failed', stepId: step.id, error: state.error });
        this.applyOnError(step);
      }
    });
  }

  private applyOnError(step: Step): void {
    const state = this.ctx.step(step.id);
    const error = state.error!;
    log.warn('step failed', { stepId: step.id, onError: step.onError, error });
    this.notices.stepFailed(step, state);
    switch (step.onError) {
      case 'fail':
        this.ctx.end({ status: 'failed', error: { type: error.type, message: `step ${step.id} failed: ${error.message}` } });
        break;
      case 'pause':
        this.ctx.state.held.push(step.id);
        this.ctx.transitions.record({ type: 'step.held', stepId: step.id, error });
        this.notices.stepHeld(step, state);
        break;
      case 'continue':
        break;
    }
  }
}
