import { Context } from '@temporalio/activity';
import type { PrismaClient } from '@prisma/client';
import type { Logger } from 'pino';
import { DEFAULT_RETENTION } from '../apps/common/retention/policy';
import type { ArtifactStore } from '../apps/common/artifacts/artifact-store';

/**
 * Deletes step logs and artifacts past their tenant's retention (README, "Retention"), in batches
 * so that no statement holds locks for long, tenant by tenant through the (tenantId, at/createdAt)
 * indexes. Artifact bytes go once no artifact of the tenant names their hash any more and they
 * were not written in the last CONTENT_GRACE_MS (an artifact being saved right now names them next).
 */

export const CLEANUP_BATCH_SIZE = 1_000;
const CONTENT_GRACE_MS = 60 * 60 * 1000;

export interface RetentionCleanupResult {
  logs: number;
  artifacts: number;
  contents: number;
}

export interface RetentionDependencies {
  prisma: PrismaClient;
  artifacts: Pick<ArtifactStore, 'removeContent'>;
  logger: Logger;
  batchSize?: number;
}

export function createRetentionActivities(deps: RetentionDependencies) {
  const batch = deps.batchSize ?? CLEANUP_BATCH_SIZE;
  const logger = deps.logger.child({ component: 'retention' });

  async function untilDone(remove: () => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const removed = await remove();
      total += removed;
      heartbeat(total);
      if (removed < batch) return total;
    }
  }

  return {
    async cleanUpExpiredLogsAndArtifacts(): Promise<RetentionCleanupResult> {
      const result: RetentionCleanupResult = { logs: 0, artifacts: 0, contents: 0 };
      const tenants = await deps.prisma.$queryRaw<{ id: string; logsDays: number | null; artifactsDays: number | null }[]>`
        SELECT t.id, p."logsDays", p."artifactsDays"
        FROM "Tenant" t LEFT JOIN retention_policies p ON p."tenantId" = t.id`;
      for (const tenant of tenants) {
        const logsDays = tenant.logsDays ?? DEFAULT_RETENTION.logsDays;
        const artifactsDays = tenant.artifactsDays ?? DEFAULT_RETENTION.artifactsDays;
        result.logs += await untilDone(() => deps.prisma.$executeRaw`
          DELETE FROM step_logs WHERE id IN (
            SELECT id FROM step_logs
            WHERE "tenantId" = ${tenant.id}::uuid AND at < now() - make_interval(days => ${logsDays}::int)
            LIMIT ${batch}::int)`);
        result.artifacts += await untilDone(() => deps.prisma.$executeRaw`
          DELETE FROM artifacts WHERE id IN (
            SELECT id FROM artifacts
            WHERE "tenantId" = ${tenant.id}::uuid AND "createdAt" < now() - make_interval(days => ${artifactsDays}::int)
            LIMIT ${batch}::int)`);
        result.contents += await untilDone(async () => {
          const removed = await deps.prisma.$queryRaw<{ sha256: string; storage: string }[]>`
            DELETE FROM artifact_contents WHERE ("tenantId", sha256) IN (
              SELECT c."tenantId", c.sha256 FROM artifact_contents c
              WHERE c."tenantId" = ${tenant.id}::uuid
                AND c."lastWrittenAt" < now() - make_interval(secs => ${CONTENT_GRACE_MS / 1000}::int)
                AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a."tenantId" = c."tenantId" AND a.sha256 = c.sha256)
              LIMIT ${batch}::int)
            RETURNING sha256, storage`;
          for (const content of removed) {
            // The row is gone, so nothing can reach the bytes any more; an object the store keeps is only space.
            await deps.artifacts.removeContent(tenant.id, content.sha256, content.storage).catch((error: unknown) =>
              logger.warn({ err: error, tenantId: tenant.id, sha256: content.sha256 }, 'expired artifact content could not be removed from its store'),
            );
          }
          return removed.length;
        });
      }
      logger.info(result, 'expired step logs and artifacts removed');
      return result;
    },
  };
}

export type RetentionActivities = ReturnType<typeof createRetentionActivities>;

function heartbeat(progress: number): void {
  // Outside an activity (a direct call in a test) there is nobody to tell.
  try {
    Context.current().heartbeat(progress);
  } catch {
    /* not in an activity */
  }
}
