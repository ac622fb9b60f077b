import { problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { AuditPage, ListAuditQuery } from './schemas';

/** The audit log in the OpenAPI document; imported by the router so the two cannot drift apart. */

registry.registerPath({
  method: 'get',
  path: '/api/v1/audit',
  tags: ['Audit'],
  summary: 'The tenant’s audit log (admin), newest first: changes, decisions and refused writes',
  request: { query: ListAuditQuery },
  responses: { 200: { description: 'A page of entries', content: { 'application/json': { schema: AuditPage } } }, ...problemResponses(400) },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/audit/system',
  tags: ['Audit'],
  summary:
    'The system scope’s audit log (system administrators), newest first: refused writes whose credential named no tenant (none, or one that is not ours), and counts of those beyond its budget',
  request: { query: ListAuditQuery },
  responses: { 200: { description: 'A page of entries', content: { 'application/json': { schema: AuditPage } } }, ...problemResponses(400) },
});
