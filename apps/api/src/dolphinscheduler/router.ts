import { Router, type Request } from 'express';
import type { ApiDependencies } from '../dependencies';
import { auditActorOf } from '../audit/trail';
import { problems } from '../http/problem';
import { principalOf } from '../http/principal';
import { declareRoutes, type RouteHandler } from '../http/routes';
import { bodyOrEmpty, parseRequest, pathParam } from '../http/validation';
import { TemplateIdParam, VersionNumberParam } from '../templates/schemas';
import { ListPublishesQuery, PublishBody, PublishDecisionBody } from './publish-schemas';
import { PublishService } from './publishes';
import { PutTargetBody, TargetNameParam } from './target-schemas';
import { TargetStore } from './targets';
import './openapi';

/**
 * The caller's tenant's DolphinScheduler targets, at /api/v1/dolphinscheduler/targets. A target
 * names the tenant secret holding its token; the token is read only by the worker's publishing
 * activities, so no answer, log line or workflow history holds it.
 */
export function createTargetsRouter(deps: ApiDependencies): Router {
  const targets = new TargetStore(deps.prisma);
  const router = Router();
  declareRoutes(router, '/api/v1/dolphinscheduler/targets', {
    '/': {
      get: async (req, res) => {
        res.json({ items: await targets.list(principalOf(req).tenantId) });
      },
    },
    '/:name': {
      get: async (req, res) => {
        const name = pathParam(TargetNameParam, req.params.name, 'target');
        const target = await targets.get(principalOf(req).tenantId, name);
        if (!target) throw problems.notFound(`target ${name} does not exist`);
        res.json(target);
      },
      put: async (req, res) => {
        const name = targetNameToWrite(req);
        const body = parseRequest(PutTargetBody, req.body, 'body');
        const actor = auditActorOf(req);
        if (deps.secrets && !(await deps.secrets.get(actor.tenantId, body.tokenSecret))) {
          throw problems.unprocessable(`secret ${body.tokenSecret} does not exist`, [
            { path: ['tokenSecret'], message: 'must name an existing tenant secret (PUT /api/v1/secrets/{name} first)' },
          ]);
        }
        const { target, created } = await targets.put(actor, name, body);
        deps.logger.info({ target: name, created, by: actor.subject }, 'DolphinScheduler target written');
        res.status(created ? 201 : 200);
        if (created) res.location(`${req.baseUrl}/${name}`);
        res.json(target);
      },
      delete: async (req, res) => {
        const name = pathParam(TargetNameParam, req.params.name, 'target');
        if (!(await targets.delete(auditActorOf(req), name))) throw problems.notFound(`target ${name} does not exist`);
        res.status(204).end();
      },
    },
  });
  return router;
}

/** Publishing a template version, and taking a published template online or offline, under /api/v1/templates. */
export function createTemplatePublishingRouter(deps: ApiDependencies): Router {
  const publishes = new PublishService(deps);
  const router = Router();
  const toggle = (state: 'online' | 'offline'): RouteHandler => async (req, res) => {
    const templateId = pathParam(TemplateIdParam, req.params.id, 'template');
    const target = pathParam(TargetNameParam, req.params.target, 'target');
    const { publish, created } = await publishes.toggle(auditActorOf(req), templateId, target, state);
    res.status(created ? 202 : 200).location(`/api/v1/publishes/${publish.id}`).json(publish);
  };
  declareRoutes(router, '/api/v1/templates', {
    '/:id/versions/:number/publish': {
      post: async (req, res) => {
        const templateId = pathParam(TemplateIdParam, req.params.id, 'template');
        const number = pathParam(VersionNumberParam, req.params.number, 'version');
        const body = parseRequest(PublishBody, req.body, 'body');
        const { publish, created } = await publishes.publish(auditActorOf(req), templateId, number, body);
        res.status(created ? 202 : 200).location(`/api/v1/publishes/${publish.id}`).json(publish);
      },
    },
    '/:id/targets/:target/online': { post: toggle('online') },
    '/:id/targets/:target/offline': { post: toggle('offline') },
  });
  return router;
}

/** Publish records, at /api/v1/publishes, and the approvals of publishes that wait for one. */
export function createPublishesRouter(deps: ApiDependencies): Router {
  const publishes = new PublishService(deps);
  const router = Router();
  const decide = (decision: 'approved' | 'rejected'): RouteHandler => async (req, res) => {
    const id = pathParam(PublishIdParam, req.params.id, 'publish');
    const body = parseRequest(PublishDecisionBody, bodyOrEmpty(req.body), 'body');
    res.json(await publishes.decide(auditActorOf(req), id, decision, body.comment));
  };
  declareRoutes(router, '/api/v1/publishes', {
    '/': {
      get: async (req, res) => {
        res.json(await publishes.list(principalOf(req).tenantId, parseRequest(ListPublishesQuery, req.query, 'query')));
      },
    },
    '/:id': {
      get: async (req, res) => {
        res.json(await publishes.get(principalOf(req).tenantId, pathParam(PublishIdParam, req.params.id, 'publish')));
      },
    },
    '/:id/approve': { post: decide('approved') },
    '/:id/reject': { post: decide('rejected') },
  });
  return router;
}

const PublishIdParam = TemplateIdParam;

/** A PUT names the target it creates: a name that cannot be one is unprocessable, not missing. */
function targetNameToWrite(req: Request): string {
  const parsed = TargetNameParam.safeParse(req.params.name);
  if (parsed.success) return parsed.data;
  throw problems.unprocessable(`${JSON.stringify(req.params.name)} is not a target name`, [{ path: ['name'], message: parsed.error.issues[0]!.message }]);
}
