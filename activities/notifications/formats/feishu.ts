import { createHmac } from 'node:crypto';
import type { Message } from '../messages';
import type { ChannelFormat } from './format';
import { postJson, vendorAnswer } from './http-post';

/** Feishu's "frequency limited" answers: worth another attempt later. */
const RATE_LIMITED = [9499, 11232];

/**
 * The Feishu (Lark) custom bot's signature, as its documentation gives it: the HMAC-SHA256 of an
 * empty message keyed with "<timestamp>\n<secret>", base64; the timestamp is in seconds.
 */
export function feishuSignature(secret: string, timestamp: string): string {
  return createHmac('sha256', `${timestamp}\n${secret}`).update('').digest('base64');
}

/** A rich-text ("post") message in the channel's language, mentioning people by their Feishu user ids. */
export function feishuBody(message: Message): object {
  const mentions = message.recipients.flatMap((person) => (person.imIds.feishu ? [{ tag: 'at', user_id: person.imIds.feishu }] : []));
  const content: object[][] = message.lines.map((line) => [{ tag: 'text', text: line }]);
  if (message.link) content.push([{ tag: 'a', text: message.link.label, href: message.link.url }]);
  if (mentions.length > 0) content.push(mentions);
  const language = message.locale === 'zh-CN' ? 'zh_cn' : 'en_us';
  return { msg_type: 'post', content: { post: { [language]: { title: message.title, content } } } };
}

export const sendFeishu: ChannelFormat<'feishu'> = async (message, channel, context) => {
  const body: Record<string, unknown> = { ...feishuBody(message) };
  if (channel.secrets.signingKey) {
    const timestamp = String(Math.floor(context.now.getTime() / 1000));
    body.timestamp = timestamp;
    body.sign = feishuSignature(channel.secrets.signingKey, timestamp);
  }
  return vendorAnswer(await postJson(channel.secrets.url, JSON.stringify(body), {}, context), RATE_LIMITED);
};
