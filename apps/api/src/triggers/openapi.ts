import { z } from 'zod';
import { problemResponse, problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { CreatedTriggerResource, CreateTriggerBody, HookAccepted, TriggerList, TriggerResource, UpdateTriggerBody } from './schemas';

/** Webhook triggers and their inbound endpoint in the OpenAPI document; imported by the routers so they cannot drift apart. */

const tags = ['Webhook triggers'];
const BASE = '/api/v1/templates/{id}/triggers';
const TemplateParams = z.object({ id: z.uuid() });
const TriggerParams = TemplateParams.extend({ triggerId: z.uuid() });
const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });
const body = (schema: z.ZodType) => ({ body: { required: true, content: { 'application/json': { schema } } } });
const archived = problemResponse(409, 'The template is archived, or already has a trigger of that name');
const invalid = problemResponse(422, 'The mapping is not a valid expression (or reads secrets), or a pinned version does not exist');
const noSecrets = problemResponse(503, 'Secrets are not configured (SECRETS_KEYS): triggers keep their signing secrets as tenant secrets');

registry.registerPath({
  method: 'get',
  path: BASE,
  tags,
  summary: "The template's webhook triggers",
  request: { params: TemplateParams },
  responses: { 200: json('Every trigger of the template, oldest first', TriggerList), ...problemResponses(404) },
});

registry.registerPath({
  method: 'post',
  path: BASE,
  tags,
  summary: 'Create a webhook trigger (operator); the answer holds its signing secret, shown this once',
  request: { params: TemplateParams, ...body(CreateTriggerBody) },
  responses: { 201: json('The trigger and its secret', CreatedTriggerResource), ...problemResponses(404), 409: archived, 422: invalid, 503: noSecrets },
});

registry.registerPath({
  method: 'get',
  path: `${BASE}/{triggerId}`,
  tags,
  summary: 'A webhook trigger (never its secret)',
  request: { params: TriggerParams },
  responses: { 200: json('The trigger', TriggerResource), ...problemResponses(404) },
});

registry.registerPath({
  method: 'patch',
  path: `${BASE}/{triggerId}`,
  tags,
  summary: 'Change a webhook trigger (operator); fields left out keep their value',
  request: { params: TriggerParams, ...body(UpdateTriggerBody) },
  responses: { 200: json('The trigger', TriggerResource), ...problemResponses(404), 409: archived, 422: invalid },
});

registry.registerPath({
  method: 'delete',
  path: `${BASE}/{triggerId}`,
  tags,
  summary: 'Delete a webhook trigger and its signing secret (operator)',
  request: { params: TriggerParams },
  responses: { 204: { description: 'Deleted' }, ...problemResponses(404) },
});

registry.registerPath({
  method: 'post',
  path: `${BASE}/{triggerId}/secret`,
  tags,
  summary: 'Rotate the signing secret (operator); the answer holds the new one, shown this once',
  request: { params: TriggerParams },
  responses: { 200: json('The trigger and its new secret', CreatedTriggerResource), ...problemResponses(404), 503: noSecrets },
});

const header = (description: string, example: string) => z.string().meta({ description, example });

registry.registerPath({
  method: 'post',
  path: '/api/v1/hooks/{triggerId}',
  tags,
  summary: 'Deliver an event: starts a run of the trigger’s template with the payload mapped to its input (no bearer token: signed)',
  security: [],
  request: {
    params: z.object({ triggerId: z.uuid() }),
    headers: z.object({
      'x-flowpilot-timestamp': header('Unix seconds when the sender signed; at most 300 s from the server’s clock', '1764450000'),
      'x-flowpilot-signature': header('v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the trigger’s secret>; several comma-separated during a rotation', `v1=${'0'.repeat(64)}`),
      'x-flowpilot-delivery': header('The sender’s delivery id: a redelivery of it answers the run the first started', 'delivery-42'),
    }),
    body: { required: true, content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } },
  },
  responses: {
    201: json('A run started', HookAccepted),
    200: json('A redelivery: the run this delivery id started', HookAccepted),
    ...problemResponses(404),
    401: problemResponse(401, 'No signature, a malformed one, one that does not verify, or a stale timestamp'),
    409: problemResponse(409, 'The template is archived, or this delivery id started a run with another payload'),
    413: problemResponse(413, 'The body is larger than 256 KiB, or the mapped input larger than a run takes'),
    415: problemResponse(415, 'The body is not application/json'),
    422: problemResponse(422, 'The mapping failed on this payload or produced no object, or the input does not match the version’s inputs schema'),
  },
});
