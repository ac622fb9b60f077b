import { Router, type Request } from 'express';
import type { ApiDependencies } from '../dependencies';
import { auditActorOf, type AuditActor } from '../audit/trail';
import { principalOf, type Principal } from '../http/principal';
import { declareRoutes } from '../http/routes';
import { bodyOrEmpty, parseRequest, pathParam } from '../http/validation';
import {
  CreateTemplateBody,
  CreateVersionBody,
  ListTemplatesQuery,
  ListVersionsQuery,
  RollbackBody,
  TemplateIdParam,
  UpdateTemplateBody,
  VersionNumberParam,
} from './schemas';
import { Schedules } from '../schedules/service';
import type { TemplateView } from './resources';
import { TemplateService } from './service';
import { checkSpec } from './spec-check';
import type { TemplateHeads } from './template-heads';
import { specStats } from './stats';
import './openapi';

/** HTTP face of TemplateService: parse and check the request, call the service, shape the answer. */
export function createTemplatesRouter(deps: ApiDependencies, templateHeads: TemplateHeads): Router {
  const templates = new TemplateService({ ...deps, templateHeads });
  const schedules = new Schedules(deps);
  const router = Router();

  /**
   * An archived template runs no more, so its schedules stop firing: each is paused with the reason
   * and audited as a pause by hand is. The archive itself is done; a schedule that could not be
   * paused here still starts no run (its launcher refuses an archived template), so a failure is
   * logged, not answered, and archiving again (which changes nothing else) pauses what is left.
   */
  const pauseSchedulesOf = async (template: TemplateView, actor: AuditActor & Principal) => {
    const context = { principal: actor, templateId: template.id, templateName: template.name, latestVersion: template.latestVersion };
    const note = `template archived by ${actor.subject}`;
    try {
      const { paused, failed } = await schedules.pauseAll(context, note);
      for (const scheduleId of paused) {
        deps.audit?.record(actor, { action: 'schedule.paused', target: { type: 'schedule', id: scheduleId }, summary: { templateId: template.id, note } });
      }
      if (failed.length > 0) deps.logger.warn({ templateId: template.id, scheduleIds: failed, requestId: actor.requestId }, 'schedules of an archived template could not be paused; archiving again retries');
    } catch (error) {
      deps.logger.warn({ err: error, templateId: template.id, requestId: actor.requestId }, 'schedules of an archived template could not be listed to pause them; archiving again retries');
    }
  };
  declareRoutes(router, '/api/v1/templates', {
    '/': {
      get: async (req, res) => {
        res.json(await templates.list(parseRequest(ListTemplatesQuery, req.query, 'query'), principalOf(req)));
      },
      post: async (req, res) => {
        const body = parseRequest(CreateTemplateBody, req.body, 'body');
        const spec = checkSpec(body.spec, ['spec']);
        const created = await templates.create({ ...body, spec }, auditActorOf(req));
        res.status(201).location(`${req.baseUrl}/${created.id}`).json(created);
      },
    },
    '/validate': {
      post: (req, res) => {
        const wrapped = isObject(req.body) && 'spec' in req.body && !('steps' in req.body);
        const spec = checkSpec(wrapped ? (req.body as { spec: unknown }).spec : req.body, wrapped ? ['spec'] : []);
        res.json({ valid: true, spec, stats: specStats(spec) });
      },
    },
    '/:id': {
      get: async (req, res) => {
        res.json(await templates.get(templateIdOf(req), principalOf(req)));
      },
      patch: async (req, res) => {
        const id = templateIdOf(req);
        res.json(await templates.update(id, parseRequest(UpdateTemplateBody, req.body, 'body'), auditActorOf(req)));
      },
      delete: async (req, res) => {
        const actor = auditActorOf(req);
        const archived = await templates.archive(templateIdOf(req), actor);
        await pauseSchedulesOf(archived, actor);
        res.status(204).end();
      },
    },
    '/:id/versions': {
      get: async (req, res) => {
        const id = templateIdOf(req);
        res.json(await templates.listVersions(id, parseRequest(ListVersionsQuery, req.query, 'query'), principalOf(req)));
      },
      post: async (req, res) => {
        const id = templateIdOf(req);
        const body = parseRequest(CreateVersionBody, req.body, 'body');
        const spec = checkSpec(body.spec, ['spec']);
        const { version, created } = await templates.appendVersion(id, spec, body.message, auditActorOf(req));
        res.status(created ? 201 : 200).location(`${req.baseUrl}/${id}/versions/${version.number}`).json(version);
      },
    },
    '/:id/versions/:number': {
      get: async (req, res) => {
        res.json(await templates.getVersion(templateIdOf(req), versionNumberOf(req, 'number'), principalOf(req)));
      },
    },
    '/:id/versions/:from/diff/:to': {
      get: async (req, res) => {
        const id = templateIdOf(req);
        res.json(await templates.diff(id, versionNumberOf(req, 'from'), versionNumberOf(req, 'to'), principalOf(req)));
      },
    },
    '/:id/versions/:number/rollback': {
      post: async (req, res) => {
        const id = templateIdOf(req);
        const number = versionNumberOf(req, 'number');
        const body = parseRequest(RollbackBody, bodyOrEmpty(req.body), 'body');
        const { version, created } = await templates.rollback(id, number, body.message, auditActorOf(req));
        res.status(created ? 201 : 200).location(`${req.baseUrl}/${id}/versions/${version.number}`).json(version);
      },
    },
  });

  return router;
}

function templateIdOf(req: Request): string {
  return pathParam(TemplateIdParam, req.params.id, 'template');
}

function versionNumberOf(req: Request, param: string): number {
  return pathParam(VersionNumberParam, req.params[param], 'version');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
