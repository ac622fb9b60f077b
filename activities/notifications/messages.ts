import type { Locale, MentioningKind } from '../../apps/common/notifications/channels';
import type { AlertKind } from '../../workflows/contract';
import type { Notice } from '../../workflows/notifications/notice';
import type { PublishNotice } from '../../workflows/notifications/publish-notice';
import type { InspectionAlert } from '../dolphinscheduler/inspections';

/**
 * Notices written for people, in a channel's locale. One Message is rendered by every format
 * (formats/*): a title, a few lines, a link to the run, and the people it is for, whom a format
 * mentions or mails where it can.
 */

/** Someone a notice is for, as the tenant's directory knows them. */
export interface Recipient {
  subject: string;
  displayName: string;
  email?: string;
  /** User ids per IM kind, for mentions. */
  imIds: Partial<Record<MentioningKind, string>>;
}

export interface Message {
  /** The notice's event key: the same on every attempt, so receivers can deduplicate. */
  eventKey: string;
  kind: Notice['kind'] | AlertKind | 'test';
  locale: Locale;
  title: string;
  lines: string[];
  link?: { label: string; url: string };
  recipients: Recipient[];
  /** What the generic webhook sends as data: the notice itself (it holds no secret). */
  data: object;
}

interface Texts {
  title(notice: Notice): string;
  lines(notice: Notice): string[];
  openRun: string;
  testTitle: string;
  testLine(channel: string): string;
}

const run = (notice: Notice) => `${notice.run.templateName} v${notice.run.templateVersion}`;
const step = (notice: Notice) => notice.step?.name ?? notice.step?.id ?? '';
const list = (items: string[], none: string) => (items.length > 0 ? items.join(', ') : none);

const en: Texts = {
  title(notice) {
    switch (notice.kind) {
      case 'approval_requested':
        return `Approval needed: ${run(notice)}, step ${step(notice)}`;
      case 'approval_reminder':
        return `Reminder, approval still needed: ${run(notice)}, step ${step(notice)}`;
      case 'approval_settled':
        return `Approval ${decisionWord(notice, 'en')}: ${run(notice)}, step ${step(notice)}`;
      case 'run_failed':
        return `Run failed: ${run(notice)}`;
      case 'run_held':
        return `Run held, a step needs an operator: ${run(notice)}, step ${step(notice)}`;
      case 'run_timed_out':
        return `Run timed out: ${run(notice)}`;
      case 'run_succeeded':
        return `Run succeeded: ${run(notice)}`;
      case 'step_failed':
        return `Step failed: ${run(notice)}, step ${step(notice)}`;
      case 'step_succeeded':
        return `Step succeeded: ${run(notice)}, step ${step(notice)}`;
    }
  },
  lines(notice) {
    const lines = [`Run ${notice.run.id}, started by ${notice.run.startedBy}.`];
    const approval = notice.approval;
    if (approval && (notice.kind === 'approval_requested' || notice.kind === 'approval_reminder')) {
      if (approval.message) lines.push(approval.message);
      lines.push(
        `Needed: ${approval.required} approval${approval.required === 1 ? '' : 's'} from ${list(
          [...approval.users, ...approval.roles.map((role) => `role ${role}`)],
          'the approvers',
        )}.`,
      );
      if (approval.deadline) lines.push(`Decide before ${approval.deadline}.`);
    }
    if (notice.decision) {
      const by = list(notice.decision.by, 'nobody');
      lines.push(notice.decision.outcome === 'timed_out' ? `No decision came in time (approved by ${by}).` : `Decided by ${by}.`);
      if (notice.decision.comment) lines.push(`Comment: ${notice.decision.comment}`);
    }
    if (notice.error) lines.push(`Error: ${notice.error.message}`);
    if (notice.kind === 'run_held') lines.push('Retry or skip the held step to let the run go on.');
    return lines;
  },
  openRun: 'Open the run',
  testTitle: 'flowpilot test message',
  testLine: (channel) => `This channel (${channel}) is set up: flowpilot notices will arrive here.`,
};

