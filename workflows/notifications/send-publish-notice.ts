import { ActivityFailure, ApplicationFailure, log, proxyActivities } from '@temporalio/workflow';
import { DeliveryErrorType } from './notice';
import type { PublishNotice, PublishNoticeActivities } from './publish-notice';

/**
 * Planning and record keeping read and write the database only, and a failed publish has no one
 * else to tell of it: retried for a day like delivery, so a database down for a while delays the
 * notice instead of losing it.
 */
const { planPublishNotice, recordPublishNoticeGaveUp } = proxyActivities<PublishNoticeActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/** As a run's notices (send-notice.ts): retried with backoff for a day, one attempt bounded well below its timeout. */
const { deliverPublishNoticeTo } = proxyActivities<PublishNoticeActivities>({
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
 * Delivers a publish's notice (waiting for approval, failed) to each of its channels on its own,
 * with retries. Started by the publish's activity with the notice's key as workflow id, so the
 * publish never waits for a receiver and a notice started twice is delivered once (a start after
 * one that failed runs again, and channels whose delivery is recorded as succeeded are skipped).
 */
export async function sendPublishNotice(notice: PublishNotice): Promise<void> {
  const targets = await planPublishNotice(notice);
  await Promise.all(
    targets.map(async (target) => {
      try {
        await deliverPublishNoticeTo(notice, target.channelId);
      } catch (error) {
        const cause = error instanceof ActivityFailure ? error.cause : error;
        const reason = cause instanceof ApplicationFailure ? `${cause.type ?? 'Error'}: ${cause.message}` : cause instanceof Error ? cause.message : String(cause);
        log.warn('publish notice delivery gave up', { key: notice.key, channel: target.channelName, reason });
        await recordPublishNoticeGaveUp(notice, target.channelId, reason);
      }
    }),
  );
}
