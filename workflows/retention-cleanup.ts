import { proxyActivities } from '@temporalio/workflow';
import type { RetentionActivities } from '../activities/retention';

/** The workflow type the retention schedule starts (apps/worker/src/retention-schedule.ts). */
export const RETENTION_CLEANUP_WORKFLOW_TYPE = 'retentionCleanup';

const { cleanUpExpiredLogsAndArtifacts } = proxyActivities<RetentionActivities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '2m',
  retry: { maximumAttempts: 5, initialInterval: '10s' },
});

/** Removes step logs and artifacts past their tenants' retention; started by a Temporal Schedule. */
export async function retentionCleanup() {
  return cleanUpExpiredLogsAndArtifacts();
}
