import { patched, proxyActivities, sleep } from '@temporalio/workflow';
import type { StepState } from '../contract';
import { parseDuration } from '../spec/duration';
import type { Step } from '../spec/schema';
import { stepTypes, type ApprovalWith, type DelayWith, type TemplateWith } from '../spec/step-types';
import { stepActivityOptions } from './activity-options';
import type { ApprovalSteps } from './approval-steps';
import { FailureType, stepFailure } from './failures';
import type { ForEachSteps } from './for-each';
import type { TemplateSteps } from './template-steps';
import type { GroupSystem } from './groups';
import type { StepPreparation } from './preparation';
import type { RunContext } from './run-context';
import { now } from './time';
import type { StepSettlement } from './settlement';
import type { StepActivity, StepActivityResult } from './step-activity';

const stepActivities = proxyActivities<Record<string, StepActivity>>({ startToCloseTimeout: '5m' });

/**
 * Patch id: runs recorded before steps with expressions were prepared (condition, rendering) one at
 * a time, before they start, evaluated them side by side, so their activities were scheduled in the
 * order their evaluations happened to finish. Asked only for steps with expressions.
 */
const PREPARE_IN_TURN = 'prepare-in-turn';

/**
 * Runs one step from its start to its settlement: its activity, its timer (`delay`) or its wait for
 * decisions (`approval`).
 */
export class StepExecution {
  constructor(
    private readonly ctx: RunContext,
    private readonly preparation: StepPreparation,
    private readonly settlement: StepSettlement,
    private readonly groups: GroupSystem,
    private readonly approvals: ApprovalSteps,
    private readonly forEach: ForEachSteps,
    private readonly templates: TemplateSteps,
  ) {}

  /**
   * Runs one step to its end. Plain activity steps (no `when`, no templates: most steps, e.g. every
   * member of a fan-out) take a path without an async function: the SDK captures a stack trace for
   * every promise a workflow creates (its stack-trace query, ≈0.1 ms each), and an async wrapper
   * plus its `await` cost two promises per step where one `.then` costs one, as in a hand-written
   * `Promise.all` over activities (a 50-wide fan-out: 259 workflow promises before, 199 now, 158 by hand).
   *
   * Replay safety: both paths run the same code in the same microtask. The prologue runs
   * synchronously inside the scheduler's `start` as the async function's body does up to its first
   * await, and `.then` on the activity's promise continues one microtask after it settles, exactly
   * as `await` on a native promise does. So commands come in the same order (test/replay checks it).
   */
  execute(step: Step, resumed: boolean): Promise<void> {
    if (step.forEach) return this.executeForEach(step);
    const plainActivity = stepTypes[step.type].kind === 'activity' && step.when === undefined && !this.preparation.isTemplated(step);
    return plainActivity ? this.executePlainActivity(step) : this.executeAny(step, resumed);
  }

  private executePlainActivity(step: Step): Promise<void> {
    const state = this.ctx.step(step.id);
    let activity: Promise<StepActivityResult>;
    try {
      if (!this.begin(step, state, false)) return this.endNow(step, () => undefined);
      const params = this.preparation.validateWith(step, step.with);
      activity = stepActivities[step.type]!.executeWithOptions(
        stepActivityOptions(step, this.ctx.execution(step.id)),
        this.preparation.activityArgs(step, params),
      );
    } catch (error) {
      return this.endNow(step, () => this.settlement.threw(step, state, error));
    }
    return activity.then(
      (result) => {
        try {
          state.attempts = result.attempt;
          this.settlement.succeed(step, state, result.output);
        } catch (error) {
          this.settlement.threw(step, state, error);
        } finally {
          this.done(step);
        }
      },
      (error: unknown) => {
        try {
          this.settlement.threw(step, state, error);
        } finally {
          this.done(step);
        }
      },
    );
  }

