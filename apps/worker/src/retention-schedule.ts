import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { RETENTION_CLEANUP_WORKFLOW_TYPE } from '../../../workflows/retention-cleanup';

/** One schedule per namespace and task queue, whichever worker made it first. */
export function retentionScheduleId(taskQueue: string): string {
  return `flowpilot-retention-cleanup-${taskQueue}`;
}

/** How often expired step logs and artifacts are removed. */
export const RETENTION_CLEANUP_EVERY = '1h';

/**
 * Creates the Temporal Schedule that runs the retention cleanup, unless it exists: every worker
 * calls this at start-up, and the first one wins. A schedule someone changed (its interval, paused
 * in the Web UI) is left as it is. Runs never overlap: a slow cleanup skips the next tick.
 */
export async function ensureRetentionSchedule(client: Client, taskQueue: string, logger: Logger): Promise<'created' | 'existed'> {
  const scheduleId = retentionScheduleId(taskQueue);
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: RETENTION_CLEANUP_EVERY }] },
      action: { type: 'startWorkflow', workflowType: RETENTION_CLEANUP_WORKFLOW_TYPE, taskQueue, args: [], workflowExecutionTimeout: '2h' },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' },
      memo: { purpose: 'removes step logs and artifacts past their tenant’s retention' },
    });
    logger.info({ scheduleId, every: RETENTION_CLEANUP_EVERY }, 'retention schedule created');
    return 'created';
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) return 'existed';
    throw error;
  }
}
