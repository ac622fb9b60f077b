/**
 * What the HTTP step writes to its step log: the request it sent and the answer it got, with
 * credentials left out. Values substituted from `{{ secrets.NAME }}` are replaced wherever they
 * appear by the step log itself (StepLogSink.forAttempt); this removes what is a credential by its
 * nature even when it came from elsewhere (a header written into the spec, a cookie a server set).
 */

/** Bodies are recorded up to this many bytes of UTF-8. */
export const LOGGED_BODY_BYTES = 16 * 1024;

export const REDACTED_VALUE = '[redacted]';

/** Header names that carry credentials whatever they are called in a given API. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
/** Header and query parameter names that usually do (`x-api-key`, `access_token`, `X-Amz-Signature`, …); not `idempotency-key`. */
const CREDENTIAL_NAME = /token|secret|api[-_]?key|access[-_]?key|private[-_]?key|passw|auth|session|signature|credential|^sig$/i;

const TEXTUAL_MEDIA_TYPE = /^(text\/|application\/([\w.+-]*\+)?(json|xml|x-www-form-urlencoded|javascript|yaml|x-yaml|x-ndjson)\b)/i;

/** Headers (a request's entries, a response's Headers) with the values of credential headers replaced. */
export function loggedHeaders(headers: Iterable<[string, string]>): Record<string, string> {
  return Object.fromEntries([...headers].map(([name, value]) => [name, isCredentialName(name) ? REDACTED_VALUE : value]));
}

function isCredentialName(name: string): boolean {
  return CREDENTIAL_HEADERS.has(name.toLowerCase()) || CREDENTIAL_NAME.test(name);
}

/** The URL without user information, and with the values of credential-like query parameters replaced. */
export function loggedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (parsed.username) parsed.username = REDACTED_VALUE;
  if (parsed.password) parsed.password = REDACTED_VALUE;
  for (const name of [...new Set(parsed.searchParams.keys())]) {
    if (CREDENTIAL_NAME.test(name)) parsed.searchParams.set(name, REDACTED_VALUE);
  }
  return parsed.toString();
}

export interface LoggedBody {
  bytes: number;
  /** The body's start as text (textual media types only), at most LOGGED_BODY_BYTES of it. */
  text?: string;
  /** Whether `text` is only the start of the body. */
  truncated: boolean;
}

export function loggedBody(body: Buffer | string | undefined, mediaType: string | null): LoggedBody | undefined {
  if (body === undefined) return undefined;
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const textual = typeof body === 'string' || TEXTUAL_MEDIA_TYPE.test(mediaType ?? '');
  if (!textual) return { bytes: bytes.length, truncated: bytes.length > 0 };
  const truncated = bytes.length > LOGGED_BODY_BYTES;
  // A cut in the middle of a character decodes to U+FFFD, which is harmless in a log.
  const text = bytes.subarray(0, LOGGED_BODY_BYTES).toString('utf8');
  return { bytes: bytes.length, text, truncated };
}
