import { ApplicationFailure } from '@temporalio/workflow';
import { RefusalType, type ApprovalCommand, type ApprovalDecision, type StepState } from '../contract';
import type { ApprovalWith } from '../spec/step-types';

/** A refused update: nothing is written to history and the caller gets the typed reason. */
export function refusal(type: keyof typeof RefusalType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: RefusalType[type], message, nonRetryable: true });
}

/** Why `actor` may not take this decision, or undefined when they may. */
export function decisionRefusal(
  decision: ApprovalDecision['decision'],
  command: ApprovalCommand,
  approval: ApprovalWith,
  startedBy: string,
): ApplicationFailure | undefined {
  const { actor } = command;
  const named = approval.approvers.users.includes(actor.subject);
  const inRole = actor.roles.some((role) => approval.approvers.roles.includes(role));
  if (!named && !inRole) {
    return refusal('Forbidden', `${actor.subject} is not an approver of step ${command.stepId}`);
  }
  // Rejecting one's own run stays allowed: it can only stop it, which the starter may do anyway.
  if (decision === 'approved' && actor.subject === startedBy && !approval.allowSelfApproval) {
    return refusal('Forbidden', `${actor.subject} started this run and may not approve it`);
  }
  if (decision === 'rejected' && approval.requireRejectReason && !command.comment?.trim()) {
    return refusal('Invalid', `rejecting step ${command.stepId} requires a comment`);
  }
  return undefined;
}

export type ApprovalOutcome = 'approved' | 'rejected';

/** One rejection decides; otherwise `required` distinct approvers do. */
export function approvalOutcome(decisions: readonly ApprovalDecision[], required: number): ApprovalOutcome | undefined {
  if (decisions.some((d) => d.decision === 'rejected')) return 'rejected';
  const approvers = new Set(decisions.filter((d) => d.decision === 'approved').map((d) => d.by));
  return approvers.size >= required ? 'approved' : undefined;
}

/** Records a decision unless this actor already took the same one (repeating a decision counts once). */
export function recordDecision(step: StepState, decision: ApprovalDecision): void {
  const decisions = (step.approvals ??= []);
  if (decisions.some((d) => d.by === decision.by && d.decision === decision.decision)) return;
  decisions.push(decision);
}
