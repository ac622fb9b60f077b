import type { InvalidParam } from '../../../common/inputs/invalid-param';
/**
 * RFC 9457 problem details. Every error the API answers with is one of these, as
 * `application/problem+json`; handlers throw `ProblemError` and the error middleware renders it.
 */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

const PROBLEM_BASE = 'https://flowpilot.dev/problems/';

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problemType: string,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
    this.name = 'ProblemError';
  }

  toBody(instance?: string): ProblemBody {
    return {
      type: PROBLEM_BASE + this.problemType,
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }
}

export type { InvalidParam } from '../../../common/inputs/invalid-param';

export const problems = {
  badRequest: (detail: string, extensions?: Record<string, unknown>) =>
    new ProblemError(400, 'bad-request', 'Bad request', detail, extensions),
  invalidParams: (detail: string, invalidParams: InvalidParam[]) =>
    new ProblemError(400, 'invalid-parameters', 'Invalid parameters', detail, { invalidParams }),
  unauthorized: (detail: string) => new ProblemError(401, 'unauthorized', 'Unauthorized', detail),
  forbidden: (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail),
  notFound: (detail: string) => new ProblemError(404, 'not-found', 'Not found', detail),
  conflict: (detail: string, extensions?: Record<string, unknown>) =>
    new ProblemError(409, 'conflict', 'Conflict', detail, extensions),
  payloadTooLarge: (detail: string) => new ProblemError(413, 'payload-too-large', 'Payload too large', detail),
  unsupportedMediaType: (detail: string) =>
    new ProblemError(415, 'unsupported-media-type', 'Unsupported media type', detail),
  invalidSpec: (detail: string, invalidParams: InvalidParam[]) =>
    new ProblemError(422, 'invalid-spec', 'Invalid workflow spec', detail, { invalidParams }),
  unprocessable: (detail: string, invalidParams: InvalidParam[] = []) =>
    new ProblemError(422, 'unprocessable', 'Unprocessable content', detail, { invalidParams }),
  unavailable: (detail: string, extensions?: Record<string, unknown>) =>
    new ProblemError(503, 'unavailable', 'Service unavailable', detail, extensions),
  methodNotAllowed: (method: string, allowed: string[]) =>
    new ProblemError(405, 'method-not-allowed', 'Method not allowed', `${method} is not allowed here`, { allowed }),
  internal: () =>
    new ProblemError(500, 'internal', 'Internal server error', 'The server failed to answer; the failure is logged'),
};
