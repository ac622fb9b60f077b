import type { DolphinSchedulerTarget, PrismaClient } from '@prisma/client';
import { lockKeyForTransaction } from '../../../common/database';
import { auditRow, type AuditActor } from '../audit/trail';
import type { TargetInput } from './target-schemas';
import type { Dialect } from '../../../../workflows/publishing/contract';

/**
 * A tenant's DolphinScheduler targets (e.g. staging and prod), in PostgreSQL. Every change writes
 * its audit entry in the same transaction. Reads and writes are scoped to the caller's tenant.
 */

export interface TargetView {
  name: string;
  baseUrl: string;
  tokenSecret: string;
  projectName: string;
  tenantCode: string;
  workerGroup: string;
  dialect: Dialect;
  description: string;
  createdBy: string;
  updatedBy: string;
  createdAt: string;
  updatedAt: string;
}

/** A caller of a tenant (targets have no system scope). */
type TenantActor = AuditActor & { tenantId: string };

export class TargetStore {
  constructor(private readonly prisma: PrismaClient) {}

  async list(tenantId: string): Promise<TargetView[]> {
    const rows = await this.prisma.dolphinSchedulerTarget.findMany({ where: { tenantId }, orderBy: { name: 'asc' } });
    return rows.map(targetView);
  }

  async get(tenantId: string, name: string): Promise<TargetView | undefined> {
    const row = await this.prisma.dolphinSchedulerTarget.findUnique({ where: { tenantId_name: { tenantId, name } } });
    return row ? targetView(row) : undefined;
  }

  /** Creates or replaces a target; answers it and whether it is new. */
  async put(actor: TenantActor, name: string, input: TargetInput): Promise<{ target: TargetView; created: boolean }> {
    return this.prisma.$transaction(async (tx) => {
      await lockKeyForTransaction(tx, 'dolphinscheduler-target', actor.tenantId, name);
      const existing = await tx.dolphinSchedulerTarget.findUnique({ where: { tenantId_name: { tenantId: actor.tenantId, name } } });
      const row = await tx.dolphinSchedulerTarget.upsert({
        where: { tenantId_name: { tenantId: actor.tenantId, name } },
        create: { tenantId: actor.tenantId, name, ...input, createdBy: actor.subject, updatedBy: actor.subject },
        update: { ...input, updatedBy: actor.subject },
      });
      const created = existing === null;
      await tx.auditEvent.create({
        data: auditRow(actor, {
          action: created ? 'dolphinscheduler.target.created' : 'dolphinscheduler.target.updated',
          target: { type: 'dolphinscheduler-target', id: name },
          // The secret's name is no secret; the token it holds never reaches this API.
          summary: { ...input },
        }),
      });
      return { target: targetView(row), created };
    });
  }

  async delete(actor: TenantActor, name: string): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.dolphinSchedulerTarget.deleteMany({ where: { tenantId: actor.tenantId, name } });
      if (count === 0) return false;
      await tx.auditEvent.create({
        data: auditRow(actor, { action: 'dolphinscheduler.target.deleted', target: { type: 'dolphinscheduler-target', id: name } }),
      });
      return true;
    });
  }
}

export function targetView(row: DolphinSchedulerTarget): TargetView {
  return {
    name: row.name,
    baseUrl: row.baseUrl,
    tokenSecret: row.tokenSecret,
    projectName: row.projectName,
    tenantCode: row.tenantCode,
    workerGroup: row.workerGroup,
    dialect: row.dialect as Dialect,
    description: row.description,
    createdBy: row.createdBy,
    updatedBy: row.updatedBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
