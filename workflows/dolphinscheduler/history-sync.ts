import { proxyActivities } from '@temporalio/workflow';
import type { HistoryActivities, HistorySyncResult, HistorySyncScope, TargetSyncResult } from './contract';

const { listHistoryTargets } = proxyActivities<HistoryActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});

/**
 * One target's sync pages through thousands of instances on a first sync: it heartbeats per page,
 * and a retry resumes at the page its last heartbeat named. DolphinScheduler failures do not fail
 * it (they are recorded per definition); what retries here is the database.
 */
const { syncTargetHistory } = proxyActivities<HistoryActivities>({
  startToCloseTimeout: '15m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '2s', maximumAttempts: 3 },
});

/** Targets synced at once: each holds one connection pool to its server. */
const TARGETS_IN_PARALLEL = 4;

/**
 * Copies the instances of published definitions from DolphinScheduler into the execution cache:
 * every tenant on the schedule, one template for `?refresh=true`. A target that is down is
 * recorded and the others go on.
 */
export async function syncDolphinSchedulerHistory(scope: HistorySyncScope = {}): Promise<HistorySyncResult> {
  const groups = await listHistoryTargets(scope);
  const targets: TargetSyncResult[] = [];
  for (let start = 0; start < groups.length; start += TARGETS_IN_PARALLEL) {
    const batch = groups.slice(start, start + TARGETS_IN_PARALLEL);
    const results = await Promise.all(
      batch.map((group) =>
        syncTargetHistory(group).catch(
          (error: Error): TargetSyncResult => ({ ...group, definitions: [], error: { type: 'SyncFailed', message: error.message } }),
        ),
      ),
    );
    targets.push(...results);
  }
  return { targets };
}
