import { Prisma, type PrismaClient } from '@prisma/client';

/**
 * Figures read from the execution cache, shared by the inspections (worker) and the metrics (API).
 */

/** Finished states that end a run of failures; unfinished and unknown states neither extend nor end one. */
export const STREAK_BREAKING_STATES = ['SUCCESS', 'STOP', 'PAUSE', 'BLOCK'] as const;
export const FAILED_STATE = 'FAILURE';

export interface FailureStreak {
  tenantId: string;
  templateId: string;
  target: string;
  /** Failed executions since the last one that finished otherwise. */
  failures: number;
  /** The streak's first failed instance: the same for as long as the streak lasts. */
  firstInstanceId: number;
  lastInstanceId: number;
  lastFailedAt: Date | null;
}

/** Current runs of failed executions per template and target (only those of at least `minimum`). */
export async function failureStreaks(prisma: PrismaClient, options: { tenantId?: string; minimum?: number } = {}): Promise<FailureStreak[]> {
  const tenantFilter = options.tenantId ? Prisma.sql`AND e."tenantId" = ${options.tenantId}::uuid` : Prisma.empty;
  const rows = await prisma.$queryRaw<
    { tenantId: string; templateId: string; target: string; failures: bigint; firstInstanceId: bigint; lastInstanceId: bigint; lastFailedAt: Date | null }[]
  >`
    WITH breaks AS (
      SELECT "tenantId", "templateId", "target", max("startTime") AS "brokenAt"
      FROM "DolphinSchedulerExecution"
      WHERE "state" IN (${Prisma.join([...STREAK_BREAKING_STATES])})
      GROUP BY 1, 2, 3
    )
    SELECT e."tenantId", e."templateId", e."target", count(*) AS "failures",
      (array_agg(e."instanceId" ORDER BY e."startTime" ASC, e."instanceId" ASC))[1] AS "firstInstanceId",
      (array_agg(e."instanceId" ORDER BY e."startTime" DESC, e."instanceId" DESC))[1] AS "lastInstanceId",
      max(e."endTime") AS "lastFailedAt"
    FROM "DolphinSchedulerExecution" e
    LEFT JOIN breaks b ON b."tenantId" = e."tenantId" AND b."templateId" = e."templateId" AND b."target" = e."target"
    WHERE e."state" = ${FAILED_STATE} AND (b."brokenAt" IS NULL OR e."startTime" > b."brokenAt") ${tenantFilter}
    GROUP BY 1, 2, 3
    HAVING count(*) >= ${options.minimum ?? 1}`;
  return rows.map((row) => ({
    tenantId: row.tenantId,
    templateId: row.templateId,
    target: row.target,
    failures: Number(row.failures),
    firstInstanceId: Number(row.firstInstanceId),
    lastInstanceId: Number(row.lastInstanceId),
    lastFailedAt: row.lastFailedAt,
  }));
}
