import { Router, type Request, type Response } from 'express';
import { auditActorOf } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { problems } from '../http/problem';
import { declareRoutes } from '../http/routes';
import { bodyOrEmpty } from '../http/validation';
import { cancelRun, controlRun, controlStep, type RunAction, type StepAction } from './control';
import { locateRunHistory } from './history-reader';
import { listRuns } from './list';
import { idempotencyKeyOf, parseRequestPart } from './request-parsing';
import { runNotFound } from './run-handle';
import { viewRun } from './run-view';
import {
  ApproveBodySchema,
  ControlBodySchema,
  EventsQuerySchema,
  ListRunsQuerySchema,
  RejectBodySchema,
  RunParamsSchema,
  StartRunBodySchema,
  StepParamsSchema,
} from './schemas';
import { readRunEventsPage, streamRunEvents } from './sse';
import { RunStarter } from './start';
import type { TemplateHeads } from '../templates/template-heads';
import './openapi';

/** Runs of template versions, mounted at /api/v1/runs. Errors are thrown as problems. */
export function createRunsRouter(deps: ApiDependencies, templateHeads: TemplateHeads): Router {
  const router = Router();
  const starter = new RunStarter(deps, templateHeads);

  const stepAction = (action: StepAction) => async (req: Request, res: Response) => {
    const { id, stepId } = stepParamsOf(req);
    const comment = commentFor(action, req.body);
    const step = await controlStep(deps, {
      runId: id,
      stepId,
      action,
      principal: principalOf(req),
      idempotencyKey: idempotencyKeyOf(req),
      ...(comment ? { comment } : {}),
      accepted: (updateId) =>
        deps.audit?.record(auditActorOf(req), { action: PAST[action], target: { type: 'run', id }, summary: { stepId, updateId } }),
    });
    res.json({ runId: id, step });
  };

  const runAction = (action: RunAction) => async (req: Request, res: Response) => {
    const { id } = runParamsOf(req);
    const { reason } = parseRequestPart(ControlBodySchema, bodyOrEmpty(req.body), 'body');
    const state = await controlRun(deps, {
      runId: id,
      action,
      principal: principalOf(req),
      idempotencyKey: idempotencyKeyOf(req),
      ...(reason ? { reason } : {}),
      accepted: (updateId) =>
        deps.audit?.record(auditActorOf(req), { action: PAST[action], target: { type: 'run', id }, summary: { updateId, ...(reason ? { reason } : {}) } }),
    });
    res.json({ runId: id, status: state.status, paused: state.paused });
  };

  declareRoutes(router, '/api/v1/runs', {
    '/': {
      post: async (req, res) => {
        const body = parseRequestPart(StartRunBodySchema, bodyOrEmpty(req.body), 'body');
        const { created, run } = await starter.start(principalOf(req), body, idempotencyKeyOf(req));
        if (created) {
          deps.audit?.record(auditActorOf(req), {
            action: 'run.started',
            target: { type: 'run', id: run.runId },
            summary: { workflowId: run.workflowId, templateId: run.templateId, version: run.version },
          });
        }
        res.status(created ? 201 : 200).location(run.links.self).json(run);
      },
      get: async (req, res) => {
        res.json(await listRuns(deps, parseRequestPart(ListRunsQuerySchema, req.query, 'query'), principalOf(req).tenantId));
      },
    },
    '/:id': {
      get: async (req, res) => {
        const { id } = runParamsOf(req);
        res.json(await viewRun(deps, id, principalOf(req).tenantId));
      },
    },
    '/:id/events': {
      get: async (req, res) => {
        const { id } = runParamsOf(req);
        const query = parseRequestPart(EventsQuerySchema, req.query, 'query');
        const streaming = req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream';
        // EventSource resumes with Last-Event-ID; pollers pass the cursor they were given as `after`.
        const cursor = (streaming ? req.header('last-event-id') : undefined) ?? query.after;
        const position = await locateRunHistory(deps, id, principalOf(req).tenantId, cursor);
        if (streaming) {
          await streamRunEvents(deps, req, res, position);
          return;
        }
        res.json(await readRunEventsPage(deps, position, query.limit));
      },
    },
    '/:id/pause': { post: runAction('pause') },
    '/:id/resume': { post: runAction('resume') },
    '/:id/cancel': {
      post: async (req, res) => {
        const { id } = runParamsOf(req);
        const { terminated } = await cancelRun(deps, id, principalOf(req));
        deps.audit?.record(auditActorOf(req), { action: 'run.cancelled', target: { type: 'run', id }, summary: { workflowId: id, terminated } });
        res.status(202).json({ runId: id, cancelRequested: true, terminated });
      },
    },
    '/:id/steps/:stepId/approve': { post: stepAction('approve') },
    '/:id/steps/:stepId/reject': { post: stepAction('reject') },
    '/:id/steps/:stepId/retry': { post: stepAction('retry') },
    '/:id/steps/:stepId/skip': { post: stepAction('skip') },
  });

  return router;
}

/** Audit actions are what happened, in the past tense like every other entry's. */
const PAST: Record<StepAction | RunAction, string> = {
  approve: 'run.approved',
  reject: 'run.rejected',
  retry: 'run.step_retried',
  skip: 'run.step_skipped',
  pause: 'run.paused',
  resume: 'run.resumed',
};

/** An id this API never hands out names no run: 404 like any other unknown run. */
function runParamsOf(req: Request): { id: string } {
  const parsed = RunParamsSchema.safeParse(req.params);
  if (!parsed.success) throw runNotFound(String(req.params.id));
  return parsed.data;
}

function stepParamsOf(req: Request): { id: string; stepId: string } {
  const { id } = runParamsOf(req);
  const parsed = StepParamsSchema.safeParse(req.params);
  if (!parsed.success) throw problems.notFound(`run ${id} has no step ${String(req.params.stepId)}`);
  return parsed.data;
}

/** Approvals carry a comment, rejections a reason; retry and skip take no body. */
function commentFor(action: StepAction, body: unknown): string | undefined {
  switch (action) {
    case 'approve':
      return parseRequestPart(ApproveBodySchema, bodyOrEmpty(body), 'body').comment;
    case 'reject':
      return parseRequestPart(RejectBodySchema, bodyOrEmpty(body), 'body').reason;
    default:
      return undefined;
  }
}
