import type { PrismaClient } from '@prisma/client';
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { InputValidators } from '../apps/common/inputs/input-validation';
import { runStartOptions } from '../apps/common/run-start-options';
import type { RunInput } from '../workflows/contract';
import { scheduleStarter, scheduledRunId, type ScheduledRunInput } from '../workflows/scheduled-start';
import { SpecSchema } from '../workflows/spec/schema';

/**
 * The activity of a schedule's firing (workflows/scheduled-run.ts): which version runs, and the run
 * workflow's start options, exactly as the API would start it (apps/common/run-start-options.ts),
 * with the schedule's tenant and `schedule:<id>` as the starter. It reads the template and version
 * from PostgreSQL, so a worker serving schedules needs DATABASE_URL.
 */

/** Failure types of a firing that cannot start a run; none is retried (a database outage is). */
export const ScheduledRunErrorType = {
  /** The template is gone, or belongs to another tenant than the schedule (which no API call can make). */
  TemplateNotFound: 'TemplateNotFound',
  TemplateArchived: 'TemplateArchived',
  /** A pinned version that does not exist. */
  VersionNotFound: 'VersionNotFound',
  /** The schedule's inputs do not match the input schema of the version resolved at this firing. */
  InputInvalid: 'InputInvalid',
  /** This worker has no database (DATABASE_URL) to read templates from. */
  SchedulesUnavailable: 'SchedulesUnavailable',
} as const;

/**
 * The run's start options, as plain data the workflow hands to `startChild`. The run's id and task
 * queue are decided here, not in the workflow: an activity's result is recorded, so a replay (on
 * any worker, under any id a replayer gives it) starts the same child.
 */
export interface ScheduledRunStart {
  runId: string;
  taskQueue: string;
  templateVersion: number;
  args: [RunInput];
  memo: Record<string, unknown>;
  staticSummary?: string;
  staticDetails?: string;
  typedSearchAttributes: NonNullable<ReturnType<typeof runStartOptions>['typedSearchAttributes']>;
}

export interface ScheduledRunDependencies {
  logger: Logger;
  /** Where templates are read; absent on a worker without DATABASE_URL, whose firings then fail as SchedulesUnavailable. */
  database?: PrismaClient;
}

export function createScheduledRunActivities(deps: ScheduledRunDependencies) {
  const inputValidators = new InputValidators();
  return {
    async resolveScheduledRun(input: ScheduledRunInput): Promise<ScheduledRunStart> {
      const { workflowExecution, taskQueue } = Context.current().info;
      const ids = { workflowId: scheduledRunId(workflowExecution?.runId ?? '') ?? `run-${randomUUID()}`, taskQueue };
      const database = deps.database;
      if (!database) {
        throw ApplicationFailure.nonRetryable(
          `schedule ${input.scheduleId} cannot fire: this worker has no database to read templates from (set DATABASE_URL)`,
          ScheduledRunErrorType.SchedulesUnavailable,
        );
      }
      const template = await database.template.findUnique({ where: { id: input.templateId } });
      if (!template || template.tenantId !== input.tenantId) {
        throw ApplicationFailure.nonRetryable(`template ${input.templateId} does not exist`, ScheduledRunErrorType.TemplateNotFound);
      }
      if (template.archived) {
        await pauseOrphanedSchedule(input.scheduleId, template.name, deps.logger);
        throw ApplicationFailure.nonRetryable(`template ${template.name} is archived and cannot be run`, ScheduledRunErrorType.TemplateArchived);
      }
      const number = input.version === 'latest' ? template.latestVersion : input.version;
      const version = await database.templateVersion.findUnique({ where: { templateId_number: { templateId: template.id, number } } });
      if (!version) {
        throw ApplicationFailure.nonRetryable(`template ${template.name} has no version ${number}`, ScheduledRunErrorType.VersionNotFound);
      }
      const spec = SpecSchema.parse(version.spec);
      const invalid = inputValidators.check(version.id, spec.inputs, input.inputs);
      if (invalid.length > 0) {
        const problems = invalid.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
        throw ApplicationFailure.nonRetryable(
          `the inputs of schedule ${input.scheduleId} do not match the input schema of ${template.name} v${number}: ${problems}`,
          ScheduledRunErrorType.InputInvalid,
        );
      }
      const runInput: RunInput = {
        templateId: template.id,
        templateName: template.name,
        templateVersion: number,
        spec,
        inputs: input.inputs,
        startedBy: scheduleStarter(input.scheduleId),
        tenantId: input.tenantId,
        ...(input.limits ? { limits: input.limits } : {}),
      };
      const options = runStartOptions(runInput, { ...ids, tenantId: input.tenantId });
      deps.logger.info({ scheduleId: input.scheduleId, runId: ids.workflowId, templateId: template.id, version: number }, 'scheduled run resolved');
      return {
        runId: ids.workflowId,
        taskQueue,
        templateVersion: number,
        args: [runInput],
        memo: options.memo ?? {},
        ...(options.staticSummary ? { staticSummary: options.staticSummary } : {}),
        ...(options.staticDetails ? { staticDetails: options.staticDetails } : {}),
        typedSearchAttributes: options.typedSearchAttributes ?? [],
      };
    },
  };
}

export type ScheduledRunActivities = ReturnType<typeof createScheduledRunActivities>;

/**
 * A schedule that fires for an archived template was missed when the template was archived (the
 * API pauses what visibility lists, which lags): it pauses itself here, so it fails once, not at
 * every firing. Best effort: the firing fails as TemplateArchived whatever happens.
 */
async function pauseOrphanedSchedule(scheduleId: string, templateName: string, logger: Logger): Promise<void> {
  try {
    await Context.current().client.schedule.getHandle(scheduleId).pause(`template ${templateName} is archived`);
    logger.info({ scheduleId }, 'schedule of an archived template paused at its firing');
  } catch (error) {
    logger.warn({ err: error, scheduleId }, 'schedule of an archived template could not be paused');
  }
}
