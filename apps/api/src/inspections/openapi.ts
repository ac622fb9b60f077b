import { z } from 'zod';
import { problemResponse, problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { AcknowledgeBody, FindingList, FindingResource, InspectionRunResource, ListFindingsQuery, RunInspectionBody } from './schemas';

/** Inspections in the OpenAPI document; imported by the router so the two cannot drift apart. */

const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });
const tags = ['Inspections'];

registry.registerPath({
  method: 'get',
  path: '/api/v1/inspections',
  tags,
  summary: 'Inspection findings of the caller’s tenant, the most recently seen first',
  request: { query: ListFindingsQuery },
  responses: { 200: json('Findings', FindingList), ...problemResponses(400) },
});
registry.registerPath({
  method: 'post',
  path: '/api/v1/inspections/run',
  tags,
  summary: 'Run the inspection rules for the caller’s tenant now (joins one already running)',
  description: 'Waits for the inspection up to 30 s: 200 with what it changed, or 202 while it goes on in the background.',
  request: { body: { required: false, content: { 'application/json': { schema: RunInspectionBody } } } },
  responses: { 200: json('Done', InspectionRunResource), 202: json('Still running', InspectionRunResource) },
});
registry.registerPath({
  method: 'post',
  path: '/api/v1/inspections/{id}/acknowledge',
  tags,
  summary: 'Acknowledge a finding (for an unconfirmed dependency: confirm it); no alert until what is found changes',
  request: { params: z.object({ id: z.uuid() }), body: { required: false, content: { 'application/json': { schema: AcknowledgeBody } } } },
  responses: {
    200: json('The finding, acknowledged', FindingResource),
    ...problemResponses(404),
    409: problemResponse(409, 'The finding is resolved'),
  },
});
