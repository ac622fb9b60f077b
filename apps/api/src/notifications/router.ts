import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Router, type Request } from 'express';
import { TEST_CHANNEL_WORKFLOW_TYPE, type ChannelTestResult, type testChannel } from '../../../../workflows/notifications/test-channel';
import { auditActorOf } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { problems } from '../http/problem';
import { declareRoutes } from '../http/routes';
import { parseRequest, pathParam } from '../http/validation';
import { ChannelService } from './channels';
import { listDeliveries } from './deliveries';
import { deletePerson, getPerson, listPeople, putPerson } from './people';
import type { RunNotices } from './run-notices';
import {
  ChannelIdParam,
  CreateChannelBody,
  ListNotificationsQuery,
  ListPeopleQuery,
  PutPersonBody,
  PutSubscriptionBody,
  SubjectParam,
  SubscriptionScopeParam,
  UpdateChannelBody,
} from './schemas';
import { deleteSubscription, getSubscription, listSubscriptions, putSubscription } from './subscriptions';
import './openapi';

/** How long `POST /channels/:id/test` waits for a worker to send the test message and hear the answer. */
const CHANNEL_TEST_TIMEOUT_MS = 40_000;

/**
 * Notification channels (/api/v1/channels), the people notices address (/api/v1/people),
 * subscriptions (/api/v1/subscriptions) and the record of deliveries (/api/v1/notifications).
 * Everything is scoped to the caller's tenant; every change is audited.
 */
export function createNotificationRouters(deps: ApiDependencies, runNotices: RunNotices): Router {
  const router = Router();
  const channelService = new ChannelService(deps.prisma, deps.secrets);

  const channels = Router();
  router.use('/api/v1/channels', channels);
  declareRoutes(channels, '/api/v1/channels', {
    '/': {
      get: async (req, res) => {
        res.json({ items: await channelService.list(principalOf(req).tenantId) });
      },
      post: async (req, res) => {
        const body = parseRequest(CreateChannelBody, req.body, 'body');
        const channel = await channelService.create(auditActorOf(req), body);
        runNotices.forget(principalOf(req).tenantId);
        res.status(201).location(`/api/v1/channels/${channel.id}`).json(channel);
      },
    },
    '/:id': {
      get: async (req, res) => {
        res.json(await channelService.get(principalOf(req).tenantId, channelIdOf(req)));
      },
      patch: async (req, res) => {
        const body = parseRequest(UpdateChannelBody, req.body, 'body');
        const channel = await channelService.update(auditActorOf(req), channelIdOf(req), body);
        runNotices.forget(principalOf(req).tenantId);
        res.json(channel);
      },
      delete: async (req, res) => {
        await channelService.delete(auditActorOf(req), channelIdOf(req));
        runNotices.forget(principalOf(req).tenantId);
        res.status(204).end();
      },
    },
    '/:id/test': {
      post: async (req, res) => {
        const actor = auditActorOf(req);
        const channel = await channelService.get(actor.tenantId, channelIdOf(req));
        const result = await sendTest(deps, actor.tenantId, channel.id);
        deps.audit?.record(actor, { action: 'channel.tested', target: { type: 'channel', id: channel.id }, summary: { delivered: result.delivered } });
        res.json(result);
      },
    },
  });

  const people = Router();
  router.use('/api/v1/people', people);
  declareRoutes(people, '/api/v1/people', {
    '/': {
      get: async (req, res) => {
        const query = parseRequest(ListPeopleQuery, req.query, 'query');
        res.json({ items: await listPeople(deps.prisma, principalOf(req).tenantId, query.role) });
      },
    },
    '/:subject': {
      get: async (req, res) => {
        res.json(await getPerson(deps.prisma, principalOf(req).tenantId, subjectOf(req)));
      },
      put: async (req, res) => {
        const subject = subjectToWrite(req);
        const body = parseRequest(PutPersonBody, req.body, 'body');
        const { person, created } = await putPerson(deps.prisma, auditActorOf(req), subject, body);
        res.status(created ? 201 : 200).json(person);
      },
      delete: async (req, res) => {
        await deletePerson(deps.prisma, auditActorOf(req), subjectOf(req));
        res.status(204).end();
      },
    },
  });

  const subscriptions = Router();
  router.use('/api/v1/subscriptions', subscriptions);
  declareRoutes(subscriptions, '/api/v1/subscriptions', {
    '/': {
      get: async (req, res) => {
        res.json({ items: await listSubscriptions(deps.prisma, principalOf(req).tenantId) });
      },
    },
    '/:scope': {
      get: async (req, res) => {
        res.json(await getSubscription(deps.prisma, principalOf(req).tenantId, scopeOf(req)));
      },
      put: async (req, res) => {
        const scope = scopeOf(req);
        const body = parseRequest(PutSubscriptionBody, req.body, 'body');
        const { subscription, created } = await putSubscription(deps.prisma, auditActorOf(req), scope, body.routes);
        runNotices.forget(principalOf(req).tenantId);
        res.status(created ? 201 : 200).json(subscription);
      },
      delete: async (req, res) => {
        await deleteSubscription(deps.prisma, auditActorOf(req), scopeOf(req));
        runNotices.forget(principalOf(req).tenantId);
        res.status(204).end();
      },
    },
  });

  const notifications = Router();
  router.use('/api/v1/notifications', notifications);
  declareRoutes(notifications, '/api/v1/notifications', {
    '/': {
      get: async (req, res) => {
        const query = parseRequest(ListNotificationsQuery, req.query, 'query');
        res.json(await listDeliveries(deps.prisma, principalOf(req).tenantId, query));
      },
    },
  });
  return router;
}

