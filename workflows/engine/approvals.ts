import { ApplicationFailure } from '@temporalio/workflow';
import { RefusalType, type ApprovalDecision, type ApproverRule, type StepState } from '../contract';
import type { ApprovalWith } from '../spec/step-types';

/** A refused update: nothing is written to history and the caller gets the typed reason. */
export function refusal(type: keyof typeof RefusalType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: RefusalType[type], message, nonRetryable: true });
}

/** The part of an approval's rendered `with` that says who may decide, as the run reports it. */
export function approverRuleOf(approval: ApprovalWith): ApproverRule {
  return {
    users: approval.approvers.users,
    roles: approval.approvers.roles,
    required: approval.required,
    allowSelfApproval: approval.allowSelfApproval,
    requireRejectReason: approval.requireRejectReason,
  };
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
