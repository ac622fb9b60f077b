import type { Message } from '../messages';
import { DeliveryFailure } from '../delivery-failure';
import type { ChannelFormat } from './format';
import { postJson } from './http-post';

/** Slack's header block takes at most 150 characters of plain text. */
const HEADER_CHARS = 150;

/** Slack's mrkdwn gives `&`, `<` and `>` meaning: text from users is escaped. */
function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A Slack incoming webhook message in Block Kit: a header, the lines, the link, and mentions of the people it is for. */
export function slackBody(message: Message): object {
  const mentions = message.recipients.flatMap((person) => (person.imIds.slack ? [`<@${person.imIds.slack}>`] : []));
  const link = message.link ? [`<${message.link.url}|${escape(message.link.label)}>`] : [];
  const blocks: object[] = [
    { type: 'header', text: { type: 'plain_text', text: message.title.slice(0, HEADER_CHARS), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: [...message.lines.map(escape), ...link].join('\n') } },
  ];
  if (mentions.length > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: mentions.join(' ') }] });
  // `text` is what notifications and clients without blocks show.
  return { text: message.title, blocks };
}

/** Slack answers `200 ok`; anything else is an error named in the body (`invalid_payload`, `no_service`…). */
export const sendSlack: ChannelFormat<'slack'> = async (message, channel, context) => {
  const answer = await postJson(channel.secrets.url, JSON.stringify(slackBody(message)), {}, context);
  if (answer.text.trim() !== 'ok') throw new DeliveryFailure(`Slack did not accept the message: ${answer.text}`, false, answer.text);
  return `${answer.status} ${answer.text}`;
};