/**
 * The test message is sent by a worker (its egress policy, its access to secrets), through a
 * short workflow the API waits for. No worker within the bound is a 503.
 */
async function sendTest(deps: ApiDependencies, tenantId: string, channelId: string): Promise<ChannelTestResult> {
  // Without a worker the test would wait out its whole bound: say so at once instead.
  const queue = await deps.temporal.workflowService.describeTaskQueue({
    namespace: deps.temporal.options.namespace,
    taskQueue: { name: deps.taskQueue },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  if ((queue.pollers ?? []).length === 0) throw problems.unavailable(`no worker polls task queue ${deps.taskQueue}`, { dependency: 'worker' });
  const eventKey = `channel-test:${channelId}:${randomUUID()}`;
  const deadline = Date.now() + CHANNEL_TEST_TIMEOUT_MS;
  const handle = await deps.temporal.workflow.start<typeof testChannel>(TEST_CHANNEL_WORKFLOW_TYPE, {
    workflowId: eventKey,
    taskQueue: deps.taskQueue,
    args: [tenantId, channelId, eventKey],
    workflowExecutionTimeout: CHANNEL_TEST_TIMEOUT_MS,
  });
  try {
    return await deps.temporal.withDeadline(deadline + 2_000, () => handle.result());
  } catch (error) {
    if (error instanceof WorkflowFailedError) throw problems.unavailable('no worker sent the test message in time', { dependency: 'worker' });
    throw error;
  }
}

function channelIdOf(req: Request): string {
  return pathParam(ChannelIdParam, req.params.id, 'channel');
}

function subjectOf(req: Request): string {
  return pathParam(SubjectParam, req.params.subject, 'person');
}

/** A PUT names the person it writes: a subject that cannot be one is unprocessable, not missing. */
function subjectToWrite(req: Request): string {
  const parsed = SubjectParam.safeParse(req.params.subject);
  if (parsed.success) return parsed.data;
  throw problems.unprocessable(`${JSON.stringify(req.params.subject)} is not a subject`, [{ path: ['subject'], message: parsed.error.issues[0]!.message }]);
}

function scopeOf(req: Request): string {
  return pathParam(SubscriptionScopeParam, req.params.scope, 'subscription');
}
