import { z } from 'zod';
import { problemResponse, problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { ListPublishesQuery, PublishBody, PublishDecisionBody, PublishPage, PublishResource } from './publish-schemas';
import { PutTargetBody, TargetList, TargetNameParam, TargetResource } from './target-schemas';

/** DolphinScheduler targets and publishing in the OpenAPI document; imported by the router so the two cannot drift apart. */

const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });
const jsonBody = (schema: z.ZodType, required = true) => ({ body: { required, content: { 'application/json': { schema } } } });

const TARGETS = '/api/v1/dolphinscheduler/targets';
const targetTags = ['DolphinScheduler targets'];
const TargetParams = z.object({ name: TargetNameParam });

registry.registerPath({
  method: 'get',
  path: TARGETS,
  tags: targetTags,
  summary: "The caller's tenant's DolphinScheduler targets",
  responses: { 200: json('Every target, by name', TargetList) },
});
registry.registerPath({
  method: 'get',
  path: `${TARGETS}/{name}`,
  tags: targetTags,
  summary: 'A target (its token secret by name; the token is never shown)',
  request: { params: TargetParams },
  responses: { 200: json('The target', TargetResource), ...problemResponses(404) },
});
registry.registerPath({
  method: 'put',
  path: `${TARGETS}/{name}`,
  tags: targetTags,
  summary: 'Create or replace a target (admin)',
  request: { params: TargetParams, ...jsonBody(PutTargetBody) },
  responses: {
    201: json('Created', TargetResource),
    200: json('Replaced', TargetResource),
    422: problemResponse(422, 'The name is not a target name, or tokenSecret names no secret of the tenant'),
  },
});
registry.registerPath({
  method: 'delete',
  path: `${TARGETS}/{name}`,
  tags: targetTags,
  summary: 'Delete a target (admin); its publish records stay',
  request: { params: TargetParams },
  responses: { 204: { description: 'Deleted' }, ...problemResponses(404) },
});

const publishTags = ['Publishing'];
const TemplateParams = z.object({ id: z.uuid() });

registry.registerPath({
  method: 'post',
  path: '/api/v1/templates/{id}/versions/{number}/publish',
  tags: publishTags,
  summary: 'Publish a version to a DolphinScheduler target, as a durable workflow',
  description:
    'Optionally waits for an approval, then ensures the project, creates or updates the definition (offline first when online), brings it online and creates or updates the schedule. The same request again answers the publish it made (200).',
  request: { params: TemplateParams.extend({ number: z.number().int().min(1) }), ...jsonBody(PublishBody) },
  responses: {
    202: json('Queued: follow it at the Location', PublishResource),
    200: json('The same request was made before: its publish', PublishResource),
    ...problemResponses(404),
    409: problemResponse(409, 'The template is archived'),
    422: problemResponse(422, 'The target does not exist, or the spec cannot be mapped (every problem in invalidParams, each with its stepId); nothing was sent'),
  },
});

for (const state of ['online', 'offline'] as const) {
  registry.registerPath({
    method: 'post',
    path: `/api/v1/templates/{id}/targets/{target}/${state}`,
    tags: publishTags,
    summary: state === 'online' ? 'Bring the published definition online, with its schedules' : 'Take the published definition offline (its schedules too)',
    request: { params: TemplateParams.extend({ target: TargetNameParam }) },
    responses: {
      202: json('Queued behind any publish of this template to this target', PublishResource),
      200: json('The same request is already queued or running', PublishResource),
      ...problemResponses(404),
      409: problemResponse(409, 'The template was never published to this target'),
    },
  });
}

registry.registerPath({
  method: 'get',
  path: '/api/v1/publishes',
  tags: publishTags,
  summary: 'Publish records, newest first',
  request: { query: ListPublishesQuery },
  responses: { 200: json('A page of publishes', PublishPage), ...problemResponses(400) },
});
registry.registerPath({
  method: 'get',
  path: '/api/v1/publishes/{id}',
  tags: publishTags,
  summary: 'A publish: version, target, DolphinScheduler codes and versions, who, when, status, error, steps',
  request: { params: TemplateParams },
  responses: { 200: json('The publish', PublishResource), ...problemResponses(404) },
});

const Decision = z.object({ decision: z.enum(['approved', 'rejected']), by: z.string(), at: z.string(), comment: z.string().optional() }).openapi('PublishDecision');
for (const decision of ['approve', 'reject'] as const) {
  registry.registerPath({
    method: 'post',
    path: `/api/v1/publishes/{id}/${decision}`,
    tags: publishTags,
    summary: decision === 'approve' ? 'Approve a publish waiting for an approval (not one’s own)' : 'Reject a publish waiting for an approval',
    request: { params: TemplateParams, ...jsonBody(PublishDecisionBody, false) },
    responses: {
      200: json('The decision', Decision),
      ...problemResponses(404),
      403: problemResponse(403, 'The credential lacks a role that approves (approver, admin), or the requester approves their own publish'),
      409: problemResponse(409, 'The publish is not waiting for an approval'),
    },
  });
}