const zhCN: Texts = {
  title(notice) {
    switch (notice.kind) {
      case 'approval_requested':
        return `待审批：${run(notice)}，步骤 ${step(notice)}`;
      case 'approval_reminder':
        return `提醒，仍待审批：${run(notice)}，步骤 ${step(notice)}`;
      case 'approval_settled':
        return `审批${decisionWord(notice, 'zh-CN')}：${run(notice)}，步骤 ${step(notice)}`;
      case 'run_failed':
        return `运行失败：${run(notice)}`;
      case 'run_held':
        return `运行已挂起，步骤需要处理：${run(notice)}，步骤 ${step(notice)}`;
      case 'run_timed_out':
        return `运行超时：${run(notice)}`;
      case 'run_succeeded':
        return `运行成功：${run(notice)}`;
      case 'step_failed':
        return `步骤失败：${run(notice)}，步骤 ${step(notice)}`;
      case 'step_succeeded':
        return `步骤成功：${run(notice)}，步骤 ${step(notice)}`;
    }
  },
  lines(notice) {
    const lines = [`运行 ${notice.run.id}，由 ${notice.run.startedBy} 发起。`];
    const approval = notice.approval;
    if (approval && (notice.kind === 'approval_requested' || notice.kind === 'approval_reminder')) {
      if (approval.message) lines.push(approval.message);
      lines.push(
        `需要 ${list([...approval.users, ...approval.roles.map((role) => `角色 ${role}`)], '审批人')} 中 ${approval.required} 人批准。`,
      );
      if (approval.deadline) lines.push(`请在 ${approval.deadline} 之前处理。`);
    }
    if (notice.decision) {
      const by = list(notice.decision.by, '无');
      lines.push(notice.decision.outcome === 'timed_out' ? `未在期限内完成审批（已批准：${by}）。` : `处理人：${by}。`);
      if (notice.decision.comment) lines.push(`备注：${notice.decision.comment}`);
    }
    if (notice.error) lines.push(`错误：${notice.error.message}`);
    if (notice.kind === 'run_held') lines.push('请重试或跳过挂起的步骤，运行才会继续。');
    return lines;
  },
  openRun: '查看运行',
  testTitle: 'flowpilot 测试消息',
  testLine: (channel) => `此通道（${channel}）已配置完成，flowpilot 的通知将发送到这里。`,
};

const TEXTS: Record<Locale, Texts> = { en, 'zh-CN': zhCN };

function decisionWord(notice: Notice, locale: Locale): string {
  const outcome = notice.decision?.outcome ?? 'approved';
  const words = {
    en: { approved: 'approved', rejected: 'rejected', timed_out: 'timed out' },
    'zh-CN': { approved: '已通过', rejected: '已拒绝', timed_out: '已超时' },
  } as const;
  return words[locale][outcome];
}

