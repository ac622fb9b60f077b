import { log, proxyActivities, sleep } from '@temporalio/workflow';
import { DELIVERY_ACTIVITY_OPTIONS, RECORD_KEEPING_ACTIVITY_OPTIONS, deliveryFailureReason } from './delivery-policy';
import type { Notice, NoticeActivities } from './notice';

const { planNoticeDeliveries, recordDeliveryGaveUp, isApprovalPending } = proxyActivities<NoticeActivities>(RECORD_KEEPING_ACTIVITY_OPTIONS);

const { deliverNotice } = proxyActivities<NoticeActivities>(DELIVERY_ACTIVITY_OPTIONS);

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
        const reason = deliveryFailureReason(error);
        log.warn('notice delivery gave up', { key: notice.key, channel: target.channelName, reason });
        await recordDeliveryGaveUp(notice, target.channelId, reason);
      }
    }),
  );
}
