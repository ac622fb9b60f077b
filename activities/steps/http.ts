import { Context } from '@temporalio/activity';
import type { Headers, Response } from 'undici';
import type { HttpWith } from '../../workflows/spec/step-types';
import { parseDuration } from '../../workflows/spec/duration';
import { MAX_STEP_OUTPUT_BYTES } from '../../workflows/engine/limits';
import { MAX_ARTIFACT_BYTES } from '../../apps/common/artifacts/artifact-store';
import { EgressRefusal, TooManyRedirects, type GuardedFetch } from '../egress';
import { httpFailure, StepErrorType } from '../errors';
import { saveOrFail } from '../output-limit';
import type { StepContext, StepImplementation } from '../step-activity';
import { loggedBody, loggedHeaders, loggedUrl } from './http-log';

export interface HttpStepOutput {
  status: number;
  headers: Record<string, string>;
  /**
   * Parsed JSON when the response says it is JSON, the text otherwise. A body over the inline
   * limit is an artifact reference (`{ $artifact: { id, sha256, size, mediaType } }`) when the
   * worker stores artifacts, and `{ truncated, bytes }` when it does not or the body is too large even for one.
   */
  body: unknown;
}

/** Response headers worth keeping in the run state; the rest would only grow the history. */
const KEPT_HEADERS = ['content-type', 'location', 'etag', 'retry-after', 'x-request-id'];

/** How often a waiting call heartbeats: heartbeats are how a cancellation reaches a running activity. */
const HEARTBEAT_EVERY_MS = 1_000;

const EXCERPT_CHARS = 500;

/**
 * Calls an HTTP endpoint.
 *
 * Idempotency: every request carries `Idempotency-Key: <workflowId>:<stepId>:<activityId>`. It is
 * the same for every Temporal retry of one step execution (attempt numbers are left out on
 * purpose), so a receiver can recognise a retried call it already handled; an operator re-run
 * (retryStep) has a new activity id (`step#2`) and so a new key, because it is meant to act again.
 *
 * Size: a body larger than MAX_STEP_OUTPUT_BYTES never reaches the workflow history: it is stored
 * as an artifact (up to MAX_ARTIFACT_BYTES) and its reference returned, or, without an artifact
 * store, not read further and returned as `{ truncated: true, bytes }`.
 *
 * Step log: the request sent and the answer got (method, URL, headers, the bodies' start) go to
 * the step log (`context.log`), with credentials left out (http-log.ts).
 *
 * Egress: calls go through `guardedFetch`, which refuses destinations outside the worker's egress
 * policy (also after a redirect, and on what a name resolves to) and caps redirects. Both fail
 * the step at once, typed EgressDenied and HttpTooManyRedirects: a retry would be refused again.
 *
 * Secrets: `params` arrive with their `{{ secrets.NAME }}` substituted (step-activity.ts), so
 * whatever this logs goes through `context.redact`; failures are redacted by the wrapper.
 */
export function createHttpStep(guardedFetch: GuardedFetch): StepImplementation<HttpWith> {
  return (params, context) => httpStep(guardedFetch, params, context);
}

async function httpStep(guardedFetch: GuardedFetch, params: HttpWith, context: StepContext): Promise<HttpStepOutput> {
  const activity = Context.current();
  const timeoutMs = parseDuration(params.timeout)!;
  const signal = AbortSignal.any([activity.cancellationSignal, AbortSignal.timeout(timeoutMs)]);
  const failureContext = { method: params.method, url: params.url };
  const heartbeat = setInterval(() => activity.heartbeat(), HEARTBEAT_EVERY_MS);
  const started = Date.now();
  const headers = requestHeaders(params, context);
  const sentBody = params.body === undefined || params.method === 'GET' || params.method === 'HEAD' ? undefined : JSON.stringify(params.body);
  const url = loggedUrl(params.url);
  context.log.info(`${params.method} ${url}`, {
    request: { method: params.method, url, headers: loggedHeaders(Object.entries(headers)), body: loggedBody(sentBody, headers['content-type'] ?? null) },
  });
  try {
    let response: Response;
    try {
      response = await guardedFetch.fetch(params.url, { method: params.method, headers, body: sentBody, signal });
    } catch (error) {
      throw loggedFailure(context, callFailure(error as Error, activity.cancellationSignal.aborted, timeoutMs, failureContext), started);
    }
    const read = await readBody(response, signal, context.saveArtifact ? MAX_ARTIFACT_BYTES : MAX_STEP_OUTPUT_BYTES).catch((error: Error) => {
      throw loggedFailure(context, callFailure(error, activity.cancellationSignal.aborted, timeoutMs, failureContext), started);
    });
    const durationMs = Date.now() - started;
    const mediaType = response.headers.get('content-type');
    context.logger.info({ method: params.method, url: context.redact(params.url), status: response.status, durationMs }, 'http step answered');
    context.log.info(`${response.status} from ${params.method} ${url}`, {
      response: {
        status: response.status,
        headers: loggedHeaders(response.headers),
        body: 'content' in read ? loggedBody(read.content, mediaType) : { bytes: read.bytes, truncated: true },
        durationMs,
      },
    });
    // Checked before storing anything: the body of a refused answer is not an output.
    checkStatus(params, response.status, { ...failureContext, status: response.status, bodyExcerpt: excerpt(read) });
    const body = await bodyOutput(read, mediaType, context);
    return { status: response.status, headers: keptHeaders(response.headers), body };
  } finally {
    clearInterval(heartbeat);
  }
}

