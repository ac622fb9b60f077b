import { isCancellation, log, patched } from '@temporalio/workflow';
import type { StepError, StepState } from '../contract';
import type { Step } from '../spec/schema';
import { failedAttempts, FailureType, toStepError } from './failures';
import type { GroupSystem } from './groups';
import { MAX_RUN_OUTPUT_BYTES } from './limits';
import type { RunNotices } from './notices';
import type { RunContext } from './run-context';
import { now } from './time';
import { jsonBytes } from './task-budget';

/** Patch id: runs recorded before the bound on the outputs a run carries kept every output. */
const BOUND_RUN_OUTPUTS = 'bound-run-outputs';

/**
 * How a step ends: succeeded (within the outputs a run may carry), failed (then its `onError`
 * decides what the run does), cancelled or skipped. Settling a member of a group lets the group
 * decide.
 */
export class StepSettlement {
  /** Bytes of the step outputs the run carries (MAX_RUN_OUTPUT_BYTES). */
  private outputBytes = 0;

  constructor(
    private readonly ctx: RunContext,
    private readonly groups: GroupSystem,
    private readonly notices: RunNotices,
  ) {
    for (const step of Object.values(ctx.state.steps)) {
      if (step.output !== undefined) this.outputBytes += jsonBytes(step.output);
    }
  }

  settle(state: StepState, status: StepState['status'], output?: unknown, error?: StepError): void {
    state.status = status;
    state.finishedAt = now();
    if (output !== undefined) state.output = output;
    if (error) state.error = error;
    this.ctx.stepsContext[state.id] = { status, output: state.output };
    const group = this.ctx.graph.groupOf(state.id);
    if (group) this.groups.decide(group);
  }

  settleSkipped(id: string, reason: NonNullable<StepState['skipReason']>): void {
    this.ctx.step(id).skipReason = reason;
    this.settle(this.ctx.step(id), 'skipped');
  }

  /** Skips a step that has not started. */
  skip(id: string, reason: NonNullable<StepState['skipReason']>): void {
    this.ctx.removePending(id);
    this.settleSkipped(id, reason);
    this.ctx.changed = true;
  }

  /**
   * Settles a step that succeeded, unless its output would take what the run carries past
   * MAX_RUN_OUTPUT_BYTES: then it fails, so the run's state, result and continue-as-new input stay
   * within Temporal's payload limit instead of failing every workflow task that would carry them.
   */
  succeed(step: Step, state: StepState, output: unknown): void {
    const bytes = output === undefined ? 0 : jsonBytes(output);
    if (this.outputBytes + bytes > MAX_RUN_OUTPUT_BYTES && patched(BOUND_RUN_OUTPUTS)) {
      const message =
        `step ${step.id}: its output of ${bytes} bytes would take the outputs this run carries past ` +
        `${MAX_RUN_OUTPUT_BYTES} bytes; return less, or split the work over runs`;
      this.settle(state, 'failed', undefined, { type: FailureType.RunOutputLimit, message });
      this.applyOnError(step);
      return;
    }
    this.outputBytes += bytes;
    this.settle(state, 'succeeded', output);
  }

  /** Called from a step's own promise, which nobody awaits: hence the crash guard. */
  threw(step: Step, state: StepState, error: unknown): void {
    this.ctx.guard.run(`settling step ${step.id}`, () => {
      if (isCancellation(error)) {
        this.settle(state, 'cancelled', undefined, this.groups.cancelReason(step.id));
      } else {
        state.attempts ||= failedAttempts(error) ?? 1;
        this.settle(state, 'failed', undefined, toStepError(error));
        this.applyOnError(step);
      }
    });
  }

  private applyOnError(step: Step): void {
    const state = this.ctx.step(step.id);
    const error = state.error!;
    log.warn('step failed', { stepId: step.id, onError: step.onError, error });
    switch (step.onError) {
      case 'fail':
        this.ctx.end({ status: 'failed', error: { type: error.type, message: `step ${step.id} failed: ${error.message}` } });
        break;
      case 'pause':
        this.ctx.state.held.push(step.id);
        this.notices.stepHeld(step, state);
        break;
      case 'continue':
        break;
    }
  }
}
