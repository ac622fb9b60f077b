import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Spec } from './spec/schema';

/**
 * The run workflow's public surface: its input, the state it reports, and the messages it takes.
 * The API and the worker both depend on this module and on nothing else of the workflow's insides.
 * Changing a shape here is a change to running workflows: keep it backwards compatible.
 */

export const RUN_WORKFLOW_TYPE = 'runTemplate';

export interface Actor {
  subject: string;
  roles: string[];
}

export interface RunInput {
  templateId: string;
  templateName: string;
  templateVersion: number;
  /** The pinned version's spec, parsed: later versions never change a run in flight. */
  spec: Spec;
  inputs: Record<string, unknown>;
  startedBy: string;
  /**
   * The tenant the run belongs to: its step activities read this tenant's secrets. Absent on runs
   * started before tenants existed.
   */
  tenantId?: string;
  /** State carried across continue-as-new; absent on the first run of the chain. */
  carried?: CarriedState;
  /** Engine limits; tests lower them to exercise continue-as-new without thousands of steps. */
  limits?: RunLimits;
  /**
   * The notices this run sends, decided by the API at start from its tenant's subscriptions. Absent
   * or empty, the run sends none (but those its steps ask for in their `notify`) and its history is
   * what it was before notifications existed.
   */
  notices?: RunNoticeKind[];
  /** Set on a run a `template` step started: the run and step that started it. */
  parent?: RunParent;
}

/**
 * What a run can notify people of, as its tenant's and template's subscriptions route them. Each
 * notice is delivered by a workflow of its own (`sendNotice`), so delivery never delays or fails the run.
 */
export const RUN_NOTICE_KINDS = [
  'approval_requested',
  'approval_reminder',
  'approval_settled',
  'run_failed',
  'run_held',
  'run_timed_out',
  'run_succeeded',
] as const;
export type RunNoticeKind = (typeof RUN_NOTICE_KINDS)[number];

/**
 * What one step ended with, sent only for steps whose spec asks for it (`notify`), to the channels
 * the step names: no subscription routes these, so a run's other steps never send them.
 */
export const STEP_NOTICE_KINDS = ['step_failed', 'step_succeeded'] as const;

/** Every kind a run's notice can be. */
export const NOTICE_KINDS = [...RUN_NOTICE_KINDS, ...STEP_NOTICE_KINDS] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

/**
 * What a tenant hears of apart from runs, subscribed to like the run notices: an inspection's
 * finding (alerted once per change by the inspection's activity itself) and a publish waiting for
 * approval or failed (by a delivery workflow of its own, sendPublishNotice).
 */
