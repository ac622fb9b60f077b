import { Router } from 'express';
import { readRetentionPolicy } from '../../../common/retention/policy';
import { auditActorOf, auditRow } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { declareRoutes } from '../http/routes';
import { parseRequest } from '../http/validation';
import { PutRetentionBody } from './schemas';
import './openapi';

/** The caller's tenant's retention of step logs and artifacts, mounted at /api/v1/retention. */
export function createRetentionRouter(deps: ApiDependencies): Router {
  const router = Router();
  declareRoutes(router, '/api/v1/retention', {
    '/': {
      get: async (req, res) => {
        res.json(await readRetentionPolicy(deps.prisma, principalOf(req).tenantId));
      },
      put: async (req, res) => {
        const principal = principalOf(req);
        const body = parseRequest(PutRetentionBody, req.body, 'body');
        const tenantId = principal.tenantId;
        await deps.prisma.$transaction(async (tx) => {
          const before = await tx.retentionPolicy.findUnique({ where: { tenantId } });
          await tx.retentionPolicy.upsert({
            where: { tenantId },
            create: { tenantId, ...body, updatedBy: principal.subject },
            update: { ...body, updatedBy: principal.subject },
          });
          await tx.auditEvent.create({
            data: auditRow(auditActorOf(req, principal), {
              action: 'retention.updated',
              target: { type: 'retention', id: tenantId },
              summary: { ...body, ...(before ? { before: { logsDays: before.logsDays, artifactsDays: before.artifactsDays } } : {}) },
            }),
          });
        });
        res.json(await readRetentionPolicy(deps.prisma, tenantId));
      },
    },
  });
  return router;
}
