import { condition, sleep } from '@temporalio/workflow';
import type { Group, Step } from '../spec/schema';
import { admit, admitWithinExpressionBudget } from './admission';
import type { Continuation } from './continuation';
import { dependenciesVerdict } from './graph';
import type { GroupSystem } from './groups';
import type { StepPreparation } from './preparation';
import { ignoreCancellation, type RunContext } from './run-context';
import type { RunStatusPublisher } from './run-status';
import type { StepSettlement } from './settlement';
import type { StepExecution } from './step-execution';

/** How scheduling ended: every step settled (or the run is ending), or the run drained to continue as new. */
export type Outcome = 'finished' | 'continue-as-new';

/**
 * The scheduler: starts what is ready, within the run's cap and the workflow task's expression
 * budget (admission.ts), skips what an upstream failure ruled out, and waits for anything to change.
 * All bookkeeping is plain memory: the only commands a step costs are its own activity or timer.
 */
export class Scheduler {
  private wakeArmed = false;

  constructor(
    private readonly ctx: RunContext,
    private readonly preparation: StepPreparation,
    private readonly execution: StepExecution,
    private readonly settlement: StepSettlement,
    private readonly groups: GroupSystem,
    private readonly status: RunStatusPublisher,
    private readonly continuation: Continuation,
  ) {}

  async schedule(): Promise<Outcome> {
    const { ctx } = this;
    this.resumeCarriedWork();
    for (;;) {
      // An ending run starts and skips nothing more: what is left is cancelled when it finishes.
      if (ctx.ending) return 'finished';
      this.advance();
      this.status.publish();
      if (ctx.inFlight.size === 0 && ctx.pending.length === 0 && ctx.state.held.length === 0) return 'finished';
      ctx.draining ||= this.continuation.due();
      if (ctx.draining && [...ctx.inFlight].every((id) => ctx.awaitingDecision.has(id))) return 'continue-as-new';
      ctx.transitions.flush();
      await condition(() => ctx.changed || ctx.ending !== undefined);
      ctx.changed = false;
    }
  }

  /**
   * Starts every ready step and skips every step an upstream failure ruled out. Pending steps are in
   * dependency order, so a skip is seen by the dependants later in the same pass.
   */
  private advance(): void {
    const { ctx } = this;
    const ready: Step[] = [];
    for (const id of [...ctx.pending]) {
      // A group decided earlier in this pass may have skipped a step still in the copy.
      if (ctx.step(id).status !== 'pending') continue;
      const step = ctx.graph.steps.get(id)!;
      const verdict = dependenciesVerdict(step, ctx.graph, ctx.state);
      if (verdict === 'blocked') this.settlement.skip(id, 'upstream');
      else if (verdict === 'satisfied' && !ctx.state.paused && !ctx.draining && !ctx.ending) ready.push(step);
    }
    const { admitted, deferred } = admitWithinExpressionBudget(
      admit(ready, this.slotsTaken(), ctx.maxStepsInFlight),
      (step) => this.preparation.expressionCost(step),
      this.preparation.taskExhausted(),
    );
    this.startAll(admitted, false);
    if (deferred > 0 && this.slotsTaken() === 0) this.wakeInNextTask();
  }

  /**
   * Steps held back for the expression budget start in a later workflow task. One comes with any
   * activity or timer that completes; when none is pending, a one-millisecond timer brings it.
   */
  private wakeInNextTask(): void {
    if (this.wakeArmed) return;
    this.wakeArmed = true;
    sleep(1, { summary: 'expression budget' }).then(() => {
      this.wakeArmed = false;
      this.ctx.changed = true;
    }, ignoreCancellation);
  }

  /** Steps holding a Temporal activity or timer: those in flight, less approvals waiting for decisions (admission.ts). */
  private slotsTaken(): number {
    return this.ctx.inFlight.size - this.ctx.awaitingDecision.size;
  }

  /**
   * Starts steps. The scheduler itself runs in the run scope; members of a group start inside their
   * group's scope, all at once. Every promise a workflow creates costs a captured stack trace (the
   * SDK's stack-trace query), so steps get no wrappers of their own: one `scope.run` per group.
   */
  private startAll(steps: readonly Step[], resumed: boolean): void {
    const byGroup = new Map<Group, Step[]>();
    for (const step of steps) {
      const group = this.ctx.graph.groupOf(step.id);
      if (group && !this.groups.isClosed(group)) byGroup.set(group, [...(byGroup.get(group) ?? []), step]);
      else this.start(step, resumed);
    }
    for (const [group, members] of byGroup) {
      // Nothing to wait for: the callback only starts the members inside the group's scope, and each
      // step settles through its own promise.
      void this.groups.scope(group).run(async () => {
        for (const step of members) this.start(step, resumed);
      });
    }
  }

  private start(step: Step, resumed: boolean): void {
    const { ctx } = this;
    ctx.removePending(step.id);
    ctx.inFlight.add(step.id);
    const task = this.execution.execute(step, resumed);
    // A step can settle before its first await (e.g. skipped by a closed group): then it is already gone.
    if (ctx.inFlight.has(step.id)) ctx.tasks.set(step.id, task);
  }

  /** What a continued run picks up: its groups' timers and the approvals it was waiting on. */
  private resumeCarriedWork(): void {
    this.groups.resumeTimers();
    const waiting = this.ctx.input.spec.steps.filter((step) => this.ctx.step(step.id).status === 'waiting_approval');
    this.startAll(waiting, true);
  }
}
