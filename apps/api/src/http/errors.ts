import { Prisma } from '@prisma/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../../../common/logger';
import { asDependencyUnavailable, isPayloadTooLarge, type DependencyUnavailableError } from '../dependency-failures';
import { ProblemError, problems } from './problem';

/** When a client should try again after a 503: a dependency that is down rarely comes back sooner. */
const RETRY_AFTER_SECONDS = 5;

/** Routes nobody registered. */
export const unknownRoute: RequestHandler = (req) => {
  throw problems.notFound(`no resource at ${req.method} ${req.path}`);
};

/**
 * Answers every failure as `application/problem+json`. Known failures (ProblemError, client errors
 * raised by Express and its body parsers, Prisma constraint errors) keep their meaning; a dependency
 * that is down or did not answer in time is a 503 with Retry-After naming it; anything else is
 * logged with the request's context and answered as a bare 500 that reveals nothing.
 */
export function renderProblems(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const problem = toProblem(error);
    if (problem.status >= 500) {
      (req.log ?? logger).error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    }
    if (problem.status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    res
      .status(problem.status)
      .type('application/problem+json')
      .json({ ...problem.toBody(req.originalUrl), requestId: req.id });
  };
}

export function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  if (isPayloadTooLarge(error)) return problems.payloadTooLarge('Temporal refused what this request would send it as too large');
  const unavailable = asDependencyUnavailable(error);
  if (unavailable) return fromUnavailable(unavailable);
  if (error instanceof Prisma.PrismaClientKnownRequestError) return fromPrisma(error);
  const clientError = asHttpClientError(error);
  if (clientError) return fromHttpClientError(clientError);
  return problems.internal();
}

/**
 * Client errors raised below our handlers: body-parser's (http-errors, marked `expose`) and the
 * router's URIError for undecodable path parameters. Both carry a 4xx status and a safe message.
 */
interface HttpClientError {
  status: number;
  message: string;
  type?: string;
}

function asHttpClientError(error: unknown): HttpClientError | undefined {
  if (!(error instanceof Error)) return undefined;
  const { status, statusCode, expose } = error as Error & { status?: unknown; statusCode?: unknown; expose?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  if (typeof code !== 'number' || code < 400 || code > 499) return undefined;
  if (expose !== true && !(error instanceof URIError)) return undefined;
  return { status: code, message: error.message, type: (error as { type?: string }).type };
}

function fromHttpClientError(error: HttpClientError): ProblemError {
  switch (error.status) {
    case 413:
      return problems.payloadTooLarge(`the body is larger than the server accepts (${error.message})`);
    case 415:
      return problems.unsupportedMediaType(error.message);
    default:
      return new ProblemError(error.status, 'bad-request', 'Bad request', error.message);
  }
}

function fromPrisma(error: Prisma.PrismaClientKnownRequestError): ProblemError {
  switch (error.code) {
    case 'P2002':
      return problems.conflict('a resource with the same unique fields already exists', {
        fields: uniqueFields(error),
      });
    case 'P2025':
      return problems.notFound('the resource does not exist');
    default:
      return problems.internal();
  }
}

/** The `dependency` extension tells a client (and an operator) which part of the system to wait for. */
function fromUnavailable(error: DependencyUnavailableError): ProblemError {
  return problems.unavailable(error.message, { dependency: error.dependency });
}

function uniqueFields(error: Prisma.PrismaClientKnownRequestError): unknown {
  const meta = error.meta as { target?: unknown; driverAdapterError?: { cause?: { constraint?: { fields?: unknown } } } };
  return meta?.target ?? meta?.driverAdapterError?.cause?.constraint?.fields;
}
