import type { PrismaClient } from '@prisma/client';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { MENTIONING_KINDS, type Locale, type MentioningKind } from '../../apps/common/notifications/channels';
import { personReachingChannels, subscribedChannels } from '../../apps/common/notifications/subscriptions';
import { stateQuery, type AlertKind } from '../../workflows/contract';
import {
  DeliveryErrorType,
  stepSettingsFor,
  type DeliveryOutcome,
  type Notice,
  type NoticeActivities,
  type NoticeTarget,
} from '../../workflows/notifications/notice';
import { SEND_PUBLISH_NOTICE_WORKFLOW_TYPE, type PublishNotice, type PublishNoticeActivities } from '../../workflows/notifications/publish-notice';
import type { ChannelTestActivities, ChannelTestResult } from '../../workflows/notifications/test-channel';
import type { InspectionAlert, InspectionAlertSender } from '../dolphinscheduler/inspections';
import type { PublishNoticeStarter } from '../dolphinscheduler/publish-activities';
import type { EgressPolicy, GuardedFetch } from '../egress';
import type { SecretResolver } from '../secrets';
import { loadChannel, type LoadedChannel } from './channels';
import { DeliveryFailure } from './delivery-failure';
import { messageRecipientsOf, peopleOf, recipientsOf } from './directory';
import { channelFormats, type ChannelFormat, type ChannelSettings } from './formats';
import { inspectionMessage, noticeMessage, publishMessage, testMessage, type Message, type Recipient } from './messages';

/** One attempt's deadline, well below the activity's start-to-close timeout (workflows/notifications/send-notice.ts). */
const ATTEMPT_TIMEOUT_MS = 20_000;

/** How much of an error or answer a delivery record keeps. */
const RECORD_CHARS = 1000;

export interface NotificationDependencies {
  logger: Logger;
  /** Channels, people, subscriptions and deliveries; a worker without a database delivers nothing (and says so). */
  prisma?: PrismaClient;
  secrets?: SecretResolver;
  fetch: GuardedFetch;
  egressPolicy: EgressPolicy;
  /** Where people open a run: PUBLIC_BASE_URL. */
  publicBaseUrl: string;
}

/**
 * The activities that deliver notices (workflows/notifications/send-notice.ts) and test channels.
 *
 * Exactly once per channel, as far as a recorded success goes: each attempt first reads the
 * delivery's record and sends nothing when it says succeeded, and a success is recorded before
 * the activity completes. Only a worker dying between a receiver's 2xx and that write can cause a
 * second send, and it carries the same event key, so a receiver that deduplicates drops it.
 */