/** An address for people: PUBLIC_BASE_URL and an API resource's path. */
function linkTo(publicBaseUrl: string, path: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}${path}`;
}

/** The run's address for people. */
export function runLink(publicBaseUrl: string, runId: string): string {
  return linkTo(publicBaseUrl, `/api/v1/runs/${encodeURIComponent(runId)}`);
}

/** A message about `subject` in one language's texts: every notice's, alert's and publish's shape. */
function messageOf<Subject extends object>(
  subject: Subject,
  texts: { title(subject: Subject): string; lines(subject: Subject): string[] },
  head: Pick<Message, 'eventKey' | 'kind' | 'locale' | 'recipients'>,
  link: Message['link'],
): Message {
  return { ...head, title: texts.title(subject), lines: texts.lines(subject), link, data: subject };
}

export function noticeMessage(notice: Notice, locale: Locale, recipients: Recipient[], publicBaseUrl: string): Message {
  const texts = TEXTS[locale];
  return messageOf(notice, texts, { eventKey: notice.key, kind: notice.kind, locale, recipients }, { label: texts.openRun, url: runLink(publicBaseUrl, notice.run.id) });
}

/** What `POST /api/v1/channels/:id/test` sends. */
export function testMessage(eventKey: string, locale: Locale, channelName: string): Message {
  const texts = TEXTS[locale];
  return {
    eventKey,
    kind: 'test',
    locale,
    title: texts.testTitle,
    lines: [texts.testLine(channelName)],
    recipients: [],
    data: { test: true, channel: channelName },
  };
}

/** Title, lines and link as plain text (e-mail, and formats without rich text). */
export function plainText(message: Message): string {
  const link = message.link ? [`${message.link.label}: ${message.link.url}`] : [];
  return [message.title, '', ...message.lines, ...link].join('\n');
}

/** Where people see a tenant's open findings: of the finding's template when it has one. */
export function findingsLink(publicBaseUrl: string, templateId: string | null): string {
  return linkTo(publicBaseUrl, templateId === null ? '/api/v1/inspections' : `/api/v1/inspections?templateId=${encodeURIComponent(templateId)}`);
}

const ALERT_TEXTS = {
  en: {
    title: (alert: InspectionAlert) => `Inspection finding (${alert.severity}): ${alert.summary}`,
    lines: (alert: InspectionAlert) => [
      `Rule ${alert.rule}${alert.templateName ? `, template ${alert.templateName}` : ''}${alert.target ? `, target ${alert.target}` : ''}.`,
      `Owner: ${alert.owner ?? 'none'}. First seen ${alert.firstSeenAt}, last seen ${alert.lastSeenAt}.`,
    ],
    open: 'Open the findings',
  },
  'zh-CN': {
    title: (alert: InspectionAlert) => `巡检发现（${alert.severity}）：${alert.summary}`,
    lines: (alert: InspectionAlert) => [
      `规则 ${alert.rule}${alert.templateName ? `，模板 ${alert.templateName}` : ''}${alert.target ? `，目标 ${alert.target}` : ''}。`,
      `负责人：${alert.owner ?? '无'}。首次发现 ${alert.firstSeenAt}，最近发现 ${alert.lastSeenAt}。`,
    ],
    open: '查看巡检结果',
  },
} as const satisfies Record<Locale, unknown>;

/** An inspection's finding, for its template's owner. */
export function inspectionMessage(alert: InspectionAlert, locale: Locale, recipients: Recipient[], publicBaseUrl: string): Message {
  const texts = ALERT_TEXTS[locale];
  return messageOf(alert, texts, { eventKey: alert.key, kind: 'inspection_finding', locale, recipients }, { label: texts.open, url: findingsLink(publicBaseUrl, alert.templateId) });
}

/** A publish's address for people: PUBLIC_BASE_URL and its API resource. */
export function publishLink(publicBaseUrl: string, publishId: string): string {
  return linkTo(publicBaseUrl, `/api/v1/publishes/${encodeURIComponent(publishId)}`);
}

const PUBLISH_TEXTS = {
  en: {
    title: (notice: PublishNotice) =>
      notice.kind === 'publish_failed'
        ? `Publish failed: ${notice.templateName} v${notice.templateVersion} to ${notice.target}`
        : `Approval needed to publish: ${notice.templateName} v${notice.templateVersion} to ${notice.target}`,
    lines: (notice: PublishNotice) => [
      `Requested by ${notice.requestedBy}.`,
      ...(notice.kind === 'publish_failed'
        ? [`Error: ${notice.error?.message ?? 'unknown'}`, ...(notice.error?.state ? [`State: ${notice.error.state}`] : [])]
        : [`Approvers: members of ${notice.approverRoles.join(', ')}.`, ...(notice.deadline ? [`Decide before ${notice.deadline}.`] : [])]),
    ],
    open: 'Open the publish',
  },
  'zh-CN': {
    title: (notice: PublishNotice) =>
      notice.kind === 'publish_failed'
        ? `发布失败：${notice.templateName} v${notice.templateVersion} 到 ${notice.target}`
        : `发布待审批：${notice.templateName} v${notice.templateVersion} 到 ${notice.target}`,
    lines: (notice: PublishNotice) => [
      `由 ${notice.requestedBy} 发起。`,
      ...(notice.kind === 'publish_failed'
        ? [`错误：${notice.error?.message ?? '未知'}`, ...(notice.error?.state ? [`状态：${notice.error.state}`] : [])]
        : [`审批人：角色 ${notice.approverRoles.join('、')} 的成员。`, ...(notice.deadline ? [`请在 ${notice.deadline} 之前决定。`] : [])]),
    ],
    open: '查看发布',
  },
} as const satisfies Record<Locale, unknown>;

/** A publish waiting for approval, or failed. */
export function publishMessage(notice: PublishNotice, locale: Locale, recipients: Recipient[], publicBaseUrl: string): Message {
  const texts = PUBLISH_TEXTS[locale];
  return messageOf(notice, texts, { eventKey: notice.key, kind: notice.kind, locale, recipients }, { label: texts.open, url: publishLink(publicBaseUrl, notice.publishId) });
}
