import { z } from 'zod';
import { registry } from '../openapi/registry';

/** The OpenAPI shape of every error answer (see problem.ts), shared by all route modules. */
export const ProblemSchema = registry.register(
  'Problem',
  z
    .object({
      type: z.string().meta({ example: 'https://flowpilot.dev/problems/not-found' }),
      title: z.string(),
      status: z.number().int(),
      detail: z.string().optional(),
      instance: z.string().optional(),
      requestId: z.string().optional(),
      dependency: z
        .enum(['database', 'temporal', 'worker'])
        .optional()
        .meta({ description: 'With 503: the dependency that is down or did not answer in time' }),
      invalidParams: z
        .array(
          z.object({
            path: z.array(z.union([z.string(), z.number()])),
            message: z.string(),
            stepId: z.string().optional(),
          }),
        )
        .optional(),
    })
    .catchall(z.unknown())
    .meta({ description: 'RFC 9457 problem details' }),
);

const statusDescriptions: Record<number, string> = {
  400: 'Malformed request: invalid parameters or headers (a paging cursor this API did not hand out among them), a body that is not JSON or YAML, or text with NUL characters or unpaired surrogates anywhere in the body',
  401: 'No credential, or one that is malformed, unknown, expired or revoked (with `WWW-Authenticate: Bearer`)',
  403: 'The credential lacks the role this needs',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict with the current state',
  413: 'Body or spec too large (a YAML body also past 25,000 lines, indicators and flow items: send it as JSON)',
  415: 'Unsupported content type',
  422: 'Invalid workflow spec',
  429: 'Too many requests: the credential used its rate limit (reads or writes a minute); see `Retry-After` and the `RateLimit-*` headers',
  431: 'Request header fields too large',
  503: 'A dependency is unavailable',
};

/** An OpenAPI response entry for an error status, with the operation's own description if it has one. */
export function problemResponse(
  status: number,
  description = statusDescriptions[status] ?? 'Error',
): { description: string; headers?: Record<string, { description: string; schema: { type: 'integer'; minimum: number } }>; content: Record<string, { schema: typeof ProblemSchema }> } {
  const content = { 'application/problem+json': { schema: ProblemSchema } };
  if (status !== 503 && status !== 429) return { description, content };
  const integer = (text: string) => ({ description: text, schema: { type: 'integer' as const, minimum: 0 } });
  const retryAfter = integer('Seconds to wait before trying again');
  if (status === 503) return { description, headers: { 'Retry-After': retryAfter }, content };
  return {
    description,
    headers: {
      'Retry-After': retryAfter,
      'RateLimit-Limit': integer('Requests of this kind (reads or writes) the credential may make a minute'),
      'RateLimit-Remaining': integer('Requests left in the window (0 here)'),
      'RateLimit-Reset': integer('Seconds until the window ends'),
    },
    content,
  };
}

/** OpenAPI `responses` entries for the given error statuses. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, problemResponse(status)]));
}

/**
 * What any operation may answer whatever it does: a malformed request or header (400), a body
 * over the limit (413: any method's body is read before routing), header fields over Node's limit
 * (431, answered by the HTTP server itself, see http/server.ts), the credential's rate limit
 * used up (429, see http/rate-limit.ts), a dependency down (503); and for
 * methods that carry a body, a body in another content type (415). Operations list these first
 * and their own answers after, which may describe the same statuses more precisely.
 */
export function commonProblemResponses(method: string) {
  const withBody = method === 'post' || method === 'patch' || method === 'put';
  return problemResponses(400, 413, ...(withBody ? [415] : []), 429, 431, 503);
}
