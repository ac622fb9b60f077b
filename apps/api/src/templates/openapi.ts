import { z } from 'zod';
import { registry } from '../openapi/registry';
import { problemResponses } from '../http/problem-schema';
import {
  CreatedTemplateResource,
  documentedBodies,
  ListTemplatesQuery,
  ListVersionsQuery,
  RollbackBody,
  SpecDiffResource,
  TemplatePage,
  TemplateResource,
  UpdateTemplateBody,
  ValidationResult,
  VersionPage,
  VersionResource,
} from './schemas';

/** The templates API in the OpenAPI document; imported by the router so the two cannot drift apart. */

const tags = ['Templates'];
const BASE = '/api/v1/templates';
const TemplateParams = z.object({ id: z.uuid() });
const VersionParams = TemplateParams.extend({ number: z.number().int().min(1) });
const DiffParams = TemplateParams.extend({ from: z.number().int().min(1), to: z.number().int().min(1) });

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** Bodies are accepted as JSON or YAML with the same shape. */
function body(schema: z.ZodType, required = true) {
  const content = Object.fromEntries(['application/json', ...YAML_TYPES].map((type) => [type, { schema }]));
  return { body: { required, content } };
}

function json(description: string, schema: z.ZodType) {
  return { description, content: { 'application/json': { schema } } };
}

registry.registerPath({
  method: 'post',
  path: BASE,
  tags,
  summary: 'Create a template with its first version',
  request: body(documentedBodies.createTemplate),
  responses: { 201: json('The template and version 1', CreatedTemplateResource), ...problemResponses(400, 409, 413, 415, 422) },
});

registry.registerPath({
  method: 'get',
  path: BASE,
  tags,
  summary: 'Search templates, newest first',
  request: { query: ListTemplatesQuery },
  responses: { 200: json('A page of templates', TemplatePage), ...problemResponses(400) },
});

registry.registerPath({
  method: 'post',
  path: `${BASE}/validate`,
  tags,
  summary: 'Check a spec without storing it',
  request: body(documentedBodies.validate),
  responses: { 200: json('The spec is valid', ValidationResult), ...problemResponses(400, 413, 415, 422) },
});

registry.registerPath({
  method: 'get',
  path: `${BASE}/{id}`,
  tags,
  summary: 'Get a template',
  request: { params: TemplateParams },
  responses: { 200: json('The template', TemplateResource), ...problemResponses(404) },
});

registry.registerPath({
  method: 'patch',
  path: `${BASE}/{id}`,
  tags,
  summary: "Change a template's name, description or labels",
  request: { params: TemplateParams, ...body(UpdateTemplateBody) },
  responses: { 200: json('The changed template', TemplateResource), ...problemResponses(400, 404, 409, 415) },
});

registry.registerPath({
  method: 'delete',
  path: `${BASE}/{id}`,
  tags,
  summary: 'Archive a template (idempotent); refused while runs of it are active',
  request: { params: TemplateParams },
  responses: { 204: { description: 'Archived' }, ...problemResponses(404, 409, 503) },
});

registry.registerPath({
  method: 'get',
  path: `${BASE}/{id}/versions`,
  tags,
  summary: 'List versions, newest first',
  request: { params: TemplateParams, query: ListVersionsQuery },
  responses: { 200: json('A page of versions', VersionPage), ...problemResponses(400, 404) },
});

registry.registerPath({
  method: 'post',
  path: `${BASE}/{id}/versions`,
  tags,
  summary: 'Add a version; a spec equal to the latest returns the latest',
  request: { params: TemplateParams, ...body(documentedBodies.createVersion) },
  responses: {
    200: json('The spec equals the latest version, which is returned', VersionResource),
    201: json('The new version', VersionResource),
    ...problemResponses(400, 404, 409, 413, 415, 422),
  },
});

registry.registerPath({
  method: 'get',
  path: `${BASE}/{id}/versions/{number}`,
  tags,
  summary: 'Get a version',
  request: { params: VersionParams },
  responses: { 200: json('The version', VersionResource), ...problemResponses(404) },
});

registry.registerPath({
  method: 'get',
  path: `${BASE}/{id}/versions/{from}/diff/{to}`,
  tags,
  summary: 'Structural diff of two versions (steps and groups matched by id)',
  request: { params: DiffParams },
  responses: { 200: json('What changed from one version to the other', SpecDiffResource), ...problemResponses(404) },
});

registry.registerPath({
  method: 'post',
  path: `${BASE}/{id}/versions/{number}/rollback`,
  tags,
  summary: "Add a version with an earlier version's spec",
  // The body only carries an optional message: a request without one is a rollback without a message.
  request: { params: VersionParams, ...body(RollbackBody, false) },
  responses: {
    200: json('That spec is already the latest version, which is returned', VersionResource),
    201: json('The new version', VersionResource),
    ...problemResponses(400, 404, 409, 415),
  },
});
