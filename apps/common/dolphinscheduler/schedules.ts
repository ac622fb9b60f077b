import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import {
  HISTORY_SYNC_SCHEDULE_ID,
  HISTORY_SYNC_WORKFLOW_TYPE,
  INSPECTIONS_SCHEDULE_ID,
  INSPECTIONS_WORKFLOW_TYPE,
} from '../../../workflows/dolphinscheduler/contract';

export interface MaintenanceScheduleOptions {
  taskQueue: string;
  /**
   * Schedules for this tenant only (ids suffixed with it) instead of the global ones; the worker
   * makes the global ones, tests make their own so that they sync nothing of other tests.
   */
  tenantId?: string;
  /** 0 pauses the schedule. */
  historySyncIntervalSeconds: number;
  inspectionIntervalSeconds: number;
  logger: Logger;
}

/**
 * The two global Temporal Schedules (each run covers every tenant): the execution history sync and
 * the inspections. Made idempotently by every worker at start-up: the first creates them, later
 * ones bring their interval and task queue up to date. A run still going when the next is due is
 * not doubled (overlap SKIP).
 */
export async function ensureMaintenanceSchedules(client: Client, options: MaintenanceScheduleOptions): Promise<void> {
  const suffix = options.tenantId ? `:${options.tenantId}` : '';
  const wanted = [
    { scheduleId: HISTORY_SYNC_SCHEDULE_ID + suffix, workflowType: HISTORY_SYNC_WORKFLOW_TYPE, seconds: options.historySyncIntervalSeconds, what: 'DolphinScheduler execution history sync' },
    { scheduleId: INSPECTIONS_SCHEDULE_ID + suffix, workflowType: INSPECTIONS_WORKFLOW_TYPE, seconds: options.inspectionIntervalSeconds, what: 'inspections' },
  ];
  for (const schedule of wanted) {
    const spec = { intervals: [{ every: `${Math.max(schedule.seconds, 1)}s` as const }] };
    const action = {
      type: 'startWorkflow' as const,
      workflowType: schedule.workflowType,
      args: [options.tenantId ? { tenantId: options.tenantId } : {}],
      taskQueue: options.taskQueue,
      workflowExecutionTimeout: '1h' as const,
    };
    const paused = schedule.seconds === 0;
    try {
      await client.schedule.create({
        scheduleId: schedule.scheduleId,
        spec,
        action,
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
        state: { paused, note: paused ? 'paused by configuration (interval 0)' : schedule.what },
      });
      options.logger.info({ scheduleId: schedule.scheduleId, everySeconds: schedule.seconds }, 'schedule created');
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
      const handle = client.schedule.getHandle(schedule.scheduleId);
      await handle.update((previous) => ({ ...previous, spec, action, state: { ...previous.state, paused } }));
      options.logger.debug({ scheduleId: schedule.scheduleId, everySeconds: schedule.seconds }, 'schedule up to date');
    }
  }
}
