/**
 * Why an attempt to deliver failed. `retryable` says whether another attempt may succeed (the
 * receiver was down, busy, or rate-limited us) or not (it refused the message, the channel cannot
 * be used as configured); the activity turns it into the matching Temporal failure.
 */
export class DeliveryFailure extends Error {
  override readonly name = 'DeliveryFailure';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** What the receiver answered, when it answered. */
    readonly answer?: string,
    /** The channel itself is unusable (deleted, settings or secrets missing, refused by the egress policy). */
    readonly channelUnusable = false,
  ) {
    super(message);
  }
}
