import { Prisma, type PrismaClient } from '@prisma/client';

/** Step log entries of one run of a tenant, oldest first, as the API shows them. */

export interface LogFilters {
  step?: string;
  attempt?: number;
  q?: string;
}

export interface StepLogEntryView {
  id: string;
  at: string;
  stepId: string;
  attempt: number;
  activityId: string;
  level: 'info' | 'warn' | 'error';
  message: string;
  data: Record<string, unknown>;
}

interface StepLogRow {
  id: bigint;
  at: Date;
  stepId: string;
  attempt: number;
  activityId: string;
  level: string;
  message: string;
  data: Record<string, unknown>;
}

/** The entries after `afterId` matching the filters, at most `limit` of them. */
export async function readStepLogs(
  prisma: PrismaClient,
  scope: { tenantId: string; runId: string },
  filters: LogFilters,
  afterId: bigint | undefined,
  limit: number,
): Promise<StepLogEntryView[]> {
  const conditions = [Prisma.sql`"tenantId" = ${scope.tenantId}::uuid`, Prisma.sql`"runId" = ${scope.runId}`];
  if (filters.step !== undefined) conditions.push(Prisma.sql`"stepId" = ${filters.step}`);
  if (filters.attempt !== undefined) conditions.push(Prisma.sql`attempt = ${filters.attempt}::int`);
  if (filters.q !== undefined) {
    const pattern = `%${escapeLike(filters.q)}%`;
    conditions.push(Prisma.sql`(message ILIKE ${pattern} ESCAPE '\\' OR data::text ILIKE ${pattern} ESCAPE '\\')`);
  }
  if (afterId !== undefined) conditions.push(Prisma.sql`id > ${afterId}`);
  const rows = await prisma.$queryRaw<StepLogRow[]>`
    SELECT id, at, "stepId", attempt, "activityId", level, message, data
    FROM step_logs WHERE ${Prisma.join(conditions, ' AND ')}
    ORDER BY id LIMIT ${limit}::int`;
  return rows.map((row) => ({
    id: row.id.toString(),
    at: row.at.toISOString(),
    stepId: row.stepId,
    attempt: row.attempt,
    activityId: row.activityId,
    level: row.level as StepLogEntryView['level'],
    message: row.message,
    data: row.data,
  }));
}

/** `q` is text to find, not a pattern: LIKE's wildcards and escape are taken literally. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}
