import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { StepActivity, StepActivityResult } from '../workflows/engine/step-activity';
import { stepIdOfActivity } from '../workflows/engine/step-activity';
import { limitOutput } from './output-limit';

export interface StepContext {
  workflowId: string;
  runId: string;
  stepId: string;
  activityId: string;
  attempt: number;
  logger: Logger;
}

export type StepImplementation<Params> = (params: Params, context: StepContext) => Promise<unknown>;

/**
 * Turns a step implementation into the activity the workflow calls: it gets a context with the
 * run's ids and a child logger, its output is held to the size limit, and every failure reports
 * the attempt it happened on (the workflow shows attempts in the run state).
 */
export function stepActivity<Params>(logger: Logger, implementation: StepImplementation<Params>): StepActivity {
  return async (params: unknown): Promise<StepActivityResult> => {
    const { info } = Context.current();
    // Step activities only ever run for a workflow, so its execution is always there.
    const { workflowId, runId } = info.workflowExecution!;
    const stepId = stepIdOfActivity(info.activityId);
    const context: StepContext = {
      workflowId,
      runId,
      stepId,
      activityId: info.activityId,
      attempt: info.attempt,
      logger: logger.child({ workflowId, runId, stepId, activityType: info.activityType, attempt: info.attempt }),
    };
    try {
      const output = await implementation(params as Params, context);
      return { output: limitOutput(output), attempt: info.attempt };
    } catch (error) {
      throw withAttempt(error, info.attempt);
    }
  };
}

function withAttempt(error: unknown, attempt: number): unknown {
  if (error instanceof CancelledFailure) return error;
  if (error instanceof ApplicationFailure) {
    const context = error.details?.[0];
    return ApplicationFailure.create({
      type: error.type ?? undefined,
      message: error.message,
      nonRetryable: error.nonRetryable ?? false,
      details: [{ ...(typeof context === 'object' ? context : {}), attempt }],
      cause: error.cause,
    });
  }
  const cause = error instanceof Error ? error : new Error(String(error));
  return ApplicationFailure.create({ type: cause.name, message: cause.message, details: [{ attempt }], cause });
}
