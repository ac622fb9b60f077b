import { z } from 'zod';
import { registry } from '../openapi/registry';
import { problemResponse, problemResponses } from '../http/problem-schema';
import { DryRunResource, EvaluateBody, StatsQueryFields, TemplateStatsResource, VersionAnalysisResource } from './schemas';

/** Template stats, version analysis and step dry runs in the OpenAPI document; imported by the router. */

const tags = ['Templates'];
const BASE = '/api/v1/templates';
const TemplateParams = z.object({ id: z.uuid() });
const VersionParams = TemplateParams.extend({ number: z.number().int().min(1) });

function json(description: string, schema: z.ZodType) {
  return { description, content: { 'application/json': { schema } } };
}

registry.registerPath({
  method: 'get',
  path: `${BASE}/{id}/stats`,
  tags,
  summary: 'Run stats of a template over a window of start times: by status, success rate, durations, and per step',
  request: { params: TemplateParams, query: StatsQueryFields },
  responses: { 200: json('The stats', TemplateStatsResource), ...problemResponses(400, 404) },
});

registry.registerPath({
  method: 'get',
  path: `${BASE}/{id}/versions/{number}/analysis`,
  tags,
  summary: "A version's levels, depth, widest level and critical path (by observed medians, else declared durations, else step count)",
  request: { params: VersionParams },
  responses: { 200: json('The analysis', VersionAnalysisResource), ...problemResponses(404) },
});

registry.registerPath({
  method: 'post',
  path: `${BASE}/{id}/versions/{number}/evaluate`,
  tags,
  summary: "Dry-run one step's `when` and `with` against sample inputs and step outputs, with the workflow's expression code and bounds",
  request: { params: VersionParams, body: { required: true, content: { 'application/json': { schema: EvaluateBody } } } },
  responses: {
    200: json('What the step would do', DryRunResource),
    ...problemResponses(400, 404, 415),
    422: problemResponse(
      422,
      'An expression failed (`expression` says which and where; `bound` and `limit` name the bound it ran past), or the body names a step the version lacks',
    ),
    503: problemResponse(503, 'Too many dry runs are waiting, or a dependency is unavailable'),
  },
});
