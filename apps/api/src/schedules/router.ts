import { Router, type Request } from 'express';
import { auditActorOf } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { problems } from '../http/problem';
import { declareRoutes } from '../http/routes';
import { bodyOrEmpty, parseRequest, pathParam } from '../http/validation';
import { TemplateIdParam } from '../templates/schemas';
import type { TemplateHeads } from '../templates/template-heads';
import { BackfillBody, backfillProblems, CreateScheduleBody, PauseBody, TriggerBody, UpdateScheduleBody } from './schemas';
import { Schedules, type ScheduleContext } from './service';
import './openapi';

/**
 * A template's schedules, mounted at /api/v1/templates beside the templates router: Temporal
 * Schedules that start runs of the template on a cron clock (service.ts). Managing them is an
 * operator's, like starting runs: a schedule starts runs. Every change is audited once Temporal
 * accepted it (best effort, like run control: Temporal keeps the fact).
 */
export function createSchedulesRouter(deps: ApiDependencies, templateHeads: TemplateHeads): Router {
  const router = Router();
  const schedules = new Schedules(deps);

  /** The template, if it is the caller's tenant's: checked before anything else, so another tenant's is a 404 whatever was sent. */
  const contextOf = async (req: Request, options: { writable: boolean }): Promise<ScheduleContext> => {
    const templateId = pathParam(TemplateIdParam, req.params.id, 'template');
    const principal = principalOf(req);
    const template = await templateHeads.get(templateId);
    if (!template || template.tenantId !== principal.tenantId) throw problems.notFound(`template ${templateId} does not exist`);
    if (options.writable && template.archived) throw problems.conflict(`template ${template.name} is archived: its schedules cannot be changed`);
    return { principal, templateId, templateName: template.name, latestVersion: template.latestVersion };
  };
  const scheduleIdOf = (req: Request) => String(req.params.scheduleId);
  const audit = (req: Request, action: string, scheduleId: string, summary: object) =>
    deps.audit?.record(auditActorOf(req), { action, target: { type: 'schedule', id: scheduleId }, summary });

  declareRoutes(router, '/api/v1/templates', {
    '/:id/schedules': {
      get: async (req, res) => {
        res.json({ items: await schedules.list(await contextOf(req, { writable: false })) });
      },
      post: async (req, res) => {
        const context = await contextOf(req, { writable: true });
        const body = parseRequest(CreateScheduleBody, bodyOrEmpty(req.body), 'body');
        const schedule = await schedules.create(context, body);
        audit(req, 'schedule.created', schedule.id, { templateId: context.templateId, cron: schedule.cron, timeZone: schedule.timeZone, version: schedule.version });
        res.status(201).location(`${req.baseUrl}/${context.templateId}/schedules/${schedule.id}`).json(schedule);
      },
    },
    '/:id/schedules/:scheduleId': {
      get: async (req, res) => {
        res.json(await schedules.view(await contextOf(req, { writable: false }), scheduleIdOf(req)));
      },
      patch: async (req, res) => {
        const context = await contextOf(req, { writable: true });
        const body = parseRequest(UpdateScheduleBody, req.body, 'body');
        const schedule = await schedules.update(context, scheduleIdOf(req), body);
        audit(req, 'schedule.updated', schedule.id, { templateId: context.templateId, changed: Object.keys(body) });
        res.json(schedule);
      },
      delete: async (req, res) => {
        // Deleting stays possible on an archived template: it is how its schedules are cleared away.
        const context = await contextOf(req, { writable: false });
        await schedules.delete(context, scheduleIdOf(req));
        audit(req, 'schedule.deleted', scheduleIdOf(req), { templateId: context.templateId });
        res.status(204).end();
      },
    },
    '/:id/schedules/:scheduleId/pause': {
      post: async (req, res) => {
        const context = await contextOf(req, { writable: false });
        const { note } = parseRequest(PauseBody, bodyOrEmpty(req.body), 'body');
        const schedule = await schedules.pause(context, scheduleIdOf(req), true, note);
        audit(req, 'schedule.paused', schedule.id, { templateId: context.templateId, note: schedule.note });
        res.json(schedule);
      },
    },
    '/:id/schedules/:scheduleId/resume': {
      post: async (req, res) => {
        const context = await contextOf(req, { writable: true });
        const { note } = parseRequest(PauseBody, bodyOrEmpty(req.body), 'body');
        const schedule = await schedules.pause(context, scheduleIdOf(req), false, note);
        audit(req, 'schedule.resumed', schedule.id, { templateId: context.templateId, note: schedule.note });
        res.json(schedule);
      },
    },
    '/:id/schedules/:scheduleId/trigger': {
      post: async (req, res) => {
        const context = await contextOf(req, { writable: true });
        const { overlap } = parseRequest(TriggerBody, bodyOrEmpty(req.body), 'body');
        await schedules.trigger(context, scheduleIdOf(req), overlap);
        audit(req, 'schedule.triggered', scheduleIdOf(req), { templateId: context.templateId, ...(overlap ? { overlap } : {}) });
        res.status(202).json({ scheduleId: scheduleIdOf(req), accepted: true, detail: 'the schedule fires now; its run is listed in recentRuns once started' });
      },
    },
    '/:id/schedules/:scheduleId/backfill': {
      post: async (req, res) => {
        const context = await contextOf(req, { writable: true });
        const range = parseRequest(BackfillBody, bodyOrEmpty(req.body), 'body');
        const invalid = backfillProblems(range);
        if (invalid.length > 0) throw problems.unprocessable('the backfill’s range is not a past range Temporal can replay', invalid);
        await schedules.backfill(context, scheduleIdOf(req), range);
        audit(req, 'schedule.backfilled', scheduleIdOf(req), { templateId: context.templateId, ...range });
        res.status(202).json({ scheduleId: scheduleIdOf(req), accepted: true, detail: `the firings between ${range.start} and ${range.end} start now` });
      },
    },
  });
  return router;
}
