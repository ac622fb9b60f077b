import { Router } from 'express';
import { z } from 'zod';
import type { ApiDependencies } from '../dependencies';
import { problemResponses } from '../http/problem-schema';
import { principalOf } from '../http/principal';
import { declareRoutes } from '../http/routes';
import { parseRequest, pathParam } from '../http/validation';
import { registry } from '../openapi/registry';
import { TemplateIdParam } from '../templates/schemas';
import { ExecutionList, ListExecutionsQuery } from './execution-schemas';
import { ExecutionService } from './executions';

/** A template's recent executions in DolphinScheduler, at /api/v1/templates/:id/executions. */
export function createExecutionsRouter(deps: ApiDependencies): Router {
  const executions = new ExecutionService(deps);
  const router = Router();
  declareRoutes(router, '/api/v1/templates', {
    '/:id/executions': {
      get: async (req, res) => {
        const templateId = pathParam(TemplateIdParam, req.params.id, 'template');
        const query = parseRequest(ListExecutionsQuery, req.query, 'query');
        res.json(await executions.list(principalOf(req).tenantId, templateId, query));
      },
    },
  });
  return router;
}

registry.registerPath({
  method: 'get',
  path: '/api/v1/templates/{id}/executions',
  tags: ['Publishing'],
  summary: 'Recent executions of the template’s published definitions in DolphinScheduler (from the history cache)',
  description:
    'State, start, end, duration, host and task states of the newest instances, as the history sync last saw them, and how each definition’s last sync went. `refresh=true` syncs this template first (waiting at most 15 s).',
  request: { params: z.object({ id: z.uuid() }), query: ListExecutionsQuery },
  responses: { 200: { description: 'Executions, newest first', content: { 'application/json': { schema: ExecutionList } } }, ...problemResponses(400, 404) },
});
