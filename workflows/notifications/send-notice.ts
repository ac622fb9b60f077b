import { ActivityFailure, ApplicationFailure, log, proxyActivities, sleep } from '@temporalio/workflow';
import { DeliveryErrorType, type Notice, type NoticeActivities } from './notice';

/** Planning reads the database only: a few quick retries. */
const { planNoticeDeliveries, recordDeliveryGaveUp, isApprovalPending } = proxyActivities<NoticeActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
});

/**
 * Delivery retries with backoff for a day: a receiver that is down for a while gets the message
 * once it is back. One attempt is bounded well below its timeout (activities/notifications), so an
 * attempt Temporal gave up on is never still sending when the next one starts.
 */
const { deliverNotice } = proxyActivities<NoticeActivities>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '24h',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: [DeliveryErrorType.Refused, DeliveryErrorType.ChannelUnusable],
  },
});

/**
 * Delivers one notice to every channel subscribed to it, each on its own with retries, and for an
 * approval with a reminder time, reminds the approvers then if the approval still waits.
 *
 * Started by a run as an abandoned child whose workflow id is the notice's event key: the run goes
 * on at once, is never failed by a delivery, and a repeated start of the same notice is refused.
 */
export async function sendNotice(notice: Notice): Promise<void> {
  await deliverToChannels(notice);
  const remindAt = notice.kind === 'approval_requested' ? notice.approval?.remindAt : undefined;
  if (remindAt === undefined || notice.step === undefined) return;
  const wait = Date.parse(remindAt) - Date.now();
  if (wait > 0) await sleep(wait, { summary: 'approval reminder' });
  if (!(await isApprovalPending(notice.run.id, notice.step.id))) return;
  await deliverToChannels({ ...notice, kind: 'approval_reminder', key: `${notice.key}:reminder`, at: new Date().toISOString() });
}

async function deliverToChannels(notice: Notice): Promise<void> {
  const targets = await planNoticeDeliveries(notice);
  await Promise.all(
    targets.map(async (target) => {
      try {
        await deliverNotice(notice, target.channelId);
      } catch (error) {
        const reason = failureReason(error);
        log.warn('notice delivery gave up', { key: notice.key, channel: target.channelName, reason });
        await recordDeliveryGaveUp(notice, target.channelId, reason);
      }
    }),
  );
}

function failureReason(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  return cause instanceof Error ? cause.message : String(cause);
}
