import { z } from 'zod';
import { problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { RunParamsSchema } from '../runs/schemas';
import { ArtifactParams, ListLogsQuery, StepLogPage, StreamLogsHeaders, StreamLogsQuery } from './schemas';

/** Step logs and artifacts in the OpenAPI document; imported by their router. */

const tags = ['runs'];

registry.registerPath({
  method: 'get',
  path: '/api/v1/runs/{id}/logs',
  tags,
  summary: 'The run’s step logs, oldest first: what steps recorded outside the history (the HTTP step’s request and answer)',
  request: { params: RunParamsSchema, query: ListLogsQuery },
  responses: {
    200: { description: 'A page of entries', content: { 'application/json': { schema: StepLogPage } } },
    ...problemResponses(400, 404),
  },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/runs/{id}/logs/stream',
  tags,
  summary: 'A live tail of the run’s step logs (Server-Sent Events) until the run has ended or the client leaves',
  description:
    'Each frame is `event: log`, `id:` the entry id, `data:` a StepLogEntry. Once the run has ended and its last entry was sent, an `event: end` frame (`data: { status }`, the execution’s status) closes the stream. Reconnecting with `Last-Event-ID` (or `after`) resumes after that entry.',
  request: { params: RunParamsSchema, query: StreamLogsQuery, headers: StreamLogsHeaders },
  responses: {
    200: { description: 'Entries as they are written', content: { 'text/event-stream': { schema: z.string() } } },
    204: { description: 'The run has ended and nothing follows the entry resumed after: an EventSource stops reconnecting' },
    ...problemResponses(400, 404),
  },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/runs/{id}/artifacts/{artifactId}',
  tags,
  summary: 'Download an artifact of the run: a step output too large for the history, named by `{ "$artifact": { id, … } }` in the output',
  request: { params: RunParamsSchema.extend(ArtifactParams.shape) },
  responses: {
    200: {
      description: 'The artifact’s bytes, in its media type; ETag is its SHA-256',
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...problemResponses(404, 503),
  },
});
