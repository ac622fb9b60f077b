import { Router } from 'express';
import { auditActorOf } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { declareRoutes } from '../http/routes';
import { bodyOrEmpty, parseRequest, pathParam } from '../http/validation';
import { TemplateIdParam } from '../templates/schemas';
import { AcknowledgeBody, ListFindingsQuery, RunInspectionBody } from './schemas';
import { InspectionService } from './service';
import './openapi';

/** Inspection findings of the caller's tenant, at /api/v1/inspections, and running the inspection on demand. */
export function createInspectionsRouter(deps: ApiDependencies): Router {
  const inspections = new InspectionService(deps);
  const router = Router();
  declareRoutes(router, '/api/v1/inspections', {
    '/': {
      get: async (req, res) => {
        res.json(await inspections.list(principalOf(req).tenantId, parseRequest(ListFindingsQuery, req.query, 'query')));
      },
    },
    '/run': {
      post: async (req, res) => {
        parseRequest(RunInspectionBody, bodyOrEmpty(req.body), 'body');
        const run = await inspections.run(auditActorOf(req));
        res.status(run.status === 'pending' ? 202 : 200).json(run);
      },
    },
    '/:id/acknowledge': {
      post: async (req, res) => {
        const id = pathParam(TemplateIdParam, req.params.id, 'finding');
        const body = parseRequest(AcknowledgeBody, bodyOrEmpty(req.body), 'body');
        res.json(await inspections.acknowledge(auditActorOf(req), id, body.comment));
      },
    },
  });
  return router;
}
