import { EgressRefusal, TooManyRedirects } from '../../egress';
import { DeliveryFailure } from '../delivery-failure';
import type { SendContext } from './format';

/** How much of a receiver's answer is kept on the delivery record. */
const ANSWER_CHARS = 1000;

export interface ReceiverAnswer {
  status: number;
  text: string;
}

/**
 * POSTs JSON through the egress-guarded fetch. A network failure, a timeout, 408, 429 and 5xx can
 * pass (retryable); a refused destination or another 4xx will not. The URL is never quoted in a
 * failure: webhook URLs are secrets (they carry the robot's token).
 */
export async function postJson(url: string, body: string, headers: Record<string, string>, context: SendContext): Promise<ReceiverAnswer> {
  let status: number;
  let text: string;
  try {
    const response = await context.fetch.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'flowpilot-notifications', ...headers },
      body,
      signal: context.signal,
    });
    status = response.status;
    text = (await response.text()).slice(0, ANSWER_CHARS);
  } catch (error) {
    if (error instanceof EgressRefusal) throw new DeliveryFailure(`the receiver's address is ${error.message}`, false, undefined, true);
    if (error instanceof TooManyRedirects) throw new DeliveryFailure(error.message, false);
    const cause = (error as Error).cause as Error | undefined;
    const reason = (error as Error).name === 'TimeoutError' ? 'it did not answer in time' : (cause?.message ?? (error as Error).message);
    throw new DeliveryFailure(`the receiver could not be reached: ${withoutUrl(reason, url)}`, true);
  }
  const answer = `${status} ${text}`.trim();
  if (status >= 200 && status < 300) return { status, text };
  const retryable = status === 408 || status === 429 || status >= 500;
  throw new DeliveryFailure(`the receiver answered ${status}`, retryable, answer);
}

/** The failure's text with the URL taken out, as given and as parsed: fetch quotes it in some errors (a URL with credentials). */
function withoutUrl(reason: string, url: string): string {
  const forms = [url];
  if (URL.canParse(url)) forms.push(new URL(url).href);
  return forms.reduce((text, form) => text.replaceAll(form, 'the channel’s URL'), reason);
}

/** An IM robot's JSON answer: `{ code | errcode, msg | errmsg }`, where 0 is success. */
export function vendorAnswer(answer: ReceiverAnswer, rateLimitCodes: readonly number[]): string {
  const summary = `${answer.status} ${answer.text}`.trim();
  let parsed: { code?: unknown; errcode?: unknown; StatusCode?: unknown; msg?: unknown; errmsg?: unknown };
  try {
    parsed = JSON.parse(answer.text) as typeof parsed;
  } catch {
    throw new DeliveryFailure('the receiver answered something that is not its JSON', false, summary);
  }
  const code = parsed.code ?? parsed.errcode ?? parsed.StatusCode;
  if (code === 0 || code === undefined) return summary;
  const reason = jsonText(parsed.msg ?? parsed.errmsg ?? 'no reason given');
  throw new DeliveryFailure(`the receiver refused the message (code ${jsonText(code)}: ${reason})`, rateLimitCodes.includes(Number(code)), summary);
}

/** A value of a parsed JSON answer as text: a string as it is, anything else as JSON (an object is no `[object Object]`). */
function jsonText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
