import { ApplicationFailure } from '@temporalio/activity';

/**
 * Failures of DolphinScheduler calls. Every one says which call failed (`operation`, `method`,
 * `path`: never the token, which travels in a header only), what the server said (`code`,
 * `serverMessage`, `httpStatus`), and whether trying again may help (`retryable`).
 *
 * The server answers business errors with HTTP 200 and a non-zero `code` in its envelope, so the
 * class follows the code; HTTP status decides only where there is no envelope (401, 5xx).
 */
export interface DolphinSchedulerCallContext {
  /** The client method, e.g. `createDefinition`. */
  operation: string;
  method: string;
  /** Path and query relative to the base URL (no token is ever in either). */
  path: string;
}

export interface DolphinSchedulerErrorDetails extends DolphinSchedulerCallContext {
  httpStatus?: number;
  /** The envelope's `code`. */
  code?: number;
  /** The envelope's `msg`, or the start of a body that was not an envelope. */
  serverMessage?: string;
}

export abstract class DolphinSchedulerError extends Error {
  abstract readonly retryable: boolean;
  readonly operation: string;
  readonly method: string;
  readonly path: string;
  readonly httpStatus?: number;
  readonly code?: number;
  readonly serverMessage?: string;

  constructor(message: string, details: DolphinSchedulerErrorDetails, options?: { cause?: unknown }) {
    super(`DolphinScheduler ${details.operation} (${details.method} ${details.path}): ${message}`, options);
    this.name = new.target.name;
    this.operation = details.operation;
    this.method = details.method;
    this.path = details.path;
    this.httpStatus = details.httpStatus;
    this.code = details.code;
    this.serverMessage = details.serverMessage;
  }

  /** What a log line or an API answer may show: no stack, no token. */
  toJSON(): Record<string, unknown> {
    return {
      type: this.name,
      message: this.message,
      retryable: this.retryable,
      operation: this.operation,
      method: this.method,
      path: this.path,
      httpStatus: this.httpStatus,
      code: this.code,
      serverMessage: this.serverMessage,
    };
  }
}

/** HTTP 401 (no envelope): the token is wrong, expired or its user disabled. Not retryable: a new token is needed. */
export class DolphinSchedulerAuthError extends DolphinSchedulerError {
  readonly retryable = false;
}

/** 30001 / 30002: the token's user may not do this, or not in this project. */
export class DolphinSchedulerPermissionError extends DolphinSchedulerError {
  readonly retryable = false;
}

/** 10019 (project) / 10168 (definition in the project): the name is taken. */
export class DolphinSchedulerNameExistsError extends DolphinSchedulerError {
  readonly retryable = false;
}

/** The addressed project, definition, instance or schedule does not exist (10018, 10190, 50003, 50001, 10022, 10203). */
export class DolphinSchedulerNotFoundError extends DolphinSchedulerError {
  readonly retryable = false;
}

/** 50004: the definition (or a sub-workflow) is not online, so it cannot start or be scheduled. */
export class DolphinSchedulerNotOnlineError extends DolphinSchedulerError {
  readonly retryable = false;
}

/** 50008: the definition is online, so it cannot be edited: take it offline first. */
export class DolphinSchedulerOnlineNotEditableError extends DolphinSchedulerError {
  readonly retryable = false;
}

/** 50017 / 50019 / 50020 / 50030 / 50035 / 50036: the tasks or relations do not make a valid DAG. */
export class DolphinSchedulerInvalidDagError extends DolphinSchedulerError {
  readonly retryable = false;
}

/**
 * The object is in a state that forbids the operation: deleting an online definition (50021), an
 * instance's state (50006) or running command (50009), updating (10023) or deleting (50023) an
 * online schedule, a second schedule for one definition (10204).
 */
export class DolphinSchedulerStateConflictError extends DolphinSchedulerError {
  readonly retryable = false;
}

/** Any other non-zero envelope code (bad parameters 10001, generic create/update failures...). */
export class DolphinSchedulerRequestError extends DolphinSchedulerError {
  readonly retryable = false;
}

/** HTTP 5xx or 429 without a known business code: the server or a proxy in front of it failed. */
export class DolphinSchedulerServerError extends DolphinSchedulerError {
  readonly retryable = true;
}

/** No complete answer within the request timeout. */
export class DolphinSchedulerTimeoutError extends DolphinSchedulerError {
  readonly retryable = true;
}

/** The connection failed (refused, reset, DNS). */
export class DolphinSchedulerNetworkError extends DolphinSchedulerError {
  readonly retryable = true;
}

/**
 * The answer is not DolphinScheduler's envelope (an HTML page, another service's JSON, a success
 * without the data the call needs): the base URL most likely points elsewhere. Not retryable.
 */
export class DolphinSchedulerProtocolError extends DolphinSchedulerError {
  readonly retryable = false;
}

type ErrorClass = new (message: string, details: DolphinSchedulerErrorDetails) => DolphinSchedulerError;

/** Envelope codes with a class of their own; the rest are DolphinSchedulerRequestError. */
export const ERROR_CLASS_BY_CODE: ReadonlyMap<number, ErrorClass> = new Map<number, ErrorClass>([
  [30001, DolphinSchedulerPermissionError],
  [30002, DolphinSchedulerPermissionError],
  [10019, DolphinSchedulerNameExistsError],
  [10168, DolphinSchedulerNameExistsError],
  [10018, DolphinSchedulerNotFoundError],
  [10190, DolphinSchedulerNotFoundError],
  [50003, DolphinSchedulerNotFoundError],
  [50001, DolphinSchedulerNotFoundError],
  [10022, DolphinSchedulerNotFoundError],
  [10203, DolphinSchedulerNotFoundError],
  [50004, DolphinSchedulerNotOnlineError],
  [50008, DolphinSchedulerOnlineNotEditableError],
  [50017, DolphinSchedulerInvalidDagError],
  [50019, DolphinSchedulerInvalidDagError],
  [50020, DolphinSchedulerInvalidDagError],
  [50030, DolphinSchedulerInvalidDagError],
  [50035, DolphinSchedulerInvalidDagError],
  [50036, DolphinSchedulerInvalidDagError],
  [50021, DolphinSchedulerStateConflictError],
  [50006, DolphinSchedulerStateConflictError],
  [50009, DolphinSchedulerStateConflictError],
  [10023, DolphinSchedulerStateConflictError],
  [50023, DolphinSchedulerStateConflictError],
  [10204, DolphinSchedulerStateConflictError],
]);

/** The error for a non-zero envelope code. */
export function errorForCode(code: number, serverMessage: string, details: DolphinSchedulerErrorDetails): DolphinSchedulerError {
  const ErrorType = ERROR_CLASS_BY_CODE.get(code) ?? DolphinSchedulerRequestError;
  return new ErrorType(`code ${code}: ${serverMessage}`, { ...details, code, serverMessage });
}

/**
 * The Temporal failure for an activity: typed by the class name (so a retry policy's
 * `nonRetryableErrorTypes` may name it) and non-retryable exactly when the error is.
 */
export function toApplicationFailure(error: DolphinSchedulerError): ApplicationFailure {
  return ApplicationFailure.create({
    type: error.name,
    message: error.message,
    nonRetryable: !error.retryable,
    details: [error.toJSON()],
  });
}
