import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import { DeliveryFailure } from '../delivery-failure';
import { plainText, type Message } from '../messages';
import type { ChannelFormat, SendContext } from './format';

/** How long one SMTP conversation may take, step by step; the attempt's own deadline bounds the whole. */
const SMTP_TIMEOUT_MS = 10_000;

/** The addresses a message goes to: the people it is for, and the channel's fixed recipients. */
export function emailRecipients(message: Message, fixed: readonly string[]): string[] {
  const people = message.recipients.flatMap((person) => (person.email ? [person.email] : []));
  return [...new Set([...people, ...fixed].map((address) => address.toLowerCase()))];
}

/**
 * Mail over SMTP with nodemailer. The server's host is judged by the worker's egress policy on
 * what it resolves to, and the connection goes to that checked address (TLS still verifies the
 * name), so a name cannot be re-pointed at a denied address between check and connect.
 *
 * Every attempt of one notice carries the same Message-ID (from its event key), so mail systems
 * that see a repeat can drop it.
 */
export const sendEmail: ChannelFormat<'email'> = async (message, channel, context) => {
  const to = emailRecipients(message, channel.config.to);
  if (to.length === 0) throw new DeliveryFailure('nobody this notice is for has an e-mail address, and the channel has no `to`', false);
  const { host, port, secure, username, from } = channel.config;
  const address = await checkedAddress(host, context);
  const transport = nodemailer.createTransport({
    host: address,
    port,
    secure,
    tls: { servername: isIP(host) ? undefined : host },
    auth: username ? { user: username, pass: channel.secrets.password ?? '' } : undefined,
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  });
  const abort = () => transport.close();
  context.signal.addEventListener('abort', abort, { once: true });
  try {
    const info = await transport.sendMail({
      from,
      to,
      subject: message.title,
      text: plainText(message),
      messageId: `<${createHash('sha256').update(message.eventKey).digest('hex').slice(0, 32)}@flowpilot>`,
      headers: { 'X-Flowpilot-Event-Key': message.eventKey },
    });
    return info.response;
  } catch (error) {
    throw smtpFailure(error as Error & { responseCode?: number; code?: string; response?: string });
  } finally {
    context.signal.removeEventListener('abort', abort);
    transport.close();
  }
};

async function checkedAddress(host: string, context: SendContext): Promise<string> {
  const refusedName = context.egressPolicy.checkHost(host);
  if (refusedName) throw new DeliveryFailure(`the mail server is ${refusedName.message}`, false, undefined, true);
  if (isIP(host)) return host;
  let addresses: string[];
  try {
    addresses = (await lookup(host, { all: true })).map((entry) => entry.address);
  } catch (error) {
    throw new DeliveryFailure(`the mail server's name ${host} does not resolve: ${(error as Error).message}`, true);
  }
  const refused = context.egressPolicy.checkResolved(host, addresses);
  if (refused) throw new DeliveryFailure(`the mail server is ${refused.message}`, false, undefined, true);
  return addresses[0]!;
}

/** 4xx replies and lost connections may pass; 5xx replies (a refused recipient, failed authentication) will not. */
function smtpFailure(error: Error & { responseCode?: number; code?: string; response?: string }): DeliveryFailure {
  const code = error.responseCode;
  if (code !== undefined) return new DeliveryFailure(`the mail server refused the message: ${error.message}`, code < 500, error.response);
  if (error.code === 'EAUTH') return new DeliveryFailure(`the mail server refused the login: ${error.message}`, false, error.response);
  return new DeliveryFailure(`the mail server could not be reached: ${error.message}`, true);
}
