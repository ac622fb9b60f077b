import { Router, type Request } from 'express';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { declareRoutes } from '../http/routes';
import { parseRequest, pathParam } from '../http/validation';
import { TemplateIdParam, VersionNumberParam } from '../templates/schemas';
import { TemplateService } from '../templates/service';
import type { TemplateHeads } from '../templates/template-heads';
import { analyseVersion } from './analysis';
import { dryRunStep } from './evaluate';
import { observedStepMedians, templateStats } from './run-stats';
import { EvaluateBody, StatsQuery } from './schemas';
import './openapi';

/** Read-only insight into templates: run stats, the analysis of a version's graph, and step dry runs. */
export function createInsightsRouter(deps: ApiDependencies, templateHeads: TemplateHeads): Router {
  const templates = new TemplateService({ ...deps, templateHeads });
  const router = Router();
  declareRoutes(router, '/api/v1/templates', {
    '/:id/stats': {
      get: async (req, res) => {
        const caller = principalOf(req);
        const templateId = templateIdOf(req);
        await templates.get(templateId, caller);
        const window = parseRequest(StatsQuery, req.query, 'query');
        res.json(await templateStats(deps, { tenantId: caller.tenantId, templateId, ...window }));
      },
    },
    '/:id/versions/:number/analysis': {
      get: async (req, res) => {
        const caller = principalOf(req);
        const version = await templates.getVersion(templateIdOf(req), versionNumberOf(req), caller);
        const medians = await observedStepMedians(deps.prisma, caller.tenantId, version.templateId, version.number);
        res.json(analyseVersion(version.spec, { templateId: version.templateId, version: version.number }, medians));
      },
    },
    '/:id/versions/:number/evaluate': {
      post: async (req, res) => {
        // The version first: another tenant's template is a 404 whatever the body.
        const version = await templates.getVersion(templateIdOf(req), versionNumberOf(req), principalOf(req));
        const body = parseRequest(EvaluateBody, req.body, 'body');
        res.json(await dryRunStep(version.spec, { templateId: version.templateId, version: version.number }, body));
      },
    },
  });
  return router;
}

function templateIdOf(req: Request): string {
  return pathParam(TemplateIdParam, req.params.id, 'template');
}

function versionNumberOf(req: Request): number {
  return pathParam(VersionNumberParam, req.params.number, 'version');
}
