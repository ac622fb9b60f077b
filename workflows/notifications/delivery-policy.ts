import { ActivityFailure, ApplicationFailure, type ActivityOptions } from '@temporalio/common';
import { DeliveryErrorType } from './notice';

/**
 * How a notice's delivery to one channel is retried, for a run's notices and a tenant's alike:
 * with backoff for a day, so a receiver that is down for a while gets the message once it is back;
 * a refusal a retry would not change is not retried. One attempt is bounded well below its timeout
 * (activities/notifications), so an attempt Temporal gave up on is never still sending when the
 * next one starts.
 */
export const DELIVERY_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '24h',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: [DeliveryErrorType.Refused, DeliveryErrorType.ChannelUnusable],
  },
};

/**
 * Planning and record keeping read and write the database only, and a notice has no one else to
 * tell of it: retried for a day like delivery, so a database down for a while delays a notice
 * instead of losing it.
 */
export const RECORD_KEEPING_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};

/** Why a delivery was given up, for its record: the activity's own failure, typed where it is. */
export function deliveryFailureReason(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  return cause instanceof Error ? cause.message : String(cause);
}
