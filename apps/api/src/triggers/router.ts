import { Router, type Request } from 'express';
import { auditActorOf } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { problems } from '../http/problem';
import { declareRoutes } from '../http/routes';
import { bodyOrEmpty, parseRequest, pathParam } from '../http/validation';
import { TemplateIdParam } from '../templates/schemas';
import type { TemplateHeads } from '../templates/template-heads';
import { CreateTriggerBody, TriggerIdParam, UpdateTriggerBody } from './schemas';
import type { TriggerContext, Triggers } from './service';
import './openapi';

/**
 * A template's webhook triggers, mounted at /api/v1/templates beside the templates router.
 * Managing them is an operator's, like starting runs: a trigger lets another system start runs.
 * Deliveries arrive at /api/v1/hooks/:triggerId (hooks.ts).
 */
export function createTriggersRouter(deps: ApiDependencies, templateHeads: TemplateHeads, triggers: Triggers): Router {
  const router = Router();

  /** The template, if it is the caller's tenant's: checked first, so another tenant's is a 404 whatever was sent. */
  const contextOf = async (req: Request, options: { writable: boolean }): Promise<TriggerContext> => {
    const templateId = pathParam(TemplateIdParam, req.params.id, 'template');
    const principal = principalOf(req);
    const template = await templateHeads.get(templateId);
    if (!template || template.tenantId !== principal.tenantId) throw problems.notFound(`template ${templateId} does not exist`);
    if (options.writable && template.archived) throw problems.conflict(`template ${template.name} is archived: its triggers cannot be changed`);
    return { actor: { ...auditActorOf(req), tenantId: principal.tenantId }, templateId, templateName: template.name };
  };
  const triggerIdOf = (req: Request) => pathParam(TriggerIdParam, req.params.triggerId, 'trigger');

  declareRoutes(router, '/api/v1/templates', {
    '/:id/triggers': {
      get: async (req, res) => {
        res.json({ items: await triggers.list(await contextOf(req, { writable: false })) });
      },
      post: async (req, res) => {
        const context = await contextOf(req, { writable: true });
        const body = parseRequest(CreateTriggerBody, bodyOrEmpty(req.body), 'body');
        const { trigger, secret } = await triggers.create(context, body);
        res.status(201).location(`${req.baseUrl}/${context.templateId}/triggers/${trigger.id}`).json({ ...trigger, secret });
      },
    },
    '/:id/triggers/:triggerId': {
      get: async (req, res) => {
        const context = await contextOf(req, { writable: false });
        res.json(await triggers.get(context, triggerIdOf(req)));
      },
      patch: async (req, res) => {
        const context = await contextOf(req, { writable: true });
        const triggerId = triggerIdOf(req);
        const body = parseRequest(UpdateTriggerBody, req.body, 'body');
        res.json(await triggers.update(context, triggerId, body));
      },
      delete: async (req, res) => {
        // Deleting stays possible on an archived template: it is how its triggers are cleared away.
        const context = await contextOf(req, { writable: false });
        await triggers.delete(context, triggerIdOf(req));
        res.status(204).end();
      },
    },
    '/:id/triggers/:triggerId/secret': {
      post: async (req, res) => {
        const context = await contextOf(req, { writable: false });
        const { trigger, secret } = await triggers.rotateSecret(context, triggerIdOf(req));
        res.json({ ...trigger, secret });
      },
    },
  });
  return router;
}
