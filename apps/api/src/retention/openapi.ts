import { problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { PutRetentionBody, RetentionPolicyResource } from './schemas';

registry.registerPath({
  method: 'get',
  path: '/api/v1/retention',
  tags: ['Retention'],
  summary: 'How long the tenant keeps step logs and artifacts',
  responses: { 200: { description: 'The policy', content: { 'application/json': { schema: RetentionPolicyResource } } } },
});

registry.registerPath({
  method: 'put',
  path: '/api/v1/retention',
  tags: ['Retention'],
  summary: 'Set how long the tenant keeps step logs and artifacts (admin, audited); a cleanup schedule removes what is older',
  request: { body: { required: true, content: { 'application/json': { schema: PutRetentionBody } } } },
  responses: {
    200: { description: 'The policy now in force', content: { 'application/json': { schema: RetentionPolicyResource } } },
    ...problemResponses(400),
  },
});
