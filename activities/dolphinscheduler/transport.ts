import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import {
  DolphinSchedulerAuthError,
  DolphinSchedulerError,
  DolphinSchedulerNetworkError,
  DolphinSchedulerProtocolError,
  DolphinSchedulerServerError,
  DolphinSchedulerTimeoutError,
  ERROR_CLASS_BY_CODE,
  errorForCode,
  type DolphinSchedulerCallContext,
} from './errors';

/** A form or query value; objects and arrays are sent as JSON strings, as the server expects. */
export type FieldValue = string | number | boolean | object | null | undefined;
export type Fields = Record<string, FieldValue>;

export interface TransportOptions {
  /** Including the context path, e.g. `http://ds:12345/dolphinscheduler`. */
  baseUrl: string;
  token: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
  logger?: Logger;
}

export interface CallSpec {
  operation: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Relative to the base URL, starting with `/`. */
  path: string;
  query?: Fields;
  form?: Fields;
  signal?: AbortSignal;
}

/** How much of a body that is not an envelope an error keeps. */
const EXCERPT_CHARS = 300;

/**
 * One call: the `token` header, form or query encoding, a timeout over the whole exchange, and the
 * envelope check. Resolves to the envelope's `data`; everything else is a DolphinSchedulerError.
 */
export async function call(options: TransportOptions, spec: CallSpec): Promise<unknown> {
  const path = spec.query ? `${spec.path}?${encodeFields(spec.query)}` : spec.path;
  const context: DolphinSchedulerCallContext = { operation: spec.operation, method: spec.method, path };
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = spec.signal ? AbortSignal.any([spec.signal, timeout]) : timeout;
  const started = Date.now();
  let status: number;
  let text: string;
  try {
    const response = await request(`${options.baseUrl}${path}`, {
      method: spec.method,
      headers: {
        token: options.token,
        accept: 'application/json',
        ...(spec.form ? { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' } : {}),
      },
      body: spec.form ? encodeFields(spec.form) : undefined,
      signal,
      dispatcher: options.dispatcher,
    });
    status = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    // The caller's own cancellation is not a DolphinScheduler failure: it goes back as it came.
    if (spec.signal?.aborted) throw spec.signal.reason;
    if (timeout.aborted) {
      throw new DolphinSchedulerTimeoutError(`no answer within ${options.timeoutMs} ms`, context, { cause: error });
    }
    throw new DolphinSchedulerNetworkError(`request failed: ${(error as Error).message}`, context, { cause: error });
  }
  const durationMs = Date.now() - started;
  try {
    const data = interpret(status, text, context);
    options.logger?.debug({ ...context, status, durationMs }, 'dolphinscheduler call');
    return data;
  } catch (error) {
    const failure = error as DolphinSchedulerError;
    options.logger?.info({ ...context, status, code: failure.code, durationMs, error: failure.name }, 'dolphinscheduler call failed');
    throw failure;
  }
}

function interpret(status: number, text: string, context: DolphinSchedulerCallContext): unknown {
  // A bad, expired or unknown token: 401 without a body (a proxy's 403 is the same to us).
  if (status === 401 || status === 403) {
    throw new DolphinSchedulerAuthError(`HTTP ${status}: the token was refused`, { ...context, httpStatus: status });
  }
  const envelope = parseEnvelope(text);
  const unavailable = status >= 500 || status === 429;
  if (envelope && envelope.code !== 0) {
    // The business code decides; only an unknown code on a 5xx counts as the server failing.
    if (unavailable && !ERROR_CLASS_BY_CODE.has(envelope.code)) {
      throw new DolphinSchedulerServerError(`HTTP ${status}, code ${envelope.code}: ${envelope.msg}`, {
        ...context,
        httpStatus: status,
        code: envelope.code,
        serverMessage: envelope.msg,
      });
    }
    throw errorForCode(envelope.code, envelope.msg, { ...context, httpStatus: status });
  }
  if (unavailable) {
    throw new DolphinSchedulerServerError(`HTTP ${status}`, { ...context, httpStatus: status, serverMessage: excerpt(text) });
  }
  if (!envelope || status < 200 || status >= 300) {
    const hint = status === 404 ? ' (no such path on this server: is the dialect right?)' : '';
    throw new DolphinSchedulerProtocolError(`HTTP ${status} without a DolphinScheduler envelope${hint}`, {
      ...context,
      httpStatus: status,
      serverMessage: excerpt(text),
    });
  }
  return envelope.data;
}

interface Envelope {
  code: number;
  msg: string;
  data: unknown;
}

function parseEnvelope(text: string): Envelope | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { code, msg, data } = body as Record<string, unknown>;
  if (typeof code !== 'number' || !Number.isInteger(code)) return undefined;
  return { code, msg: typeof msg === 'string' ? msg : '', data };
}

function excerpt(text: string): string {
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}

/** `application/x-www-form-urlencoded`, JSON for structured values, undefined fields left out. */
export function encodeFields(fields: Fields): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    params.append(name, typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value ?? ''));
  }
  return params.toString();
}
