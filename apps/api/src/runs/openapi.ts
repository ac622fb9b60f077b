import { z } from 'zod';
import { ProblemSchema } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import {
  ApproveBodySchema,
  ControlBodySchema,
  EventsPageSchema,
  EventsQuerySchema,
  IdempotencyKeySchema,
  ListRunsQuerySchema,
  RejectBodySchema,
  RunDetailSchema,
  RunListSchema,
  RunParamsSchema,
  RunStatusSchema,
  StartRunBodySchema,
  StartRunResponseSchema,
  StepParamsSchema,
  StepViewSchema,
} from './schemas';

/** The runs API in the OpenAPI document; imported by the router so it is registered whenever the routes exist. */

const tags = ['runs'];
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } });
const json = <T extends z.ZodType>(description: string, schema: T) => ({ description, content: { 'application/json': { schema } } });
const jsonBody = <T extends z.ZodType>(schema: T, required = true) => ({ required, content: { 'application/json': { schema } } });

/** The schema the router parses the header with (visible ASCII, so its length is the same in any unit). */
const IdempotencyHeaders = z.object({ 'idempotency-key': IdempotencyKeySchema.optional() });

const StepControlResponseSchema = z.object({ runId: z.string(), step: StepViewSchema }).openapi('StepControlResult');
const RunControlResponseSchema = z
  .object({ runId: z.string(), status: RunStatusSchema, paused: z.boolean() })
  .openapi('RunControlResult');

registry.registerPath({
  method: 'post',
  path: '/api/v1/runs',
  tags,
  summary: 'Start a run of a template version',
  request: { headers: IdempotencyHeaders, body: jsonBody(StartRunBodySchema) },
  responses: {
    201: json('The run started', StartRunResponseSchema),
    200: json('The run an earlier request with the same Idempotency-Key started', StartRunResponseSchema),
    404: problem('No such template or version'),
    409: problem('The template is archived, or the Idempotency-Key was used for another request'),
    422: problem('The input does not match the version’s input schema, or the version has a shell step, which flowpilot never runs: it runs only on DolphinScheduler once published (see invalidParams)'),
  },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/runs',
  tags,
  summary: 'List runs from Temporal visibility (eventually consistent)',
  request: { query: ListRunsQuerySchema },
  responses: { 200: json('A page of runs', RunListSchema) },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/runs/{id}',
  tags,
  summary: 'A run with the state of every step',
  request: { params: RunParamsSchema },
  responses: {
    200: json('The run', RunDetailSchema),
    404: problem('No such run'),
    503: problem('The run is running but no worker answers for it right now'),
  },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/runs/{id}/events',
  tags,
  summary: 'The run’s events: a Server-Sent Events stream (Accept: text/event-stream) or a JSON page',
  description:
    'Streams until the run finishes; each SSE `id` is a stable event id, so reconnecting with `Last-Event-ID` resumes with nothing missed or repeated. Pollers pass `nextCursor` as `after`.',
  request: {
    params: RunParamsSchema,
    query: EventsQuerySchema,
    headers: z.object({ 'last-event-id': z.string().optional() }),
  },
  responses: {
    200: {
      description: 'Events',
      content: {
        'application/json': { schema: EventsPageSchema },
        'text/event-stream': { schema: z.string().openapi({ description: 'SSE frames: `id`, `event` (the event type), `data` (a RunEvent)' }) },
      },
    },
    404: problem('No such run'),
  },
});

const stepControls = [
  { action: 'approve', summary: 'Approve a waiting approval step', body: ApproveBodySchema },
  { action: 'reject', summary: 'Reject a waiting approval step', body: RejectBodySchema },
  { action: 'retry', summary: 'Run a held (failed) step again', body: undefined },
  { action: 'skip', summary: 'Skip a held (failed) step', body: undefined },
] as const;

for (const { action, summary, body } of stepControls) {
  registry.registerPath({
    method: 'post',
    path: `/api/v1/runs/{id}/steps/{stepId}/${action}`,
    tags,
    summary,
    request: { params: StepParamsSchema, headers: IdempotencyHeaders, ...(body ? { body: jsonBody(body, false) } : {}) },
    responses: {
      200: json('The step after the decision', StepControlResponseSchema),
      403: problem('The caller may not do this'),
      404: problem('No such run or step'),
      409: problem('The step or run is not in a state that allows this'),
      422: problem('The request is incomplete, e.g. a required reason is missing'),
    },
  });
}

for (const action of ['pause', 'resume'] as const) {
  registry.registerPath({
    method: 'post',
    path: `/api/v1/runs/{id}/${action}`,
    tags,
    summary: action === 'pause' ? 'Pause a run: no new steps start' : 'Resume a paused run',
    request: { params: RunParamsSchema, headers: IdempotencyHeaders, body: jsonBody(ControlBodySchema, false) },
    responses: {
      200: json('The run after the command', RunControlResponseSchema),
      403: problem('The caller may not do this'),
      404: problem('No such run'),
      409: problem(action === 'pause' ? 'The run is already paused or has finished' : 'The run is not paused or has finished'),
    },
  });
}

registry.registerPath({
  method: 'post',
  path: '/api/v1/runs/{id}/cancel',
  tags,
  summary: 'Cancel a run',
  description:
    'Requests cancellation and waits until the run has taken it (normally milliseconds). A run that has not taken it ' +
    'within the grace period (RUN_CANCEL_GRACE_MS, 10 s by default: its workflow task keeps failing, or no worker runs it) ' +
    'is terminated, with a reason naming the caller.',
  request: { params: RunParamsSchema },
  responses: {
    202: json(
      'Cancellation requested; the run ends cancelled',
      z.object({
        runId: z.string(),
        cancelRequested: z.literal(true),
        terminated: z.boolean().openapi({ description: 'The run did not take the cancellation in time and was terminated' }),
      }),
    ),
    404: problem('No such run'),
    409: problem('The run has finished'),
  },
});
