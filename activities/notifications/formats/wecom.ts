import type { Message } from '../messages';
import type { ChannelFormat } from './format';
import { postJson, vendorAnswer } from './http-post';

/** WeCom's "API frequency out of limit" answer: worth another attempt later. */
const RATE_LIMITED = [45009];

/** WeCom takes at most 4096 bytes of markdown. */
const MAX_CONTENT_BYTES = 4096;

/** A WeCom group robot markdown message; people are mentioned with `<@userid>`. The robot's key is in its URL. */
export function wecomBody(message: Message): object {
  const mentions = message.recipients.flatMap((person) => (person.imIds.wecom ? [`<@${person.imIds.wecom}>`] : []));
  const link = message.link ? [`[${message.link.label}](${message.link.url})`] : [];
  const lines = [`### ${message.title}`, ...message.lines.map((line) => `> ${line}`), ...link, ...(mentions.length > 0 ? [mentions.join(' ')] : [])];
  let content = lines.join('\n');
  while (Buffer.byteLength(content, 'utf8') > MAX_CONTENT_BYTES) content = content.slice(0, -100);
  return { msgtype: 'markdown', markdown: { content } };
}

export const sendWecom: ChannelFormat<'wecom'> = async (message, channel, context) =>
  vendorAnswer(await postJson(channel.secrets.url, JSON.stringify(wecomBody(message)), {}, context), RATE_LIMITED);
