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
  /** The step references a secret its run's tenant does not have. Not retried. */
  SecretNotFound: 'SecretNotFound',
  /** The step references secrets and the worker has no secret store (DATABASE_URL, SECRETS_KEYS). Not retried. */
  SecretsUnavailable: 'SecretsUnavailable',
  /** A secret's ciphertext does not open: its key is not in SECRETS_KEYS, or the row was altered. Not retried. */
  SecretUnreadable: 'SecretUnreadable',
  /** A shell step reached flowpilot's worker, which never runs shell (it runs on DolphinScheduler). Not retried. */
  ShellNotRunHere: 'ShellNotRunHere',
  /** An output over the inline limit could not be stored as an artifact (the store did not answer). Retried. */
  ArtifactWriteFailed: 'ArtifactWriteFailed',
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
