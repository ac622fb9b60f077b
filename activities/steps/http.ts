import { Context } from '@temporalio/activity';
import type { Headers, Response } from 'undici';
import type { HttpWith } from '../../workflows/spec/step-types';
import { parseDuration } from '../../workflows/spec/duration';
import { MAX_STEP_OUTPUT_BYTES } from '../../workflows/engine/limits';
import { EgressRefusal, TooManyRedirects, type GuardedFetch } from '../egress';
import { httpFailure, StepErrorType } from '../errors';
import type { StepContext, StepImplementation } from '../step-activity';

export interface HttpStepOutput {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the response says it is JSON, the text otherwise, or `{ truncated, bytes }` when too large. */
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
 * Size: a body larger than MAX_STEP_OUTPUT_BYTES is not read further and is returned as
 * `{ truncated: true, bytes }`, so large answers never reach the workflow history.
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
  try {
    let response: Response;
    try {
      response = await guardedFetch.fetch(params.url, {
        method: params.method,
        headers: requestHeaders(params, context),
        body: params.body === undefined || params.method === 'GET' || params.method === 'HEAD' ? undefined : JSON.stringify(params.body),
        signal,
      });
    } catch (error) {
      throw callFailure(error as Error, activity.cancellationSignal.aborted, timeoutMs, failureContext);
    }
    const body = await readBody(response, signal).catch((error: Error) => {
      throw callFailure(error, activity.cancellationSignal.aborted, timeoutMs, failureContext);
    });
    context.logger.info(
      { method: params.method, url: context.redact(params.url), status: response.status, durationMs: Date.now() - started },
      'http step answered',
    );
    checkStatus(params, response.status, { ...failureContext, status: response.status, bodyExcerpt: excerpt(body) });
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

/** Reads at most MAX_STEP_OUTPUT_BYTES; a larger body is abandoned and reported by its size. */
async function readBody(response: Response, signal: AbortSignal): Promise<unknown> {
  if (!response.body) return undefined;
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > MAX_STEP_OUTPUT_BYTES) {
    await response.body.cancel();
    return { truncated: true, bytes: declared };
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    signal.throwIfAborted();
    bytes += chunk.byteLength;
    if (bytes > MAX_STEP_OUTPUT_BYTES) {
      await response.body.cancel().catch(() => undefined);
      return { truncated: true, bytes };
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) return undefined;
  const isJson = /[/+]json\b/i.test(response.headers.get('content-type') ?? '');
  if (!isJson) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
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

function excerpt(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}
