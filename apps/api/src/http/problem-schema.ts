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
  400: 'Malformed body or invalid parameters',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict with the current state',
  413: 'Body or spec too large',
  415: 'Unsupported content type',
  422: 'Invalid workflow spec',
  503: 'A dependency is unavailable',
};

/** OpenAPI `responses` entries for the given error statuses. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: statusDescriptions[status] ?? 'Error',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    ]),
  );
}
