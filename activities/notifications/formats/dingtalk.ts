import { createHmac } from 'node:crypto';
import type { Message } from '../messages';
import type { ChannelFormat } from './format';
import { postJson, vendorAnswer } from './http-post';

/** DingTalk's "sending too fast" answer: worth another attempt later. */
const RATE_LIMITED = [130101];

/**
 * The DingTalk custom robot's `sign`, as its documentation gives it: the HMAC-SHA256 of
 * "<timestamp>\n<secret>" keyed with the secret, base64; the timestamp is in milliseconds. Both go
 * in the query (URLSearchParams does the documented URL-encoding of the base64).
 */
export function dingtalkSignature(secret: string, timestamp: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
}

/** A markdown message; people are mentioned by user id both in `at` and in the text, as DingTalk requires. */
export function dingtalkBody(message: Message): object {
  const userIds = message.recipients.flatMap((person) => (person.imIds.dingtalk ? [person.imIds.dingtalk] : []));
  const link = message.link ? [`[${message.link.label}](${message.link.url})`] : [];
  const mentions = userIds.length > 0 ? [userIds.map((id) => `@${id}`).join(' ')] : [];
  const text = [`### ${message.title}`, ...message.lines, ...link, ...mentions].join('\n\n');
  return { msgtype: 'markdown', markdown: { title: message.title, text }, at: { atUserIds: userIds, isAtAll: false } };
}

export const sendDingtalk: ChannelFormat<'dingtalk'> = async (message, channel, context) => {
  const url = new URL(channel.secrets.url);
  if (channel.secrets.signingKey) {
    const timestamp = String(context.now.getTime());
    url.searchParams.set('timestamp', timestamp);
    url.searchParams.set('sign', dingtalkSignature(channel.secrets.signingKey, timestamp));
  }
  return vendorAnswer(await postJson(url.href, JSON.stringify(dingtalkBody(message)), {}, context), RATE_LIMITED);
};
