import { CancellationScope, sleep } from '@temporalio/workflow';
import type { StepError, StepState } from '../contract';
import type { Group } from '../spec/schema';
import { FailureType } from './failures';
import { groupOutcome } from './graph';
import { ignoreCancellation, isSettled, type RunContext } from './run-context';
import { afterMs } from './time';

export type SkipStep = (id: string, reason: NonNullable<StepState['skipReason']>) => void;

/**
 * Groups: their cancellation scopes, their join policies and their timers. Members of a group run
 * in the group's scope, so closing the group (its join decided early, or its deadline passed)
 * cancels the members still running and skips those that have not started.
 */
export class GroupSystem {
  private readonly scopes = new Map<string, CancellationScope>();
  private readonly timers = new Map<string, CancellationScope>();
  /** Deadlines (ISO) of the groups that started and have not finished: carried across continue-as-new. */
  readonly deadlines: Map<string, string>;
  private readonly closed = new Set<string>();
  /** Why a running step is being cancelled, when it is not the run ending (e.g. a group timeout). */
  private readonly cancelReasons = new Map<string, StepError>();

  constructor(
    private readonly ctx: RunContext,
    private readonly skip: SkipStep,
  ) {
    this.deadlines = new Map(ctx.carriedGroupDeadlines);
  }

  isClosed(group: Group): boolean {
    return this.closed.has(group.id);
  }

  /** Why the group's decision cancelled this step, if it did. */
  cancelReason(stepId: string): StepError | undefined {
    return this.cancelReasons.get(stepId);
  }

  scope(group: Group): CancellationScope {
    let scope = this.scopes.get(group.id);
    if (!scope) {
      scope = new CancellationScope({ cancellable: true, parent: this.ctx.runScope });
      this.scopes.set(group.id, scope);
    }
    return scope;
  }

  /** A member started: the group's deadline starts with its first member. */
  memberStarted(group: Group): void {
    if (!group.timeout || this.deadlines.has(group.id)) return;
    const deadline = afterMs(group.timeout);
    this.deadlines.set(group.id, deadline);
    this.armTimer(group, deadline);
  }

  /** Re-arms the timers of groups that were running when the run continued as new. */
  resumeTimers(): void {
    for (const [groupId, deadline] of this.deadlines) this.armTimer(this.ctx.graph.groups.get(groupId)!, deadline);
  }

  /** Decides a group once its join policy allows, cancelling what the decision makes pointless. */
  decide(group: Group): void {
    if (this.closed.has(group.id)) return;
    const outcome = groupOutcome(group, this.ctx.state);
    if (outcome === undefined) return;
    const unsettled = group.steps.filter((id) => !isSettled(this.ctx.step(id)));
    if (unsettled.length === 0) {
      this.closed.add(group.id);
      this.stopTimer(group);
    } else {
      const error =
        group.join === 'any'
          ? { type: FailureType.GroupAny, message: `group ${group.id} already succeeded` }
          : { type: FailureType.GroupFailFast, message: `a step of group ${group.id} failed` };
      this.ctx.transitions.recordCause({ type: 'group.closed', groupId: group.id, error });
      this.close(group, error);
    }
  }

  private armTimer(group: Group, deadline: string): void {
    const timer = new CancellationScope({ cancellable: true, parent: this.ctx.runScope });
    this.timers.set(group.id, timer);
    const remaining = Math.max(Date.parse(deadline) - Date.now(), 1);
    timer
      .run(() => sleep(remaining, { summary: `group ${group.id} timeout` }))
      .then(() => this.ctx.guard.run(`timing out group ${group.id}`, () => this.timedOut(group)), ignoreCancellation);
  }

  private timedOut(group: Group): void {
    const error = { type: FailureType.GroupTimeout, message: `group ${group.id} timed out after ${group.timeout}` };
    this.ctx.transitions.recordCause({ type: 'group.timed_out', groupId: group.id, error });
    this.close(group, error);
    this.ctx.end({ status: 'failed', error });
  }

  /** Cancels the group's running members and skips those that have not started. */
  private close(group: Group, reason: StepError): void {
    this.closed.add(group.id);
    this.stopTimer(group);
    for (const id of group.steps) {
      const member = this.ctx.step(id);
      if (member.status === 'pending' && !this.ctx.inFlight.has(id)) this.skip(id, 'group');
      else if (!isSettled(member)) this.cancelReasons.set(id, reason);
    }
    this.scopes.get(group.id)?.cancel();
    this.ctx.changed = true;
  }

  private stopTimer(group: Group): void {
    this.timers.get(group.id)?.cancel();
    this.timers.delete(group.id);
    this.deadlines.delete(group.id);
  }
}
