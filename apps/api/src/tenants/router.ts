import { Router } from 'express';
import { auditActorOf } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { declareRoutes } from '../http/routes';
import { parseRequest } from '../http/validation';
import { CreateTenantBody } from './schemas';
import { createTenant, listTenants } from './service';
import './openapi';

/** Tenants, for system administrators, mounted at /api/v1/tenants. */
export function createTenantsRouter(deps: ApiDependencies): Router {
  const router = Router();
  declareRoutes(router, '/api/v1/tenants', {
    '/': {
      post: async (req, res) => {
        const body = parseRequest(CreateTenantBody, req.body, 'body');
        const created = await createTenant(deps.prisma, { ...body, createdBy: principalOf(req).subject }, auditActorOf(req));
        deps.logger.info({ tenantId: created.id, slug: created.slug, by: principalOf(req).subject }, 'tenant created');
        res.status(201).json(created);
      },
      get: async (_req, res) => {
        res.json({ items: await listTenants(deps.prisma) });
      },
    },
  });
  return router;
}