  /**
   * Any step: a step with a condition or templates is prepared in turn with the other such steps
   * (evaluated and rendered before it starts; one its workflow task had no room left for goes back
   * to pending for the next task). Runs recorded before that evaluated them here, side by side.
   */
  private async executeAny(step: Step, resumed: boolean): Promise<void> {
    const state = this.ctx.step(step.id);
    try {
      let params: unknown;
      if (!resumed && this.preparation.hasExpressions(step) && patched(PREPARE_IN_TURN)) {
        const prepared = await this.preparation.inTurn(step);
        if (prepared === 'next-task') return this.requeue(step);
        if (prepared === 'skip') return this.settlement.settleSkipped(step.id, 'condition');
        if (!this.begin(step, state, false)) return;
        params = prepared.params;
      } else {
        if (!resumed && step.when !== undefined && !(await this.preparation.conditionHolds(step))) {
          return this.settlement.settleSkipped(step.id, 'condition');
        }
        if (!this.begin(step, state, resumed)) return;
        params = this.preparation.isTemplated(step) ? await this.preparation.renderWith(step) : this.preparation.validateWith(step, step.with);
      }
      let output: unknown;
      if (stepTypes[step.type].kind === 'activity') {
        const options = stepActivityOptions(step, this.ctx.execution(step.id));
        const result = await stepActivities[step.type]!.executeWithOptions(options, this.preparation.activityArgs(step, params));
        state.attempts = result.attempt;
        output = result.output;
      } else {
        output = await this.waitInWorkflow(step, state, params, resumed);
      }
      this.settlement.succeed(step, state, output);
    } catch (error) {
      this.settlement.threw(step, state, error);
    } finally {
      this.done(step);
    }
  }

  /**
   * A `forEach` step (for-each.ts): prepared in turn like any step with expressions (its list is
   * evaluated then), its items run by batch workflows. No recorded history has one.
   */
  private async executeForEach(step: Step): Promise<void> {
    const state = this.ctx.step(step.id);
    try {
      if (this.preparation.taskExhausted()) return this.requeue(step);
      if (!this.begin(step, state, false)) return;
      // Its items' activities are in its batches' histories, not the run's: the run's event stream hears of it here.
      this.ctx.transitions.record({ type: 'step.started', stepId: step.id });
      const { output, error } = await this.forEach.run(step, state);
      if (error) this.settlement.failWithOutput(step, state, error, output);
      else this.settlement.succeed(step, state, output);
    } catch (error) {
      this.settlement.threw(step, state, error);
    } finally {
      this.done(step);
    }
  }

  /** Puts a step that was not prepared back among the pending ones, in dependency order. */
  private requeue(step: Step): void {
    this.ctx.requeue(step.id);
    this.ctx.changed = true;
  }

  /** Marks a step running, or skips it when its group was decided meanwhile (then answers false). */
  private begin(step: Step, state: StepState, resumed: boolean): boolean {
    const group = this.ctx.graph.groupOf(step.id);
    if (group && this.groups.isClosed(group)) {
      this.settlement.settleSkipped(step.id, 'group');
      return false;
    }
    if (!resumed) {
      state.status = 'running';
      state.startedAt = now();
      if (group) this.groups.memberStarted(group);
    }
    return true;
  }

  /** Ends a step that never reached its activity; like an async function, a throw becomes a rejection. */
  private endNow(step: Step, end: () => void): Promise<void> {
    try {
      try {
        end();
      } finally {
        this.done(step);
      }
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private done(step: Step): void {
    this.ctx.inFlight.delete(step.id);
    this.ctx.tasks.delete(step.id);
    this.ctx.changed = true;
  }

  /** Steps that wait in the workflow itself: durable timers, human decisions and child runs. */
  private waitInWorkflow(step: Step, state: StepState, params: unknown, resumed: boolean): Promise<unknown> {
    state.attempts = 1;
    switch (stepTypes[step.type].kind) {
      case 'timer':
        return delay(step, params as DelayWith);
      case 'child':
        return this.templates.run(step, state, params as TemplateWith);
      default:
        return this.approvals.wait(step, state, params as ApprovalWith, resumed);
    }
  }
}

async function delay(step: Step, params: DelayWith): Promise<undefined> {
  const duration = parseDuration(params.duration)!;
  const timeout = step.timeout ? parseDuration(step.timeout)! : Infinity;
  if (timeout < duration) {
    await sleep(timeout, { summary: step.id });
    throw stepFailure(FailureType.StepTimeout, `step ${step.id} timed out after ${step.timeout}`);
  }
  await sleep(duration, { summary: step.id });
  return undefined;
}