function requestHeaders(params: HttpWith, context: StepContext): Record<string, string> {
  const headers: Record<string, string> = {
    'idempotency-key': `${context.workflowId}:${context.stepId}:${context.activityId}`,
    ...lowerCaseKeys(params.headers),
  };
  if (params.body !== undefined) headers['content-type'] ??= 'application/json';
  return headers;
}

function checkStatus(params: HttpWith, status: number, context: Parameters<typeof httpFailure>[2]): void {
  const expected = params.expectedStatuses ? params.expectedStatuses.includes(status) : status >= 200 && status < 300;
  if (expected) return;
  const message = `${params.method} ${params.url} answered ${status}`;
  if (status >= 500) throw httpFailure(StepErrorType.HttpServerError, message, context, { retryable: true });
  if (status >= 400) {
    const retryable = params.retryableStatuses.includes(status);
    throw httpFailure(StepErrorType.HttpClientError, message, context, { retryable });
  }
  throw httpFailure(StepErrorType.HttpUnexpectedStatus, message, context, { retryable: false });
}

/** The body read whole, or abandoned past `limit` bytes (and known by the size read so far). */
type ReadBody = { content: Buffer } | { truncated: true; bytes: number };

async function readBody(response: Response, signal: AbortSignal, limit: number): Promise<ReadBody> {
  if (!response.body) return { content: Buffer.alloc(0) };
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    await response.body.cancel();
    return { truncated: true, bytes: declared };
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    signal.throwIfAborted();
    bytes += chunk.byteLength;
    if (bytes > limit) {
      await response.body.cancel().catch(() => undefined);
      return { truncated: true, bytes };
    }
    chunks.push(chunk);
  }
  return { content: Buffer.concat(chunks) };
}

/** What the output's `body` holds: the value, an artifact's reference past the inline limit, or the size. */
async function bodyOutput(read: ReadBody, mediaType: string | null, context: StepContext): Promise<unknown> {
  if (!('content' in read)) return read;
  const { content } = read;
  if (content.length > MAX_STEP_OUTPUT_BYTES) {
    if (!context.saveArtifact) return { truncated: true, bytes: content.length };
    return saveOrFail(context.saveArtifact, content, artifactMediaType(mediaType));
  }
  const text = content.toString('utf8');
  if (text.length === 0) return undefined;
  if (!/[/+]json\b/i.test(mediaType ?? '')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The response's media type as the artifact will be served, when it is a well-formed one. */
function artifactMediaType(contentType: string | null): string {
  const trimmed = contentType?.trim() ?? '';
  return /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"\r\n]*"|[\w.+-]+))*$/.test(trimmed) && trimmed.length <= 200 ? trimmed : 'application/octet-stream';
}

/** Records a failed call in the step log, then hands the failure on. */
function loggedFailure(context: StepContext, failure: Error, started: number): Error {
  context.log.error(`request failed: ${failure.message}`, { error: { type: (failure as { type?: string }).type ?? failure.name }, durationMs: Date.now() - started });
  return failure;
}

function callFailure(error: Error, cancelled: boolean, timeoutMs: number, context: Parameters<typeof httpFailure>[2]): Error {
  // A cancelled activity is reported as cancelled by the worker whatever it throws; keep the reason.
  if (cancelled) return error;
  if (error instanceof EgressRefusal) {
    const where = error.url === undefined || error.url === context.url ? '' : ` redirected to ${error.url}`;
    return httpFailure(StepErrorType.EgressDenied, `${context.method} ${context.url}${where}: ${error.message}`, context, {
      retryable: false,
      cause: error,
    });
  }
  if (error instanceof TooManyRedirects) {
    return httpFailure(StepErrorType.HttpTooManyRedirects, `${context.method} ${context.url}: ${error.message}`, context, {
      retryable: false,
      cause: error,
    });
  }
  if (error.name === 'TimeoutError') {
    return httpFailure(StepErrorType.HttpTimeout, `${context.method} ${context.url} did not answer within ${timeoutMs}ms`, context, {
      retryable: true,
      cause: error,
    });
  }
  const reason = (error.cause as Error | undefined)?.message ?? error.message;
  return httpFailure(StepErrorType.HttpNetworkError, `${context.method} ${context.url} failed: ${reason}`, context, {
    retryable: true,
    cause: error,
  });
}

function keptHeaders(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = headers.get(name);
    if (value !== null) kept[name] = value;
  }
  return kept;
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function excerpt(read: ReadBody): string | undefined {
  if (!('content' in read) || read.content.length === 0) return undefined;
  const text = read.content.subarray(0, EXCERPT_CHARS * 4).toString('utf8');
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}
