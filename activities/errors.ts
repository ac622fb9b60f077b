import { ApplicationFailure } from '@temporalio/activity';

/** Failure types raised by step activities; `retry.nonRetryableErrors` in a spec may name them. */
export const StepErrorType = {
  HttpClientError: 'HttpClientError',
  HttpServerError: 'HttpServerError',
  HttpNetworkError: 'HttpNetworkError',
  HttpTimeout: 'HttpTimeout',
  HttpUnexpectedStatus: 'HttpUnexpectedStatus',
  /** More redirects than the egress policy's cap (EGRESS_MAX_REDIRECTS). Not retried. */
  HttpTooManyRedirects: 'HttpTooManyRedirects',
  /** The URL, a redirect, or what its host resolved to is refused by the egress policy. Not retried. */
  EgressDenied: 'EgressDenied',
} as const;

export interface HttpFailureContext {
  method: string;
  url: string;
  status?: number;
  /** The start of the response body, to tell what the server said without storing all of it. */
  bodyExcerpt?: string;
}

export function httpFailure(
  type: (typeof StepErrorType)[keyof typeof StepErrorType],
  message: string,
  context: HttpFailureContext,
  options: { retryable: boolean; cause?: Error },
): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: !options.retryable,
    details: [context],
    cause: options.cause,
  });
}
