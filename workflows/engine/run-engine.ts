import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { RunInput, RunResult } from '../contract';
import { ApprovalSteps } from './approval-steps';
import { CarriedPayload } from './carried-payload';
import { Continuation } from './continuation';
import { FailureType } from './failures';
import { ForEachSteps } from './for-each';
import { TemplateSteps } from './template-steps';
import { GroupSystem } from './groups';
import { installControlHandlers, installDecisionHandlers } from './message-handlers';
import { RunNotices } from './notices';
import { OperatorControl } from './operator-control';
import { StepPreparation } from './preparation';
import { RunContext } from './run-context';
import { RunEnding } from './run-ending';
import { RunStatusPublisher } from './run-status';
import { Scheduler, type Outcome } from './scheduler';
import { StepSettlement } from './settlement';
import { StepExecution } from './step-execution';

/**
 * Interprets one run of a spec: a thin facade over one system per concern, all sharing the run's
 * context (run-context.ts):
 *
 * - scheduler.ts: what starts when (admission.ts: the cap and the expression budget);
 * - step-execution.ts, preparation.ts, settlement.ts: one step from its start to its settlement;
 * - approval-steps.ts: approvals waiting for decisions, and the decisions;
 * - for-each.ts (for-each-batch.ts): `forEach` steps, their items run by batch child workflows;
 * - template-steps.ts: `template` steps, a pinned version of another template run as a child run;
 * - groups.ts: group scopes, join policies and timers;
 * - run-ending.ts: the run's deadline and its end; continuation.ts: continue-as-new and what it carries;
 * - run-status.ts: the RunStatus search attribute; operator-control.ts and message-handlers.ts: updates;
 * - notices.ts: the run lifecycle notices (approvers told, run finished…).
 *
 * Replay safety: the order of commands depends only on the input, the results in history and the
 * order of updates. Any change that alters that order for histories already recorded must be
 * guarded with `patched()` (test/replay keeps recorded histories that catch it).
 */
export class RunEngine {
  private readonly ctx: RunContext;
  private readonly approvals: ApprovalSteps;
  private readonly control: OperatorControl;
  private readonly scheduler: Scheduler;
  private readonly ending: RunEnding;

  constructor(input: RunInput) {
    const ctx = new RunContext(input);
    const notices = new RunNotices(ctx);
    const status = new RunStatusPublisher(ctx);
    const preparation = new StepPreparation(ctx);
    // Settling a group's member lets the group decide, and a decided group skips its waiting members.
    const groups: GroupSystem = new GroupSystem(ctx, (id, reason) => settlement.skip(id, reason));
    const carried = new CarriedPayload(ctx);
    const settlement = new StepSettlement(ctx, groups, carried, notices);
    const continuation = new Continuation(ctx, status, groups.deadlines, carried);
    this.ctx = ctx;
    this.approvals = new ApprovalSteps(ctx, preparation, carried, notices);
    this.control = new OperatorControl(ctx, settlement, carried, status);
    const execution = new StepExecution(ctx, preparation, settlement, groups, this.approvals, new ForEachSteps(ctx, preparation), new TemplateSteps(ctx));
    this.scheduler = new Scheduler(ctx, preparation, execution, settlement, groups, status, continuation);
    this.ending = new RunEnding(ctx, status, continuation, notices);
  }

  /** The query and control updates; installed before the first await so that early updates are not lost. */
  installHandlers(): void {
    installControlHandlers(this.ctx, this.control);
  }

  /** Runs the run to its end; an error of the engine's own on this run's data ends it crashed (crash-guard.ts). */
  async execute(): Promise<RunResult> {
    const { ctx } = this;
    let outcome: Outcome = 'finished';
    try {
      await installDecisionHandlers(this.approvals);
      outcome = await ctx.runScope.run(() => {
        this.ending.armDeadline();
        return this.scheduler.schedule();
      });
    } catch (error) {
      if (isCancellation(error)) ctx.end({ status: 'cancelled', error: { type: FailureType.Cancelled, message: 'run cancelled' } });
      else ctx.guard.crashed(error, 'while scheduling');
    }
    try {
      return await CancellationScope.nonCancellable(() => this.ending.finish(outcome));
    } catch (error) {
      throw ctx.guard.finishFailure(error, ctx.state);
    }
  }
}
