import { log, proxyActivities } from '@temporalio/workflow';
import { DELIVERY_ACTIVITY_OPTIONS, RECORD_KEEPING_ACTIVITY_OPTIONS, deliveryFailureReason } from './delivery-policy';
import type { PublishNotice, PublishNoticeActivities } from './publish-notice';

const { planPublishNotice, recordPublishNoticeGaveUp } = proxyActivities<PublishNoticeActivities>(RECORD_KEEPING_ACTIVITY_OPTIONS);
const { deliverPublishNoticeTo } = proxyActivities<PublishNoticeActivities>(DELIVERY_ACTIVITY_OPTIONS);

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
        const reason = deliveryFailureReason(error);
        log.warn('publish notice delivery gave up', { key: notice.key, channel: target.channelName, reason });
        await recordPublishNoticeGaveUp(notice, target.channelId, reason);
      }
    }),
  );
}
