import { condition, log, patched } from '@temporalio/workflow';
import { decisionRefusal, type ApprovalCommand, type ApprovalDecision, type StepState } from '../contract';
import { parseDuration } from '../spec/duration';
import type { Step } from '../spec/schema';
import type { ApprovalWith } from '../spec/step-types';
import { approvalOutcome, approverRuleOf, recordDecision, refusal } from './approvals';
import type { CarriedPayload } from './carried-payload';
import { FailureType, stepFailure } from './failures';
import type { RunNotices } from './notices';
import type { StepPreparation } from './preparation';
import type { RunContext } from './run-context';
import { now } from './time';

/** Patch id: approve and reject answer once the step they settle has left waiting_approval. */
const ANSWER_WITH_SETTLED_STEP = 'answer-with-settled-step';

/**
 * Approval steps: waiting for decisions (on the run's own state, with the deadline as the
 * condition's timeout), and the approve and reject updates that bring them. Who may decide is
 * approvals.ts; telling approvers is notices.ts.
 */
export class ApprovalSteps {
  /** The rendered `with` of each approval waiting for decisions: decisions are validated against it. */
  private readonly waiting = new Map<string, ApprovalWith>();

  constructor(
    private readonly ctx: RunContext,
    private readonly preparation: StepPreparation,
    private readonly carried: CarriedPayload,
    private readonly notices: RunNotices,
  ) {}

  /** Renders the approvals a continued run was waiting on, so decisions for them can be validated at once. */
  async renderCarried(): Promise<void> {
    for (const step of this.ctx.input.spec.steps) {
      if (this.ctx.step(step.id).status === 'waiting_approval') {
        this.waiting.set(step.id, (await this.preparation.renderWith(step)) as ApprovalWith);
      }
    }
  }

  /** Waits for the approval's outcome: its output when approved, a failure when rejected or timed out. */
  async wait(step: Step, state: StepState, approval: ApprovalWith, resumed: boolean): Promise<unknown> {
    this.waiting.set(step.id, approval);
    // Reported in the state query, which the API reads to judge decisions before sending them.
    // Set again on replay and when a continued run resumes the wait: state is not history, so
    // recorded histories replay unchanged (runs recorded before it report it too once replayed).
    state.approvers = approverRuleOf(approval);
    if (!resumed) {
      state.status = 'waiting_approval';
      state.approvals = [];
      state.deadline = approvalDeadline(step, approval);
      this.carried.stepChanged(state);
      this.ctx.changed = true;
      await this.notices.approvalRequested(step, approval, state.deadline);
    }
    const decided = () => approvalOutcome(state.approvals ?? [], approval.required) !== undefined;
    this.ctx.awaitingDecision.add(step.id);
    this.ctx.changed = true;
    try {
      if (state.deadline === undefined) await condition(decided);
      else {
        const remaining = Date.parse(state.deadline) - Date.now();
        if (remaining > 0) await condition(decided, remaining);
      }
    } finally {
      this.ctx.awaitingDecision.delete(step.id);
      this.waiting.delete(step.id);
    }
    const decisions = state.approvals ?? [];
    const approvedBy = decisions.filter((d) => d.decision === 'approved').map((d) => d.by);
    const outcome = approvalOutcome(decisions, approval.required);
    this.ctx.transitions.record(
      outcome
        ? { type: 'approval.settled', stepId: step.id, outcome }
        : { type: 'approval.timed_out', stepId: step.id, outcome: timeoutOutcomes[approval.onTimeout] },
    );
    this.notices.approvalSettled(step, state, outcome ?? 'timed_out', approval);
    switch (outcome) {
      case 'approved':
        return { approved: true, approvedBy };
      case 'rejected': {
        const rejection = decisions.find((d) => d.decision === 'rejected')!;
        const reason = rejection.comment ? `: ${rejection.comment}` : '';
        throw stepFailure(FailureType.Rejected, `step ${step.id} rejected by ${rejection.by}${reason}`);
      }
      default:
        return timedOut(step, approval, approvedBy);
    }
  }

  /** The approve and reject validators: a refusal writes nothing to history. */
  validateDecision(decision: ApprovalDecision['decision'], command: ApprovalCommand): void {
    const step = this.ctx.state.steps[command.stepId];
    if (!step) throw refusal('NotFound', `no step ${command.stepId}`);
    const approval = this.waiting.get(command.stepId);
    if (step.status !== 'waiting_approval' || !approval) {
      throw refusal('Conflict', `step ${command.stepId} is not waiting for approval (it is ${step.status})`);
    }
    const refused = decisionRefusal(decision, command, approverRuleOf(approval), this.ctx.input.startedBy);
    if (refused) throw refusal(refused.type, refused.message);
  }

  async decide(decision: ApprovalDecision['decision'], command: ApprovalCommand): Promise<StepState> {
    try {
      const step = this.ctx.step(command.stepId);
      const { required } = this.waiting.get(step.id)!;
      recordDecision(step, { decision, by: command.actor.subject, at: now(), comment: command.comment });
      this.carried.stepChanged(step);
      log.info('approval decision', { stepId: step.id, decision, by: command.actor.subject });
      this.ctx.changed = true;
      // The decision that settles the approval is answered with the step as the run leaves it
      // (succeeded, failed, held), not as it was while waiting. Runs recorded before answered at once.
      if (approvalOutcome(step.approvals ?? [], required) !== undefined && patched(ANSWER_WITH_SETTLED_STEP)) {
        await condition(() => step.status !== 'waiting_approval');
      }
      return step;
    } catch (error) {
      throw this.ctx.guard.updateFailure(error, decision === 'approved' ? 'approve' : 'reject');
    }
  }
}

const timeoutOutcomes = { approve: 'approved', reject: 'rejected', fail: 'failed' } as const;

function timedOut(step: Step, approval: ApprovalWith, approvedBy: string[]): unknown {
  switch (approval.onTimeout) {
    case 'approve':
      return { approved: true, approvedBy, timedOut: true };
    case 'reject':
      throw stepFailure(FailureType.Rejected, `step ${step.id} was not approved in time and is rejected`);
    case 'fail':
      throw stepFailure(FailureType.ApprovalTimeout, `step ${step.id} was not approved in time`);
  }
}

/** The earlier of the approval's own timeout and the step's timeout, as an absolute time. */
function approvalDeadline(step: Step, approval: ApprovalWith): string | undefined {
  const limits = [approval.timeout, step.timeout].flatMap((d) => (d ? [parseDuration(d)!] : []));
  return limits.length === 0 ? undefined : new Date(Date.now() + Math.min(...limits)).toISOString();
}
