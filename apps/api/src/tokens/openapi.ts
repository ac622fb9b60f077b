import { z } from 'zod';
import { problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { CreatedTokenResource, CreateTokenBody, TokenList } from './schemas';

/** The tokens API in the OpenAPI document; imported by the router so the two cannot drift apart. */

const tags = ['Tokens'];
const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });

registry.registerPath({
  method: 'post',
  path: '/api/v1/tokens',
  tags,
  summary: 'Create an API token of the caller’s tenant (admin); the secret is in this answer only',
  request: { body: { required: true, content: { 'application/json': { schema: CreateTokenBody } } } },
  responses: { 201: json('The token and its secret', CreatedTokenResource) },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/tokens',
  tags,
  summary: 'List the tenant’s API tokens (admin), without secrets',
  responses: { 200: json('The tokens', TokenList) },
});

registry.registerPath({
  method: 'delete',
  path: '/api/v1/tokens/{id}',
  tags,
  summary: 'Revoke an API token (admin); API instances stop accepting it within 5 s',
  request: { params: z.object({ id: z.uuid() }) },
  responses: { 204: { description: 'Revoked' }, ...problemResponses(404) },
});
