import { createHash } from 'node:crypto';
import { Prisma, type Publish } from '@prisma/client';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import stableStringify from 'safe-stable-stringify';
import {
  approvePublishUpdate,
  enqueuePublishSignal,
  PUBLISH_QUEUE_WORKFLOW_TYPE,
  publishQueueWorkflowId,
  rejectPublishUpdate,
  type PublishAction,
  type PublishDecision,
  type PublishQueueInput,
  type PublishRequest,
  type PublishStatus,
} from '../../../../workflows/publishing/contract';
import { mappingProblems } from '../../../../workflows/publishing/mapping';
import { scheduleProblems } from '../../../../workflows/publishing/schedule';
import { SpecSchema } from '../../../../workflows/spec/schema';
import { auditRow, type AuditActor } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import { refusalProblem } from '../http/refusal';
import type { Principal } from '../http/principal';
import { decodeCursor, encodeCursor } from '../templates/cursor';
import { PublishCursorSchema, type PublishListQuery, type PublishRequestBody } from './publish-schemas';

/**
 * Publishing templates to DolphinScheduler targets. A request is checked here (template, version,
 * target, and the mapping: an unmappable spec is a 422 listing every problem, before anything is
 * sent), recorded as a `Publish` row with its audit entry, and handed to the publish queue
 * workflow of its template and target, which does the work and records every step.
 */

export interface PublishView {
  id: string;
  templateId: string;
  version: number;
  target: string;
  action: PublishAction;
  status: PublishStatus;
  requireApproval: boolean;
  schedule: Record<string, unknown> | null;
  dolphinScheduler: {
    projectCode: number | null;
    definitionCode: number | null;
    definitionVersion: number | null;
    taskCodes: Record<string, number>;
    scheduleId: number | null;
  };
  requestedBy: string;
  approvals: PublishDecision[];
  error: Record<string, unknown> | null;
  steps: unknown[];
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

type Caller = AuditActor & Principal;

export class PublishService {
  constructor(private readonly deps: ApiDependencies) {}

  /** Answers the publish and whether it is new: the same request again finds the one it made. */
  async publish(caller: Caller, templateId: string, versionNumber: number, body: PublishRequestBody): Promise<{ publish: PublishView; created: boolean }> {
    const { prisma } = this.deps;
    const template = await this.templateOf(caller, templateId);
    if (template.archived) throw problems.conflict(`template ${template.name} is archived and cannot be published`);
    const version = await prisma.templateVersion.findUnique({ where: { templateId_number: { templateId, number: versionNumber } } });
    if (!version) throw problems.notFound(`template ${template.name} has no version ${versionNumber}`);
    await this.targetOf(caller, body.target, 'body');
    const badSchedule = body.schedule ? scheduleProblems(body.schedule) : [];
    if (badSchedule.length > 0) throw problems.unprocessable('the schedule cannot be used', badSchedule);

    const spec = SpecSchema.parse(version.spec);
    const unmappable = mappingProblems(spec);
    if (unmappable.length > 0) {
      throw problems.unprocessable(
        `version ${versionNumber} of ${template.name} cannot be published to DolphinScheduler: ${unmappable.length} problem(s), nothing was sent`,
        unmappable.map((problem) => ({ path: problem.path, message: problem.message, ...(problem.stepId ? { stepId: problem.stepId } : {}) })),
      );
    }

    const requestHash = hashOf({ action: 'publish', version: versionNumber, schedule: body.schedule ?? null, requireApproval: body.requireApproval });
    return this.enqueue(caller, {
      templateId,
      target: body.target,
      action: 'publish',
      templateVersion: versionNumber,
      requestHash,
      schedule: body.schedule ?? null,
      requireApproval: body.requireApproval,
      // A repeat of a publish that did not fail is the same publish: queued, running or done.
      sameAs: (latest) => latest.action === 'publish' && latest.requestHash === requestHash && !['failed', 'rejected'].includes(latest.status),
    });
  }

