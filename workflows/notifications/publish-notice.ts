/** A publish someone should hear of; holds no secret. */
export interface PublishNotice {
  kind: 'publish_approval_requested' | 'publish_failed';
  /** The same on every attempt: `publish:<id>:<kind>`. */
  key: string;
  tenantId: string;
  publishId: string;
  templateId: string;
  templateName: string;
  templateVersion: number;
  target: string;
  requestedBy: string;
  /** Who may approve (publish_approval_requested). */
  approverRoles: string[];
  deadline?: string;
  /** What went wrong and what it left (publish_failed). */
  error?: { message: string; state?: string };
}

export const SEND_PUBLISH_NOTICE_WORKFLOW_TYPE = 'sendPublishNotice';

/** The activities a publish notice's delivery workflow calls (activities/notifications). */
export interface PublishNoticeActivities {
  /** The channels it goes to, each recorded as a pending delivery. */
  planPublishNotice(notice: PublishNotice): Promise<{ channelId: string; channelName: string }[]>;
  /** One attempt at one channel, unless a success is already recorded. */
  deliverPublishNoticeTo(notice: PublishNotice, channelId: string): Promise<void>;
  /** Records that a delivery gave up. */
  recordPublishNoticeGaveUp(notice: PublishNotice, channelId: string, reason: string): Promise<void>;
}