export function createNotificationActivities(
  deps: NotificationDependencies,
): NoticeActivities & ChannelTestActivities & PublishNoticeActivities & { deliverInspectionAlert: InspectionAlertSender; startPublishNotice: PublishNoticeStarter } {
  const logger = deps.logger.child({ component: 'notifications' });
  const database = (): PrismaClient => {
    if (deps.prisma) return deps.prisma;
    throw ApplicationFailure.nonRetryable('this worker has no DATABASE_URL, so it cannot deliver notices', DeliveryErrorType.ChannelUnusable);
  };

  return {
    async planNoticeDeliveries(notice: Notice): Promise<NoticeTarget[]> {
      const prisma = database();
      // Read by any kind: step notices (step_failed, step_succeeded) are never subscribed, so they find none.
      const routes: ReadonlyMap<string, string[]> = await subscribedChannels(prisma, notice.tenantId, notice.run.templateId);
      const subscribed = routes.get(notice.kind) ?? [];
      const channelIds = [...new Set([...subscribed, ...(await approverChannels(prisma, notice)), ...(await stepChannels(prisma, notice))])];
      return planDeliveries(prisma, { tenantId: notice.tenantId, key: notice.key, kind: notice.kind, subject: notice.run.id, stepId: notice.step?.id ?? null }, channelIds);
    },

    async deliverNotice(notice: Notice, channelId: string): Promise<DeliveryOutcome> {
      const prisma = database();
      const log = logger.child({ eventKey: notice.key, kind: notice.kind, runId: notice.run.id, attempt: Context.current().info.attempt });
      return attemptDelivery(prisma, notice.key, notice.tenantId, channelId, log, async (channel) =>
        noticeMessage(notice, channel.locale, await messageRecipientsOf(prisma, notice), deps.publicBaseUrl),
      );
    },

    /**
     * Sends an inspection's finding (the inspections' `sendAlert`, wired in activities/index.ts) to its template's owner, with
     * `inspection:<findingId>` in place of a run. Rejects (retryable) when a channel may take it
     * later, so the finding stays unalerted and the next inspection tries those again (those that
     * took it are not sent it again). A channel that refused it for good (a bad signing key, a
     * deleted channel) is recorded as given up for this alert, as a run's notice is, and neither
     * fails the alert nor is tried again for it.
     */
    async deliverInspectionAlert(alert: InspectionAlert): Promise<void> {
      const { transient } = await deliverTenantNotice({
        key: alert.key,
        kind: 'inspection_finding',
        tenantId: alert.tenantId,
        templateId: alert.templateId,
        subject: inspectionSubject(alert.findingId),
        people: { users: alert.owner === null ? [] : [alert.owner], roles: [] },
        messageFor: (locale, recipients) => inspectionMessage(alert, locale, recipients, deps.publicBaseUrl),
      });
      if (transient.length > 0) {
        throw ApplicationFailure.create({ type: 'AlertDeliveryFailed', message: `the finding's alert did not reach every channel yet (${transient.join('; ')})` });
      }
    },

    /** The channels a publish's notice goes to (publish_approval_requested also to every channel reaching an approver), recorded as pending. */
    async planPublishNotice(notice: PublishNotice): Promise<NoticeTarget[]> {
      const prisma = database();
      return planTenantNotice(prisma, publishTenantNotice(notice), await publishRecipients(prisma, notice));
    },

    async deliverPublishNoticeTo(notice: PublishNotice, channelId: string): Promise<void> {
      const prisma = database();
      const recipients = await publishRecipients(prisma, notice);
      const log = logger.child({ eventKey: notice.key, kind: notice.kind, publishId: notice.publishId, attempt: Context.current().info.attempt });
      await attemptDelivery(prisma, notice.key, notice.tenantId, channelId, log, async (channel) =>
        publishMessage(notice, channel.locale, recipients, deps.publicBaseUrl),
      );
    },

    recordPublishNoticeGaveUp(notice: PublishNotice, channelId: string, reason: string): Promise<void> {
      return recordGaveUp(notice.key, channelId, reason);
    },

    /**
     * Starts a publish notice's delivery workflow (sendPublishNotice) from the publish's activity,
     * its id the notice's key: the publish goes on at once, and a retried activity starts it once.
     * Rejects when Temporal did not take the start, so the calling activity is retried.
     */
    async startPublishNotice(notice: PublishNotice): Promise<void> {
      try {
        await Context.current().client.workflow.start(SEND_PUBLISH_NOTICE_WORKFLOW_TYPE, {
          workflowId: notice.key,
          taskQueue: Context.current().info.taskQueue,
          args: [notice],
          // A retried activity finds the notice started, or done; one whose delivery workflow failed
          // (or was terminated) starts it again, and the per-channel delivery records keep any
          // channel that already took it from being sent it twice.
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
    },

    recordDeliveryGaveUp(notice: Notice, channelId: string, reason: string): Promise<void> {
      return recordGaveUp(notice.key, channelId, reason);
    },

    async isApprovalPending(runId: string, stepId: string): Promise<boolean> {
      const handle = Context.current().client.workflow.getHandle(runId);
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') return false;
      const state = await handle.query(stateQuery);
      return state.steps[stepId]?.status === 'waiting_approval';
    },

    async sendChannelTest(tenantId: string, channelId: string, eventKey: string): Promise<ChannelTestResult> {
      let channel: LoadedChannel;
      try {
        channel = await loadChannel(database(), deps.secrets, tenantId, channelId);
      } catch (error) {
        return { delivered: false, error: asDeliveryFailure(error).message };
      }
      try {
        const answer = clip(await send(channel, testMessage(eventKey, channel.locale, channel.settings.name)));
        return { delivered: true, answer };
      } catch (error) {
        const failure = asDeliveryFailure(error);
        return { delivered: false, error: failure.message, ...(failure.answer === undefined ? {} : { answer: clip(failure.answer) }) };
      }
    },
  };

  /**
   * An approval request also goes, subscribed or not, to each enabled channel that can reach one of
   * its approvers by their directory entry: an e-mail channel when one has an address, an IM group
   * chat when one has a user id of that IM (to be mentioned by).
   */
  async function approverChannels(prisma: PrismaClient, notice: Notice): Promise<string[]> {
    if (notice.kind !== 'approval_requested' && notice.kind !== 'approval_reminder') return [];
    return channelsReaching(prisma, notice.tenantId, await recipientsOf(prisma, notice));
  }

  /**
   * The enabled channels a step's `notify` names, by name in the notice's tenant, when it asked for
   * this kind. A name the tenant has no channel of (renamed or deleted since the version was
   * created), or a disabled one, is skipped and logged: the other channels are still told.
   */
  async function stepChannels(prisma: PrismaClient, notice: Notice): Promise<string[]> {
    const settings = stepSettingsFor(notice);
    if (settings === undefined) return [];
    const names = [...new Set(settings.channels)];
    const rows = await prisma.notificationChannel.findMany({
      where: { tenantId: notice.tenantId, name: { in: names } },
      select: { id: true, name: true, enabled: true },
    });
    const found = new Set(rows.map((row) => row.name));
    const unknownChannels = names.filter((name) => !found.has(name));
    const disabledChannels = rows.filter((row) => !row.enabled).map((row) => row.name);
    if (unknownChannels.length > 0 || disabledChannels.length > 0) {
      logger.warn(
        { eventKey: notice.key, kind: notice.kind, runId: notice.run.id, stepId: notice.step?.id, unknownChannels, disabledChannels },
        "a step's notify names channels that cannot be told; skipped",
      );
    }
    return rows.filter((row) => row.enabled).map((row) => row.id);
  }

  /**
   * One attempt at one planned delivery: nothing is sent when its record says it succeeded, and
   * every attempt's outcome is recorded before the caller hears of it.
   */
  async function attemptDelivery(
    prisma: PrismaClient,
    eventKey: string,
    tenantId: string,
    channelId: string,
    parentLog: Logger,
    messageFor: (channel: LoadedChannel) => Promise<Message>,
  ): Promise<DeliveryOutcome> {
    const where = { eventKey_channelId: { eventKey, channelId } };
    const record = await prisma.notificationDelivery.findUnique({ where });
    if (!record) throw ApplicationFailure.nonRetryable(`no delivery of ${eventKey} to channel ${channelId} was planned`, DeliveryErrorType.ChannelUnusable);
    if (record.status === 'succeeded') return { status: 'succeeded', answer: record.receiverAnswer ?? '', alreadyDelivered: true };
    const log = parentLog.child({ channel: record.channelName });
    try {
      const channel = await loadChannel(prisma, deps.secrets, tenantId, channelId);
      const answer = clip(await send(channel, await messageFor(channel)));
      await prisma.notificationDelivery.updateMany({
        where: { id: record.id, status: { not: 'succeeded' } },
        data: { status: 'succeeded', attempts: { increment: 1 }, receiverAnswer: answer, lastError: null, deliveredAt: new Date() },
      });
      log.info({ kind: channel.kind }, 'notice delivered');
      return { status: 'succeeded', answer, alreadyDelivered: false };
    } catch (error) {
      const failure = asDeliveryFailure(error);
      await prisma.notificationDelivery.updateMany({
        where: { id: record.id, status: { not: 'succeeded' } },
        data: {
          status: failure.retryable ? 'retrying' : 'failed',
          attempts: { increment: 1 },
          lastError: clip(failure.message),
          ...(failure.answer === undefined ? {} : { receiverAnswer: clip(failure.answer) }),
        },
      });
      log.warn({ error: failure.message, retryable: failure.retryable }, 'notice delivery attempt failed');
      throw ApplicationFailure.create({ type: failureType(failure), message: failure.message, nonRetryable: !failure.retryable });
    }
  }

  /**
   * A notice that is not a run's, to the channels the tenant's default and the template's
   * subscriptions route its kind to (and, when asked, to every channel reaching one of its people),
   * each recorded under its key. Answers the channels that failed: `transient` ones may take it on
   * another attempt; `refused` ones never will, and their delivery is recorded as failed (given
   * up), so later attempts at the same key leave them alone.
   */
  async function deliverTenantNotice(notice: TenantNotice): Promise<{ transient: string[]; refused: string[] }> {
    const prisma = database();
    const recipients = await peopleOf(prisma, notice.tenantId, notice.people.users, notice.people.roles);
    const planned = await planTenantNotice(prisma, notice, recipients);
    const givenUp = new Set(
      (await prisma.notificationDelivery.findMany({ where: { tenantId: notice.tenantId, eventKey: notice.key, status: 'failed' }, select: { channelId: true } })).map((row) => row.channelId),
    );
    const channels = planned.filter((channel) => !givenUp.has(channel.channelId));
    const log = logger.child({ eventKey: notice.key, kind: notice.kind, subject: notice.subject });
    const outcomes = await Promise.allSettled(
      channels.map((channel) =>
        attemptDelivery(prisma, notice.key, notice.tenantId, channel.channelId, log, async (loaded) => notice.messageFor(loaded.locale, recipients)),
      ),
    );
    const failed = { transient: [] as string[], refused: [] as string[] };
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') return;
      const reason = outcome.reason as Error;
      // attemptDelivery recorded a refusal as failed already: that record is the given-up one.
      const refused = reason instanceof ApplicationFailure && reason.nonRetryable;
      (refused ? failed.refused : failed.transient).push(`${channels[index]!.channelName}: ${reason.message}`);
    });
    if (failed.refused.length > 0) log.warn({ refused: failed.refused }, 'notice refused for good by some channels; not tried again for this event');
    return failed;
  }

  /** Records a pending delivery per channel the notice goes to, and answers those channels. */
  async function planTenantNotice(prisma: PrismaClient, notice: Omit<TenantNotice, 'messageFor'>, recipients: Recipient[]): Promise<NoticeTarget[]> {
    const subscribed = (await subscribedChannels(prisma, notice.tenantId, notice.templateId)).get(notice.kind) ?? [];
    const reaching = notice.alwaysToReachablePeople ? await channelsReaching(prisma, notice.tenantId, recipients) : [];
    return planDeliveries(prisma, { tenantId: notice.tenantId, key: notice.key, kind: notice.kind, subject: notice.subject, stepId: null }, [...new Set([...subscribed, ...reaching])]);
  }

  /**
   * Records a pending delivery of one notice per channel (those of the tenant's that still exist),
   * once whatever the retries, and answers those channels. `subject` is the run, or
   * `inspection:<id>` / `publish:<id>` for a tenant's notices.
   */
  async function planDeliveries(
    prisma: PrismaClient,
    planned: { tenantId: string; key: string; kind: string; subject: string; stepId: string | null },
    channelIds: string[],
  ): Promise<NoticeTarget[]> {
    if (channelIds.length === 0) return [];
    const channels = await prisma.notificationChannel.findMany({
      where: { tenantId: planned.tenantId, id: { in: channelIds } },
      select: { id: true, name: true },
      orderBy: { name: 'asc' },
    });
    await prisma.notificationDelivery.createMany({
      data: channels.map((channel) => ({
        tenantId: planned.tenantId,
        eventKey: planned.key,
        eventKind: planned.kind,
        runId: planned.subject,
        stepId: planned.stepId,
        channelId: channel.id,
        channelName: channel.name,
      })),
      skipDuplicates: true,
    });
    return channels.map((channel) => ({ channelId: channel.id, channelName: channel.name }));
  }

  /** A delivery retried until Temporal gave up on it: failed, with why, unless it had succeeded. */
  async function recordGaveUp(eventKey: string, channelId: string, reason: string): Promise<void> {
    await database().notificationDelivery.updateMany({
      where: { eventKey, channelId, status: { not: 'succeeded' } },
      data: { status: 'failed', lastError: clip(reason) },
    });
  }

  function publishRecipients(prisma: PrismaClient, notice: PublishNotice): Promise<Recipient[]> {
    const people = publishTenantNotice(notice).people;
    return peopleOf(prisma, notice.tenantId, people.users, people.roles);
  }

  /** The enabled channels that can reach one of these people by their directory entry. */
  async function channelsReaching(prisma: PrismaClient, tenantId: string, people: Recipient[]): Promise<string[]> {
    if (people.length === 0) return [];
    const channels = await personReachingChannels(prisma, tenantId);
    return channels.filter((channel) => people.some((person) => canReach(channel.kind, person))).map((channel) => channel.id);
  }

  async function send(channel: LoadedChannel, message: Message): Promise<string> {
    const signal = AbortSignal.any([Context.current().cancellationSignal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]);
    const format = channelFormats[channel.kind] as ChannelFormat<typeof channel.kind>;
    return format(message, channel.settings as ChannelSettings<typeof channel.kind>, {
      fetch: deps.fetch,
      egressPolicy: deps.egressPolicy,
      signal,
      now: new Date(),
    });
  }
}

function canReach(channelKind: string, person: Recipient): boolean {
  if (channelKind === 'email') return person.email !== undefined;
  return (MENTIONING_KINDS as readonly string[]).includes(channelKind) && person.imIds[channelKind as MentioningKind] !== undefined;
}

/** A notice that is not a run's (deliverTenantNotice). */
interface TenantNotice {
  key: string;
  kind: AlertKind;
  tenantId: string;
  /** Whose subscriptions add to the tenant's default; the default alone when null. */
  templateId: string | null;
  /** What its deliveries record in place of a run. */
  subject: string;
  people: { users: string[]; roles: string[] };
  alwaysToReachablePeople?: boolean;
  messageFor(locale: Locale, recipients: Recipient[]): Message;
}

/** A publish notice as a tenant notice: approvers for an approval, the requester for a failure. */
function publishTenantNotice(notice: PublishNotice): Omit<TenantNotice, 'messageFor'> {
  const approval = notice.kind === 'publish_approval_requested';
  return {
    key: notice.key,
    kind: notice.kind,
    tenantId: notice.tenantId,
    templateId: notice.templateId,
    subject: publishSubject(notice.publishId),
    people: approval ? { users: [], roles: notice.approverRoles } : { users: [notice.requestedBy], roles: [] },
    alwaysToReachablePeople: approval,
  };
}

/** What a publish's deliveries record in place of a run. */
export function publishSubject(publishId: string): string {
  return `publish:${publishId}`;
}

/** What a finding's deliveries record in place of a run (deliveries are listed per subject by `runId`). */
export function inspectionSubject(findingId: string): string {
  return `inspection:${findingId}`;
}

function asDeliveryFailure(error: unknown): DeliveryFailure {
  if (error instanceof DeliveryFailure) return error;
  // The database, or something else of ours: worth another attempt, and never the receiver's fault.
  return new DeliveryFailure(`delivery failed: ${(error as Error).message ?? String(error)}`, true);
}

function failureType(failure: DeliveryFailure): string {
  if (failure.channelUnusable) return DeliveryErrorType.ChannelUnusable;
  return failure.retryable ? 'DeliveryFailed' : DeliveryErrorType.Refused;
}

function clip(text: string): string {
  return text.length > RECORD_CHARS ? `${text.slice(0, RECORD_CHARS)}…` : text;
}