  /** Takes a published template's definition online (with its schedules) or offline. */
  async toggle(caller: Caller, templateId: string, target: string, state: 'online' | 'offline'): Promise<{ publish: PublishView; created: boolean }> {
    await this.templateOf(caller, templateId);
    await this.targetOf(caller, target, 'path');
    const binding = await this.deps.prisma.publish.findFirst({
      where: { tenantId: caller.tenantId, templateId, target, action: 'publish', definitionCode: { not: null } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    if (!binding) throw problems.conflict(`template ${templateId} has never been published to ${target}`);
    return this.enqueue(caller, {
      templateId,
      target,
      action: state,
      templateVersion: binding.templateVersion,
      requestHash: hashOf({ action: state }),
      schedule: null,
      requireApproval: false,
      // Asking again while the same request waits or runs is the same request.
      sameAs: (latest) => latest.action === state && ['queued', 'running'].includes(latest.status),
    });
  }

  async list(tenantId: string, query: PublishListQuery): Promise<{ items: PublishView[]; nextCursor: string | null }> {
    const where: Prisma.PublishWhereInput[] = [{ tenantId }];
    if (query.templateId) where.push({ templateId: query.templateId });
    if (query.target) where.push({ target: query.target });
    if (query.status) where.push({ status: query.status });
    if (query.cursor) {
      const after = decodeCursor(PublishCursorSchema, query.cursor);
      const createdAt = new Date(after.createdAt);
      where.push({ OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: after.id } }] });
    }
    const rows = await this.deps.prisma.publish.findMany({ where: { AND: where }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: query.limit + 1 });
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    const nextCursor = rows.length > query.limit && last ? encodeCursor({ createdAt: last.createdAt.toISOString(), id: last.id }) : null;
    return { items: items.map(publishView), nextCursor };
  }

  async get(tenantId: string, publishId: string): Promise<PublishView> {
    return publishView(await this.recordOf(tenantId, publishId));
  }

  /** An approver's decision on a publish waiting for one; the requester may reject, not approve. */
  async decide(caller: Caller, publishId: string, decision: PublishDecision['decision'], comment: string | undefined): Promise<PublishDecision> {
    const record = await this.recordOf(caller.tenantId, publishId);
    if (record.status !== 'awaiting_approval') throw problems.conflict(`publish ${publishId} is ${record.status}, not waiting for an approval`);
    const handle = this.deps.temporal.workflow.getHandle(record.workflowId);
    const command = { publishId, actor: { subject: caller.subject, roles: [...caller.roles] }, ...(comment ? { comment } : {}) };
    let taken: PublishDecision;
    try {
      taken = await handle.executeUpdate(decision === 'approved' ? approvePublishUpdate : rejectPublishUpdate, { args: [command] });
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) throw refusalProblem(error.cause, 'the publish refused the decision');
      if (error instanceof WorkflowNotFoundError) throw problems.conflict(`publish ${publishId} is not waiting for an approval`);
      throw error;
    }
    this.deps.audit?.record(caller, {
      action: decision === 'approved' ? 'publish.approved' : 'publish.rejected',
      target: { type: 'publish', id: publishId },
      summary: { templateId: record.templateId, version: record.templateVersion, target: record.target, ...(comment ? { comment } : {}) },
    });
    return taken;
  }

