import { z } from 'zod';
import { problemResponse, problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { PutSecretBody, PutSecretHeaders, SecretList, SecretNameParam, SecretResource } from './schemas';

/** The secrets API in the OpenAPI document; imported by the router so the two cannot drift apart. */

const tags = ['Secrets'];
const BASE = '/api/v1/secrets';
const NameParams = z.object({ name: SecretNameParam });
const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });

registry.registerPath({
  method: 'get',
  path: BASE,
  tags,
  summary: "The caller's tenant's secrets (admin): names and metadata, never values",
  responses: { 200: json('Every secret, by name', SecretList) },
});

registry.registerPath({
  method: 'get',
  path: `${BASE}/{name}`,
  tags,
  summary: "A secret's metadata (admin; never its value)",
  request: { params: NameParams },
  responses: { 200: json('The secret', SecretResource), ...problemResponses(404) },
});

registry.registerPath({
  method: 'put',
  path: `${BASE}/{name}`,
  tags,
  summary: 'Create or replace a secret (admin); the value is stored encrypted and never shown again',
  request: {
    params: NameParams,
    headers: PutSecretHeaders,
    body: { required: true, content: { 'application/json': { schema: PutSecretBody } } },
  },
  responses: {
    201: json('Created', SecretResource),
    200: json('Replaced', SecretResource),
    409: problemResponse(409, '`If-None-Match: *` was sent and the secret exists'),
    413: problemResponse(413, 'The body is too large, or the value is longer than 64 KiB of UTF-8'),
    422: problemResponse(422, 'The name is not a valid secret name'),
  },
});

registry.registerPath({
  method: 'delete',
  path: `${BASE}/{name}`,
  tags,
  summary: 'Delete a secret (admin); steps referencing it then fail as SecretNotFound',
  request: { params: NameParams },
  responses: { 204: { description: 'Deleted' }, ...problemResponses(404) },
});
