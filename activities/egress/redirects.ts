/** One request of a call, as the guarded fetch sends it; a redirect makes the next one. */
export interface OutgoingRequest {
  url: URL;
  method: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Credentials meant for one origin; they do not follow a redirect to another (as fetch and browsers do). */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];

/** Headers that describe the body, dropped with it when a redirect turns the request into a GET. */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

export class TooManyRedirects extends Error {
  override readonly name = 'TooManyRedirects';
}

export function isRedirect(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

/**
 * The request a redirect asks for, with the Fetch standard's method rules: 303 becomes a GET
 * (a HEAD stays a HEAD), 301 and 302 turn a POST into a GET (what every browser does, whatever
 * RFC 9110 hoped), 307 and 308 repeat the method and body. Credentials are dropped when the
 * redirect leaves the origin; the Idempotency-Key stays, as it names the step's call, not a hop.
 */
export function redirectedRequest(request: OutgoingRequest, status: number, location: string): OutgoingRequest {
  const url = new URL(location, request.url);
  const headers = { ...request.headers };
  let { method, body } = request;
  const becomesGet = (status === 303 && method !== 'GET' && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST');
  if (becomesGet) {
    method = 'GET';
    body = undefined;
    for (const name of BODY_HEADERS) delete headers[name];
  }
  if (url.origin !== request.url.origin) {
    for (const name of CREDENTIAL_HEADERS) delete headers[name];
  }
  return { url, method, headers, ...(body === undefined ? {} : { body }) };
}
