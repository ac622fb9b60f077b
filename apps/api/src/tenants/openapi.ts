import type { z } from 'zod';
import { problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { CreatedTenantResource, CreateTenantBody, TenantList } from './schemas';

/** The tenants API in the OpenAPI document; imported by the router so the two cannot drift apart. */

const tags = ['Tenants'];
const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });

registry.registerPath({
  method: 'post',
  path: '/api/v1/tenants',
  tags,
  summary: 'Create a tenant and its first admin token (system administrators)',
  request: { body: { required: true, content: { 'application/json': { schema: CreateTenantBody } } } },
  responses: { 201: json('The tenant, with its admin token’s secret shown only here', CreatedTenantResource), ...problemResponses(409) },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/tenants',
  tags,
  summary: 'List tenants (system administrators)',
  responses: { 200: json('The tenants', TenantList) },
});