  private async enqueue(
    caller: Caller,
    request: {
      templateId: string;
      target: string;
      action: PublishAction;
      templateVersion: number;
      requestHash: string;
      schedule: object | null;
      requireApproval: boolean;
      sameAs: (latest: Publish) => boolean;
    },
  ): Promise<{ publish: PublishView; created: boolean }> {
    const { prisma } = this.deps;
    const workflowId = publishQueueWorkflowId(caller.tenantId, request.templateId, request.target);
    const outcome = await prisma.$transaction(async (tx) => {
      // One request of a template at a time decides whether it repeats the latest one.
      await tx.$queryRaw`SELECT "id" FROM "Template" WHERE "id" = ${request.templateId}::uuid FOR UPDATE`;
      const latest = await tx.publish.findFirst({
        where: { tenantId: caller.tenantId, templateId: request.templateId, target: request.target },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      });
      if (latest && request.sameAs(latest)) return { record: latest, created: false };
      const record = await tx.publish.create({
        data: {
          tenantId: caller.tenantId,
          templateId: request.templateId,
          templateVersion: request.templateVersion,
          target: request.target,
          action: request.action,
          status: request.requireApproval ? 'awaiting_approval' : 'queued',
          requestHash: request.requestHash,
          schedule: request.schedule === null ? Prisma.DbNull : (request.schedule as Prisma.InputJsonObject),
          requireApproval: request.requireApproval,
          workflowId,
          requestedBy: caller.subject,
        },
      });
      await tx.auditEvent.create({
        data: auditRow(caller, {
          action: `publish.${request.action === 'publish' ? 'requested' : request.action}`,
          target: { type: 'publish', id: record.id },
          summary: { templateId: request.templateId, version: request.templateVersion, target: request.target, requireApproval: request.requireApproval },
        }),
      });
      return { record, created: true };
    });
    if (!outcome.created) return { publish: publishView(outcome.record), created: false };

    const queued: PublishRequest = { publishId: outcome.record.id, action: request.action, requireApproval: request.requireApproval, requestedBy: caller.subject };
    const input: PublishQueueInput = { tenantId: caller.tenantId, templateId: request.templateId, target: request.target };
    try {
      await this.deps.temporal.workflow.signalWithStart(PUBLISH_QUEUE_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.deps.taskQueue,
        args: [input],
        signal: enqueuePublishSignal,
        signalArgs: [queued],
      });
    } catch (error) {
      // Not queued: the record must not wait forever for a workflow that will never take it.
      await prisma.publish.update({
        where: { id: outcome.record.id },
        data: { status: 'failed', finishedAt: new Date(), error: { type: 'NotQueued', message: 'the publish could not be handed to Temporal' } },
      });
      throw error;
    }
    this.deps.logger.info({ publishId: outcome.record.id, templateId: request.templateId, target: request.target, action: request.action, by: caller.subject }, 'publish queued');
    return { publish: publishView(outcome.record), created: true };
  }

  private async templateOf(caller: Caller, templateId: string) {
    const template = await this.deps.prisma.template.findUnique({ where: { id: templateId } });
    if (!template || template.tenantId !== caller.tenantId) throw problems.notFound(`template ${templateId} does not exist`);
    return template;
  }

  private async targetOf(caller: Caller, name: string, from: 'body' | 'path') {
    const target = await this.deps.prisma.dolphinSchedulerTarget.findUnique({ where: { tenantId_name: { tenantId: caller.tenantId, name } } });
    if (target) return target;
    if (from === 'path') throw problems.notFound(`target ${name} does not exist`);
    throw problems.unprocessable(`target ${name} does not exist`, [{ path: ['target'], message: 'must name one of the tenant’s DolphinScheduler targets' }]);
  }

  private async recordOf(tenantId: string, publishId: string): Promise<Publish> {
    const record = await this.deps.prisma.publish.findUnique({ where: { id: publishId } });
    if (!record || record.tenantId !== tenantId) throw problems.notFound(`publish ${publishId} does not exist`);
    return record;
  }
}

export function publishView(row: Publish): PublishView {
  return {
    id: row.id,
    templateId: row.templateId,
    version: row.templateVersion,
    target: row.target,
    action: row.action as PublishAction,
    status: row.status as PublishStatus,
    requireApproval: row.requireApproval,
    schedule: (row.schedule as Record<string, unknown> | null) ?? null,
    dolphinScheduler: {
      projectCode: row.projectCode === null ? null : Number(row.projectCode),
      definitionCode: row.definitionCode === null ? null : Number(row.definitionCode),
      definitionVersion: row.definitionVersion,
      taskCodes: (row.taskCodes ?? {}) as Record<string, number>,
      scheduleId: row.scheduleId,
    },
    requestedBy: row.requestedBy,
    approvals: (row.approvals ?? []) as unknown as PublishDecision[],
    error: (row.error as Record<string, unknown> | null) ?? null,
    steps: (row.steps ?? []) as unknown[],
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

function hashOf(request: object): string {
  return createHash('sha256').update(stableStringify(request) ?? '').digest('hex');
}
