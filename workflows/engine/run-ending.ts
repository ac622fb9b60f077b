import { allHandlersFinished, ApplicationFailure, CancelledFailure, condition, sleep } from '@temporalio/workflow';
import type { RunResult } from '../contract';
import type { Continuation } from './continuation';
import { FailureType } from './failures';
import type { RunNotices } from './notices';
import { ignoreCancellation, isSettled, type RunContext } from './run-context';
import { now } from './time';
import type { RunStatusPublisher } from './run-status';
import type { Outcome } from './scheduler';

/**
 * The run's deadline and its end: once scheduling is over, whatever still runs is cancelled, the
 * final state is published, and the workflow completes, fails or continues as new.
 */
export class RunEnding {
  constructor(
    private readonly ctx: RunContext,
    private readonly status: RunStatusPublisher,
    private readonly continuation: Continuation,
    private readonly notices: RunNotices,
  ) {}

  /** Arms the run's deadline (carried across continue-as-new); called inside the run scope. */
  armDeadline(): void {
    const { runDeadline, input } = this.ctx;
    if (!runDeadline) return;
    const remaining = Math.max(Date.parse(runDeadline) - Date.now(), 1);
    sleep(remaining, { summary: 'run timeout' }).then(() => {
      const error = { type: FailureType.RunTimeout, message: `run timed out after ${input.spec.timeout}` };
      if (!this.ctx.ending) this.ctx.transitions.recordCause({ type: 'run.timed_out', error });
      this.ctx.end({ status: 'timed_out', error });
    }, ignoreCancellation);
  }

  /** Runs outside the run scope (non-cancellable): a cancelled run still finishes its bookkeeping. */
  async finish(outcome: Outcome): Promise<RunResult> {
    const { ctx } = this;
    if (ctx.ending) {
      ctx.runScope.cancel();
      await Promise.all(ctx.tasks.values());
    } else if (outcome === 'continue-as-new') {
      await this.notices.started();
      return this.continuation.continueAsNew();
    }
    const { state } = ctx;
    for (const step of Object.values(state.steps)) {
      if (!isSettled(step)) {
        step.status = 'cancelled';
        step.finishedAt = now();
        ctx.transitions.record({ type: 'step.cancelled', stepId: step.id, ...(ctx.ending?.error ? { error: ctx.ending.error } : {}) });
      }
    }
    state.held = [];
    state.finishedAt = now();
    if (ctx.ending?.error) state.error = ctx.ending.error;
    this.status.publish();
    await condition(allHandlersFinished);
    ctx.transitions.close();
    this.notices.runFinished(state, ctx.ending?.crashed ?? false);
    await this.notices.started();
    switch (state.status) {
      case 'succeeded':
        return state;
      case 'cancelled':
        throw new CancelledFailure('run cancelled');
      case 'timed_out':
        throw ApplicationFailure.create({
          type: FailureType.RunTimedOut,
          message: state.error?.message ?? 'run timed out',
          nonRetryable: true,
          details: [state],
        });
      default:
        throw ApplicationFailure.create({
          type: ctx.ending?.crashed ? FailureType.RunCrashed : FailureType.RunFailed,
          message: state.error?.message ?? 'run failed',
          nonRetryable: true,
          details: [state],
        });
    }
  }
}
