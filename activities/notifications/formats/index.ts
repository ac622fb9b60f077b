import type { ChannelKind } from '../../../apps/common/notifications/channels';
import { sendDingtalk } from './dingtalk';
import { sendEmail } from './email';
import { sendFeishu } from './feishu';
import type { ChannelFormat } from './format';
import { sendSlack } from './slack';
import { sendWebhook } from './webhook';
import { sendWecom } from './wecom';

/** Every channel kind's format; a kind without one is a compile error. */
export const channelFormats: { [K in ChannelKind]: ChannelFormat<K> } = {
  webhook: sendWebhook,
  slack: sendSlack,
  feishu: sendFeishu,
  dingtalk: sendDingtalk,
  wecom: sendWecom,
  email: sendEmail,
};

export type { ChannelFormat, ChannelSettings, SendContext } from './format';
