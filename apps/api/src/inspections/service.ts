import type { InspectionFinding } from '@prisma/client';
import { WorkflowIdConflictPolicy, WorkflowNotFoundError } from '@temporalio/client';
import { INSPECTIONS_WORKFLOW_TYPE, inspectionsWorkflowId, type InspectionsResult } from '../../../../workflows/dolphinscheduler/contract';
import { auditRow, type AuditActor } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import type { FindingListQuery } from './schemas';

/** How long `POST /api/v1/inspections/run` waits for the inspection before answering 202. */
export const DEFAULT_INSPECTION_WAIT_MS = 30_000;
const POLL_MS = 200;

/** A caller of a tenant (every inspection route is behind a tenant's credential). */
type TenantActor = AuditActor & { tenantId: string };
/** An on-demand inspection this soon after the tenant's last one answers that one's result. */
export const DEFAULT_INSPECTION_MIN_INTERVAL_MS = 10_000;

export class InspectionService {
  constructor(private readonly deps: ApiDependencies) {}

  async list(tenantId: string, query: FindingListQuery) {
    const rows = await this.deps.prisma.inspectionFinding.findMany({
      where: {
        tenantId,
        ...(query.status === 'all' ? {} : { status: query.status }),
        ...(query.rule ? { rule: query.rule } : {}),
        ...(query.templateId ? { templateId: query.templateId } : {}),
        ...(query.target ? { target: query.target } : {}),
      },
      orderBy: [{ lastSeenAt: 'desc' }, { id: 'asc' }],
      take: query.limit,
    });
    return { items: rows.map(findingView) };
  }

  /** Runs the tenant's inspection now (or joins one running), waiting for it a bounded time. */
  async run(actor: TenantActor) {
    const workflowId = inspectionsWorkflowId({ tenantId: actor.tenantId });
    // Each inspection reads every published definition of the tenant in DolphinScheduler: one that
    // finished moments ago is answered instead of starting another, so runs cannot flood a target.
    const minInterval = this.deps.inspectionMinIntervalMs ?? DEFAULT_INSPECTION_MIN_INTERVAL_MS;
    const last = minInterval > 0 ? await this.lastFinished(workflowId) : undefined;
    if (last && Date.now() - last.closedAt.getTime() < minInterval) {
      const previous = await this.answer(workflowId, actor.tenantId, last.handle);
      // One that failed is no answer: a new one starts.
      if (previous.status === 'completed') return { ...previous, status: 'recent' as const };
    }
    const handle = await this.deps.temporal.workflow.start(INSPECTIONS_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: this.deps.taskQueue,
      args: [{ tenantId: actor.tenantId }],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowExecutionTimeout: '30m',
    });
    this.deps.audit?.record(actor, { action: 'inspections.run', target: { type: 'inspections', id: workflowId } });
    const deadline = Date.now() + (this.deps.inspectionWaitMs ?? DEFAULT_INSPECTION_WAIT_MS);
    for (;;) {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') break;
      if (Date.now() >= deadline) return { status: 'pending' as const, workflowId };
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return this.answer(workflowId, actor.tenantId, handle);
  }

  /** The tenant's latest inspection, if it finished (a running one is joined instead). */
  private async lastFinished(workflowId: string) {
    const handle = this.deps.temporal.workflow.getHandle(workflowId);
    try {
      const description = await handle.describe();
      if (description.status.name === 'RUNNING' || !description.closeTime) return undefined;
      return { handle, closedAt: description.closeTime };
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    }
  }

  private async answer(workflowId: string, tenantId: string, handle: { result(): Promise<InspectionsResult> }) {
    let result: InspectionsResult;
    try {
      result = await handle.result();
    } catch (error) {
      // The inspection itself failed (its retries ran out, e.g. the database went away): said, not a 500.
      return { status: 'failed' as const, workflowId, error: (error as Error).message };
    }
    const tenant = result.tenants.find((t) => t.tenantId === tenantId);
    return {
      status: 'completed' as const,
      workflowId,
      result: {
        opened: tenant?.opened ?? 0,
        changed: tenant?.changed ?? 0,
        resolved: tenant?.resolved ?? 0,
        alerted: result.alerted,
        alertFailures: result.alertFailures,
        skipped: tenant?.skipped ?? [],
      },
    };
  }

  /**
   * Acknowledges an open finding: it is not alerted again until what is found changes. For an
   * unconfirmed dependency this is the confirmation that the dependency is meant.
   */
  async acknowledge(actor: TenantActor, id: string, comment: string | undefined) {
    return this.deps.prisma.$transaction(async (tx) => {
      const finding = await tx.inspectionFinding.findFirst({ where: { id, tenantId: actor.tenantId } });
      if (!finding) throw problems.notFound(`finding ${id} does not exist`);
      if (finding.status === 'resolved') throw problems.conflict(`finding ${id} is resolved: nothing to acknowledge`);
      const row = await tx.inspectionFinding.update({
        where: { id },
        data: { status: 'acknowledged', acknowledgedBy: actor.subject, acknowledgedAt: new Date() },
      });
      await tx.auditEvent.create({
        data: auditRow(actor, {
          action: 'inspection.finding.acknowledged',
          target: { type: 'inspection-finding', id },
          summary: { rule: finding.rule, fingerprint: finding.fingerprint, ...(comment ? { comment } : {}) },
        }),
      });
      return findingView(row);
    });
  }
}

export function findingView(row: InspectionFinding) {
  return {
    id: row.id,
    rule: row.rule,
    severity: row.severity,
    status: row.status,
    templateId: row.templateId,
    target: row.target,
    owner: row.owner,
    summary: row.summary,
    details: row.details,
    fingerprint: row.fingerprint,
    firstSeenAt: row.firstSeenAt.toISOString(),
    lastSeenAt: row.lastSeenAt.toISOString(),
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
    acknowledgedBy: row.acknowledgedBy,
    acknowledgedAt: row.acknowledgedAt?.toISOString() ?? null,
    alertedAt: row.alertedHash === row.stateHash ? (row.alertedAt?.toISOString() ?? null) : null,
  };
}
