import type { PrismaClient } from '@prisma/client';

/** How long a tenant keeps step logs and artifacts when it set nothing else (PUT /api/v1/retention). */
export const DEFAULT_RETENTION = { logsDays: 30, artifactsDays: 30 } as const;

/** The bounds a policy may name: at least a day, at most ten years. */
export const RETENTION_DAYS = { min: 1, max: 3650 } as const;

export interface RetentionPolicyView {
  logsDays: number;
  artifactsDays: number;
  /** False while the tenant keeps the defaults. */
  custom: boolean;
  updatedBy: string | null;
  updatedAt: string | null;
}

export async function readRetentionPolicy(prisma: PrismaClient, tenantId: string): Promise<RetentionPolicyView> {
  const row = await prisma.retentionPolicy.findUnique({ where: { tenantId } });
  if (!row) return { ...DEFAULT_RETENTION, custom: false, updatedBy: null, updatedAt: null };
  return { logsDays: row.logsDays, artifactsDays: row.artifactsDays, custom: true, updatedBy: row.updatedBy, updatedAt: row.updatedAt.toISOString() };
}