export const ALERT_KINDS = ['inspection_finding', 'publish_approval_requested', 'publish_failed'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** Every kind a subscription may route to channels. */
export const SUBSCRIBABLE_KINDS = [...RUN_NOTICE_KINDS, ...ALERT_KINDS] as const;
export type SubscribableKind = (typeof SUBSCRIBABLE_KINDS)[number];

/** Every kind a delivery can record: what subscriptions route, and the step notices. */
export const DELIVERED_KINDS = [...NOTICE_KINDS, ...ALERT_KINDS] as const;

/** Where a child run comes from: also in its memo under `parent`, which the API shows. */
export interface RunParent {
  runId: string;
  stepId: string;
}

/** The memo key under which a child run names its parent (RunParent). */
export const RUN_PARENT_MEMO_KEY = 'parent';

export interface RunLimits {
  /** Continue-as-new once the history holds this many events (Temporal may suggest it sooner). */
  continueAsNewAfterEvents?: number;
  /**
   * Steps holding Temporal resources (a pending activity or timer) at once; ready steps beyond it
   * wait their turn in dependency order. Default and bounds in workflows/engine/limits.ts.
   */
  maxStepsInFlight?: number;
}

export type StepStatus =
  | 'pending'
  | 'running'
  | 'waiting_approval'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'cancelled';

export type RunStatus =
  | 'running'
  | 'waiting_approval'
  | 'paused'
  | 'held'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'timed_out';

export interface StepError {
  message: string;
  /** The failure's type, e.g. "HttpServerError", "StepTimeout", "Rejected". */
  type?: string;
}

export interface ApprovalDecision {
  decision: 'approved' | 'rejected';
  by: string;
  at: string;
  comment?: string;
}

/**
 * Who may decide an approval step: its `with` as rendered when the step began to wait (approver
 * lists may be expressions). The run reports it in its state so that the API can judge a decision
 * before sending it, with the same rule (`decisionRefusal`) the run's update validator applies.
 */
export interface ApproverRule {
  users: string[];
  roles: string[];
  /** Distinct approvals that settle the step. */
  required: number;
  /** Whether the run's starter may approve it. */
  allowSelfApproval: boolean;
  requireRejectReason: boolean;
}

export interface StepState {
  id: string;
  type: string;
  status: StepStatus;
  /** Attempts made by the current execution of the step (Temporal activity attempts). */
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  output?: unknown;
  error?: StepError;
  /** Why a step was skipped: its condition was false, an upstream step failed, or an operator skipped it. */
  skipReason?: 'condition' | 'upstream' | 'operator' | 'group';
  approvals?: ApprovalDecision[];
  /** For approval steps, once they wait: who may decide. */
  approvers?: ApproverRule;
  /** For approval steps: when the approval times out (ISO time), if it does. */
  deadline?: string;
  /** For `template` steps, once their child run was started: its run id. */
  childRunId?: string;
  /** For `forEach` steps, once their list is known: how many items it holds and how many have ended how. */
  forEach?: ForEachProgress;
}

export interface ForEachProgress {
  total: number;
  succeeded: number;
  failed: number;
  /** Items whose `when` was false. */
  skipped: number;
}

export interface RunState {
  status: RunStatus;
  paused: boolean;
  /** Steps that failed with onError "pause" and wait for an operator to retry or skip them. */
  held: string[];
  steps: Record<string, StepState>;
  startedAt: string;
  finishedAt?: string;
  error?: StepError;
}

/** What continue-as-new carries: the state of the run so far. */
export interface CarriedState {
  state: RunState;
  /** Deadlines (ISO) of the run and of running approvals, kept across the chain. */
  runDeadline?: string;
  /** Deadlines (ISO) of groups that started and have not finished. */
  groupDeadlines?: Record<string, string>;
  /** How many times operators re-ran each step (retryStep), so activity ids stay unique across the chain. */
  executions?: Record<string, number>;
}

/**
 * Transitions the run's Temporal history does not show by itself (a skip, a failure decided in the
 * workflow, an approval settled, a group or the run timed out…). The workflow hands each workflow
 * task's transitions on in one memo upsert under RUN_TRANSITIONS_MEMO_KEY; the API reads them from
 * the history's WorkflowPropertiesModified events and publishes each as a run event of the same type.
 * Transitions history shows anyway (activities scheduled, completed, failed, cancelled; updates
 * accepted with their actor) are not repeated.
 */
export const RUN_TRANSITIONS_MEMO_KEY = 'transitions';

export const runTransitionTypes = [
  /** Only for steps the history shows no activity or timer of: `forEach` and `template` steps. */
  'step.started',
  'step.succeeded',
  'step.skipped',
  'step.failed',
  'step.cancelled',
  'step.held',
  'approval.settled',
  'approval.timed_out',
  'group.closed',
  'group.timed_out',
  'run.timed_out',
] as const;

export type RunTransitionType = (typeof runTransitionTypes)[number];

export interface RunTransition {
  type: RunTransitionType;
  /** Workflow time of the transition (ISO). */
  at: string;
  stepId?: string;
  groupId?: string;
  /** step.skipped: why (condition, upstream, group). */
  reason?: StepState['skipReason'];
  /** approval.settled: approved or rejected; approval.timed_out: what `onTimeout` made of it (approved, rejected, failed). */
  outcome?: 'approved' | 'rejected' | 'failed';
  /** Why the step failed or was cancelled, or the group or run timed out. */
  error?: StepError;
}

/** The workflow's result: the final state of every step. */
export type RunResult = RunState;

export interface ApprovalCommand {
  stepId: string;
  actor: Actor;
  comment?: string;
}

export interface StepCommand {
  stepId: string;
  actor: Actor;
}

export interface ControlCommand {
  actor: Actor;
  reason?: string;
}

export const stateQuery = defineQuery<RunState>('state');

/**
 * Decisions and control arrive as updates rather than signals: the caller gets a synchronous
 * answer (accepted, or refused with a typed reason) and a refused update writes nothing to history.
 */
export const approveUpdate = defineUpdate<StepState, [ApprovalCommand]>('approve');
export const rejectUpdate = defineUpdate<StepState, [ApprovalCommand]>('reject');
export const pauseUpdate = defineUpdate<RunState, [ControlCommand]>('pause');
export const resumeUpdate = defineUpdate<RunState, [ControlCommand]>('resume');
export const retryStepUpdate = defineUpdate<StepState, [StepCommand]>('retryStep');
export const skipStepUpdate = defineUpdate<StepState, [StepCommand]>('skipStep');

/** Why a decision is refused: its refusal type and a message naming the actor and the step. */
export interface DecisionRefusal {
  type: typeof RefusalType.Forbidden | typeof RefusalType.Invalid;
  message: string;
}

/**
 * Whether `command.actor` may take this decision on a step waiting under `rule`, in a run its
 * starter's credential named `startedBy`: the one rule, applied by the API before a decision is
 * sent and by the run's update validator on what reaches it. Undefined when it may.
 */
export function decisionRefusal(
  decision: ApprovalDecision['decision'],
  command: ApprovalCommand,
  rule: ApproverRule,
  startedBy: string,
): DecisionRefusal | undefined {
  const { actor } = command;
  const named = rule.users.includes(actor.subject);
  const inRole = actor.roles.some((role) => rule.roles.includes(role));
  if (!named && !inRole) {
    return { type: RefusalType.Forbidden, message: `${actor.subject} is not an approver of step ${command.stepId}` };
  }
  // Rejecting one's own run stays allowed: it can only stop it, which the starter may do anyway.
  if (decision === 'approved' && actor.subject === startedBy && !rule.allowSelfApproval) {
    return { type: RefusalType.Forbidden, message: `${actor.subject} started this run and may not approve it` };
  }
  if (decision === 'rejected' && rule.requireRejectReason && !command.comment?.trim()) {
    return { type: RefusalType.Invalid, message: `rejecting step ${command.stepId} requires a comment` };
  }
  return undefined;
}

/**
 * Failure types an update validator throws (as ApplicationFailure types), which the API maps to
 * HTTP statuses: Forbidden → 403, NotFound → 404, Conflict → 409, Invalid → 422.
 */
export const RefusalType = {
  Forbidden: 'Forbidden',
  NotFound: 'NotFound',
  Conflict: 'Conflict',
  Invalid: 'Invalid',
} as const;
