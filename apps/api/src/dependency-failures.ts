import { Prisma } from '@prisma/client';
import { isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';

/**
 * The API's dependencies failing (down, hung, overloaded) rather than refusing a request: the
 * request may succeed when retried later, so it is answered 503 naming the dependency, never 500.
 * This is the one place that recognises such failures in what Prisma, pg and Temporal throw.
 */

export type Dependency = 'database' | 'temporal';

export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: Dependency,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DependencyUnavailableError';
  }
}

/**
 * Temporal (or gRPC) refusing what it was sent as too large: a payload over the server's blob
 * limit, or a message over gRPC's maximum. Retrying cannot help, so it is never a 503 (nor a 500):
 * the API answers 413. Recognised by message through a few causes, as the client wraps them.
 */
const TOO_LARGE_MESSAGES = /larger than max|blob data size exceeds|exceeds size limit|payload.{0,20}too large|message too large/i;

export function isPayloadTooLarge(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const message = (current as { message?: unknown; details?: unknown }).message;
    const details = (current as { details?: unknown }).details;
    if (typeof message === 'string' && TOO_LARGE_MESSAGES.test(message)) return true;
    if (typeof details === 'string' && TOO_LARGE_MESSAGES.test(details)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The failure as a DependencyUnavailableError when it is one; undefined for every other error. */
export function asDependencyUnavailable(error: unknown): DependencyUnavailableError | undefined {
  if (error instanceof DependencyUnavailableError) return error;
  if (isDatabaseUnavailable(error)) {
    return new DependencyUnavailableError('database', 'the database is unavailable or did not answer in time; retry later', { cause: error });
  }
  if (isTemporalUnavailable(error)) {
    return new DependencyUnavailableError('temporal', 'Temporal is unavailable or did not answer in time; retry later', { cause: error });
  }
  return undefined;
}

/**
 * Prisma codes: P1001 cannot reach the server, P1002 and P1008 timed out, P1017 the server closed
 * the connection, P2024 no pooled connection in time, P2028 a transaction could not start or
 * outlived its timeout, P2034 a write conflict or deadlock (retrying succeeds).
 */
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028', 'P2034']);

/** What @prisma/adapter-pg reports for connection failures (its `DriverAdapterError` kinds). */
const UNAVAILABLE_ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

/**
 * PostgreSQL's SQLSTATE classes 08 (connection exception) and 57 (operator intervention: a
 * statement cancelled by statement_timeout, a server shutting down or starting up), and 53300
 * (too many connections).
 */
const UNAVAILABLE_SQLSTATE = /^(08|57)|^53300$/;

/**
 * pg and pg-pool raise their timeouts and lost connections as plain Errors, which Prisma passes on
 * untouched; their messages are all that tells them apart.
 */
const PG_CONNECTION_FAILURES = [
  'Connection terminated due to connection timeout',
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Query read timeout',
  'timeout expired',
  'Client has encountered a connection error and is not queryable',
];

function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientInitializationError) return true;
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (UNAVAILABLE_PRISMA_CODES.has(error.code)) return true;
    const cause = (error.meta as { driverAdapterError?: { cause?: { kind?: string; originalCode?: string; code?: string } } } | undefined)
      ?.driverAdapterError?.cause;
    if (!cause?.kind) return false;
    if (UNAVAILABLE_ADAPTER_KINDS.has(cause.kind)) return true;
    const sqlState = cause.originalCode ?? cause.code;
    return cause.kind === 'postgres' && typeof sqlState === 'string' && UNAVAILABLE_SQLSTATE.test(sqlState);
  }
  return error instanceof Error && error.constructor === Error && PG_CONNECTION_FAILURES.includes(error.message);
}

const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNAVAILABLE = 14;
const UNAVAILABLE_GRPC_CODES = new Set([GRPC_DEADLINE_EXCEEDED, GRPC_RESOURCE_EXHAUSTED, GRPC_UNAVAILABLE]);

/** The client wraps gRPC failures (ServiceError and others, with the gRPC error as cause); look through a few causes. */
function isTemporalUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    if (current instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
    if (isGrpcServiceError(current) && UNAVAILABLE_GRPC_CODES.has(current.code)) return !isMessageTooLarge(current);
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * gRPC reports an answer over the client's message size limit (4 MB) as RESOURCE_EXHAUSTED too:
 * "Received message larger than max (6815744 vs. 4194304)". That is no outage (the same call fails
 * the same way however often it is retried): the caller must ask for less, e.g. a smaller page.
 */
export function isMessageTooLarge(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const { code, details, message } = current as { code?: unknown; details?: unknown; message?: unknown };
    if (code === GRPC_RESOURCE_EXHAUSTED && MESSAGE_TOO_LARGE.test(`${typeof details === 'string' ? details : ''} ${typeof message === 'string' ? message : ''}`)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

const MESSAGE_TOO_LARGE = /message larger than max/i;
