import { Prisma, type PrismaClient } from '@prisma/client';

/**
 * A template's definition on a target, as its publish records say: the latest record of the
 * template on the target that names a definition. The history sync follows every one (a failed
 * publish that created the definition too: it may have run); inspections compare DolphinScheduler
 * with the latest successful one.
 */
export interface DefinitionBinding {
  tenantId: string;
  templateId: string;
  target: string;
  publishId: string;
  action: string;
  status: string;
  templateVersion: number;
  projectCode: number;
  definitionCode: number;
  definitionVersion: number | null;
  /** step id -> task code */
  taskCodes: Record<string, number>;
  scheduleId: number | null;
  finishedAt: Date | null;
}

/** Statuses of a record whose definition is what flowpilot last wrote on purpose. */
export const SUCCESSFUL_PUBLISH_STATUSES = ['published', 'online', 'offline'] as const;

interface BindingRow {
  tenantId: string;
  templateId: string;
  target: string;
  id: string;
  action: string;
  status: string;
  templateVersion: number;
  projectCode: bigint;
  definitionCode: bigint;
  definitionVersion: number | null;
  taskCodes: unknown;
  scheduleId: number | null;
  finishedAt: Date | null;
}

export interface BindingFilter {
  tenantId?: string;
  templateId?: string;
  target?: string;
  /** Only records with one of these statuses. */
  statuses?: readonly string[];
}

export async function definitionBindings(prisma: PrismaClient, filter: BindingFilter): Promise<DefinitionBinding[]> {
  const conditions: Prisma.Sql[] = [Prisma.sql`"definitionCode" IS NOT NULL`, Prisma.sql`"projectCode" IS NOT NULL`];
  if (filter.tenantId) conditions.push(Prisma.sql`"tenantId" = ${filter.tenantId}::uuid`);
  if (filter.templateId) conditions.push(Prisma.sql`"templateId" = ${filter.templateId}::uuid`);
  if (filter.target) conditions.push(Prisma.sql`"target" = ${filter.target}`);
  if (filter.statuses) conditions.push(Prisma.sql`"status" IN (${Prisma.join([...filter.statuses])})`);
  const rows = await prisma.$queryRaw<BindingRow[]>`
    SELECT DISTINCT ON ("tenantId", "templateId", "target")
      "tenantId", "templateId", "target", "id", "action", "status", "templateVersion", "projectCode", "definitionCode",
      "definitionVersion", "taskCodes", "scheduleId", "finishedAt"
    FROM "Publish"
    WHERE ${Prisma.join(conditions, ' AND ')}
    ORDER BY "tenantId", "templateId", "target", "createdAt" DESC, "id" DESC`;
  return rows.map((row) => ({
    tenantId: row.tenantId,
    templateId: row.templateId,
    target: row.target,
    publishId: row.id,
    action: row.action,
    status: row.status,
    templateVersion: row.templateVersion,
    projectCode: Number(row.projectCode),
    definitionCode: Number(row.definitionCode),
    definitionVersion: row.definitionVersion,
    taskCodes: typeof row.taskCodes === 'object' && row.taskCodes !== null ? (row.taskCodes as Record<string, number>) : {},
    scheduleId: row.scheduleId,
    finishedAt: row.finishedAt,
  }));
}
