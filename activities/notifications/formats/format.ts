import type { ChannelConfig, ChannelKind, ChannelSecrets } from '../../../apps/common/notifications/channels';
import type { EgressPolicy, GuardedFetch } from '../../egress';
import type { Message } from '../messages';

/** What a format needs to send: the worker's egress-guarded fetch and policy, and the attempt's deadline. */
export interface SendContext {
  fetch: GuardedFetch;
  egressPolicy: EgressPolicy;
  /** Aborts the attempt: its timeout, or the activity's cancellation. */
  signal: AbortSignal;
  /** The attempt's time, which signatures carry. */
  now: Date;
}

export interface ChannelSettings<K extends ChannelKind> {
  name: string;
  config: ChannelConfig<K>;
  secrets: ChannelSecrets<K>;
}

/**
 * One channel kind: renders a message in the receiver's format and sends it, answering with what
 * the receiver said, or throwing DeliveryFailure.
 */
export type ChannelFormat<K extends ChannelKind> = (message: Message, channel: ChannelSettings<K>, context: SendContext) => Promise<string>;
