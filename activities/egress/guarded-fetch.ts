import { fetch, type Response } from 'undici';
import { createGuardedDispatcher } from './guarded-dispatcher';
import { EgressRefusal, type EgressPolicy } from './policy';
import { isRedirect, redirectedRequest, TooManyRedirects, type OutgoingRequest } from './redirects';

export interface GuardedRequestInit {
  method: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: string;
  /** Covers the whole call, redirects included. */
  signal: AbortSignal;
}

/**
 * fetch within an egress policy. Redirects are followed here rather than by fetch, so that every
 * hop is judged like the first: an http(s) URL, a host the policy allows (checked before sending,
 * and again on its addresses at connect time), and at most `policy.maxRedirects` of them.
 *
 * Throws EgressRefusal (a refused hop, whichever it was) and TooManyRedirects as themselves;
 * anything else is fetch's own error (network, abort, timeout).
 */
export class GuardedFetch {
  private readonly dispatcher;

  constructor(readonly policy: EgressPolicy) {
    this.dispatcher = createGuardedDispatcher(policy);
  }

  async fetch(url: string, init: GuardedRequestInit): Promise<Response> {
    let request: OutgoingRequest = { url: new URL(url), method: init.method, headers: init.headers, body: init.body };
    for (let redirects = 0; ; redirects++) {
      const response = await this.send(request, init.signal);
      const location = isRedirect(response.status) ? response.headers.get('location') : null;
      // A redirect without a usable Location is an answer like any other; the caller judges its status.
      const next = location === null ? undefined : redirectTarget(request, response.status, location);
      if (!next) return response;
      // Not read: a redirect's body is for browsers. Cancelling frees the connection.
      await response.body?.cancel().catch(() => undefined);
      if (redirects >= this.policy.maxRedirects) {
        throw new TooManyRedirects(`more than ${this.policy.maxRedirects} redirects (the last to ${next.url.href})`);
      }
      request = next;
    }
  }

  /** Closes the kept-alive connections; calls after this fail. */
  close(): Promise<void> {
    return this.dispatcher.close();
  }

  private async send(request: OutgoingRequest, signal: AbortSignal): Promise<Response> {
    const { url } = request;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new EgressRefusal(url.hostname, `${url.protocol} URLs are not allowed, only http: and https:`, url.href);
    }
    const refusal = this.policy.checkHost(url.hostname);
    if (refusal) throw refusal.at(url.href);
    try {
      return await fetch(url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
        signal,
        dispatcher: this.dispatcher,
      });
    } catch (error) {
      // The dispatcher refused at connect time (a resolved address); undici wraps that in "fetch failed".
      const cause = (error as Error).cause;
      if (cause instanceof EgressRefusal) throw cause.at(url.href);
      throw error;
    }
  }
}

function redirectTarget(request: OutgoingRequest, status: number, location: string): OutgoingRequest | undefined {
  try {
    return redirectedRequest(request, status, location);
  } catch {
    return undefined;
  }
}
