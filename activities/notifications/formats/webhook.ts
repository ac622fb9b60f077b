import { createHmac } from 'node:crypto';
import type { Message } from '../messages';
import type { ChannelFormat } from './format';
import { postJson } from './http-post';

/**
 * The generic JSON webhook. Each request is signed so receivers can check it came from us and is
 * fresh: `X-Flowpilot-Signature: v1=<hex HMAC-SHA256(signingKey, "<timestamp>.<body>")>`, with the
 * Unix time in seconds in `X-Flowpilot-Timestamp` (reject old ones to refuse replays). The event
 * key in `X-Flowpilot-Event-Key` (and `Idempotency-Key`) is the same on every attempt: a receiver
 * that has seen it can drop the repeat.
 */
export const WebhookHeader = {
  signature: 'x-flowpilot-signature',
  timestamp: 'x-flowpilot-timestamp',
  eventKey: 'x-flowpilot-event-key',
} as const;

export function webhookSignature(signingKey: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', signingKey).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

export function webhookBody(message: Message): string {
  return JSON.stringify({
    eventKey: message.eventKey,
    kind: message.kind,
    locale: message.locale,
    title: message.title,
    text: message.lines.join('\n'),
    link: message.link?.url ?? null,
    recipients: message.recipients.map((person) => ({ subject: person.subject, displayName: person.displayName, email: person.email ?? null })),
    data: message.data,
  });
}

export const sendWebhook: ChannelFormat<'webhook'> = async (message, channel, context) => {
  const body = webhookBody(message);
  const timestamp = String(Math.floor(context.now.getTime() / 1000));
  const answer = await postJson(
    channel.secrets.url,
    body,
    {
      [WebhookHeader.timestamp]: timestamp,
      [WebhookHeader.signature]: webhookSignature(channel.secrets.signingKey, timestamp, body),
      [WebhookHeader.eventKey]: message.eventKey,
      'idempotency-key': message.eventKey,
    },
    context,
  );
  return `${answer.status} ${answer.text}`.trim();
};
