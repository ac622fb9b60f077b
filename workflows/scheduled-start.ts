import type { RunLimits } from './contract';

/**
 * The contract of scheduled starts, shared by the API (which writes it into a Temporal Schedule's
 * action), the launcher workflow (scheduled-run.ts) and its activity (activities/scheduled-runs.ts).
 *
 * A Temporal Schedule's action starts the small `scheduledRun` workflow, not the run itself: a run's
 * input holds the whole spec of its version, which a schedule following the latest version cannot
 * know when it is written. The launcher resolves the version with an activity when it fires, then
 * runs the run workflow as its child and waits for it, so the schedule's overlap policy applies to
 * runs. Changing a shape here is a change to schedules already stored: keep it backwards compatible.
 */

export const SCHEDULED_RUN_WORKFLOW_TYPE = 'scheduledRun';

export interface ScheduledRunInput {
  scheduleId: string;
  tenantId: string;
  templateId: string;
  /** A pinned version number, or the template's latest version at each firing. */
  version: number | 'latest';
  inputs: Record<string, unknown>;
  /** Engine limits of the API that wrote the schedule. */
  limits?: RunLimits;
}

/** What a firing ended with: the run it started and how that run ended. */
export interface ScheduledRunResult {
  runId: string;
  templateVersion: number;
  /** The run workflow's outcome: `completed` (the run's own status is in its state), `failed`, `cancelled`, `terminated`, `timedOut`. */
  outcome: 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timedOut';
}

/** Schedule ids and the base of their launchers' workflow ids: `schedule-<uuid>`. */
const SCHEDULE_ID = /^schedule-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Temporal run ids are UUIDs. */
const TEMPORAL_RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isScheduleId(value: string): boolean {
  return SCHEDULE_ID.test(value);
}

/** The starter a scheduled run names (its `startedBy` and StartedBy search attribute). */
export function scheduleStarter(scheduleId: string): string {
  return `schedule:${scheduleId}`;
}

/**
 * The run id of the run a launcher starts: `run-<the launcher's Temporal run id>`. Temporal names
 * a launcher `<schedule id>-<firing time to the second>`, so two firings within one second (a
 * trigger as the cron fires) share a workflow id, but never a run id; the schedule's recent actions
 * name each launcher's first run id, so the API names their runs without asking each launcher.
 * Undefined for anything that is not a Temporal run id.
 */
export function scheduledRunId(launcherRunId: string): string | undefined {
  return TEMPORAL_RUN_ID.test(launcherRunId) ? `run-${launcherRunId}` : undefined;
}
