import type { NoticeKind } from '../contract';
import type { StepNotify, StepNotifyEvent } from '../spec/notify';

/**
 * A notice: what happened to a run that someone should hear of. It is the input of its delivery
 * workflow (`sendNotice`), so it holds no secret and nothing a person's address is made from: the
 * delivery activities resolve channels, people and addresses when they send.
 */
export interface Notice {
  /**
   * The event key: the same for every attempt and every channel of this notice, and the delivery
   * workflow's id, so a second start of the same notice is refused by Temporal.
   */
  key: string;
  kind: NoticeKind;
  tenantId: string;
  /** When it happened (ISO). */
  at: string;
  run: NoticeRun;
  step?: { id: string; name?: string };
  /** For approval notices: who may decide, and until when. */
  approval?: NoticeApproval;
  /** For approval_settled: how it was settled. */
  decision?: { outcome: 'approved' | 'rejected' | 'timed_out'; by: string[]; comment?: string };
  /** For run_failed, run_held, run_timed_out, step_failed: what went wrong. */
  error?: { message: string; type?: string };
  /**
   * The step's own settings (its spec's `notify`), on the notices of a step that has them: where
   * `on` names the notice's kind, its channels and mentions add to the subscribed ones. A reminder
   * made from an approval request keeps them, and is told there only if `on` names it too.
   */
  notify?: NoticeStepSettings;
}

export interface NoticeStepSettings {
  on: NoticeKind[];
  /** Channel names in the notice's tenant. */
  channels: string[];
  mention?: { users: string[]; roles: string[] };
}

/** The notice kind each moment a step's `notify.on` can name is told as. */
export const STEP_NOTIFY_NOTICES: Record<StepNotifyEvent, NoticeKind> = {
  failed: 'step_failed',
  succeeded: 'step_succeeded',
  held: 'run_held',
  approval_requested: 'approval_requested',
  approval_reminder: 'approval_reminder',
  approval_settled: 'approval_settled',
};

/** A step's `notify` as its notices carry it. */
export function noticeStepSettings(notify: StepNotify): NoticeStepSettings {
  return {
    on: notify.on.map((event) => STEP_NOTIFY_NOTICES[event]),
    channels: notify.channels,
    ...(notify.mention ? { mention: notify.mention } : {}),
  };
}

/** The step's settings that apply to this notice (its kind is one the step asked for), if any. */
export function stepSettingsFor(notice: Notice): NoticeStepSettings | undefined {
  return notice.notify?.on.includes(notice.kind) ? notice.notify : undefined;
}

export interface NoticeRun {
  /** The run id (its workflow id), which the API's run URLs use. */
  id: string;
  templateId: string;
  templateName: string;
  templateVersion: number;
  startedBy: string;
}

export interface NoticeApproval {
  users: string[];
  roles: string[];
  required: number;
  message?: string;
  deadline?: string;
  /** When to remind the approvers that have not decided (approval_reminder); none when absent. */
  remindAt?: string;
}

export const SEND_NOTICE_WORKFLOW_TYPE = 'sendNotice';

/**
 * The event key of a notice: the run, the kind and, for step notices, the step's execution
 * (`deploy`, `deploy#2` after an operator re-ran it), so a notice happens once per thing noticed.
 */
export function noticeKey(runId: string, kind: NoticeKind, stepExecution?: string): string {
  return stepExecution === undefined ? `notice:${runId}:${kind}` : `notice:${runId}:${kind}:${stepExecution}`;
}

/** One channel a notice goes to, as the planning activity found it. */
export interface NoticeTarget {
  channelId: string;
  channelName: string;
}

/** What a channel's receiver said to a delivery. */
export interface DeliveryOutcome {
  status: 'succeeded';
  /** The receiver's answer (status and the start of its body, or the SMTP server's reply). */
  answer: string;
  /** The delivery had already succeeded before this attempt: nothing was sent again. */
  alreadyDelivered: boolean;
}

/** The activities a notice's delivery workflow calls (activities/notifications). */
export interface NoticeActivities {
  /** The channels the notice goes to (its tenant's and template's subscriptions), each recorded as a pending delivery. */
  planNoticeDeliveries(notice: Notice): Promise<NoticeTarget[]>;
  /** Sends the notice to one channel, unless a success is already recorded; records every attempt. */
  deliverNotice(notice: Notice, channelId: string): Promise<DeliveryOutcome>;
  /** Records that a delivery gave up (its retries ran out, or the receiver refused it for good). */
  recordDeliveryGaveUp(notice: Notice, channelId: string, reason: string): Promise<void>;
  /** Whether the run's approval step still waits for decisions (reminders are sent only then). */
  isApprovalPending(runId: string, stepId: string): Promise<boolean>;
}

/** Failure types of the delivery activities. */
export const DeliveryErrorType = {
  /** The receiver refused the message in a way a retry would not change (a 4xx, a bad signature). */
  Refused: 'DeliveryRefused',
  /** The channel was deleted, or its settings or secrets are missing or invalid. */
  ChannelUnusable: 'ChannelUnusable',
} as const;
