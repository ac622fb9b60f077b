import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { StepActivity, StepActivityResult, StepRunContext } from '../workflows/engine/step-activity';
import { stepIdOfActivity } from '../workflows/engine/step-activity';
import { limitOutput } from './output-limit';
import { redactDeep, substituteSecrets, type SecretResolver } from './secrets';

export interface StepContext {
  workflowId: string;
  runId: string;
  stepId: string;
  activityId: string;
  attempt: number;
  /** The run's tenant; absent for runs started before tenants existed. */
  tenantId?: string;
  /** Hides the secrets substituted into this step's `with`: apply it to whatever is logged. */
  redact(text: string): string;
  logger: Logger;
}

export type StepImplementation<Params> = (params: Params, context: StepContext) => Promise<unknown>;

/**
 * Turns a step implementation into the activity the workflow calls: it gets a context with the
 * run's ids and a child logger, its output is held to the size limit, and every failure reports
 * the attempt it happened on (the workflow shows attempts in the run state).
 *
 * Secrets: the `{{ secrets.NAME }}` references at the paths the workflow names are substituted
 * here, through `secrets`, and their values are redacted from the step's output and failures,
 * which go to the workflow's history (a server echoing a header, an error quoting a URL).
 */
export function stepActivity<Params>(
  logger: Logger,
  implementation: StepImplementation<Params>,
  secrets?: SecretResolver,
): StepActivity {
  return async (params: unknown, run?: StepRunContext): Promise<StepActivityResult> => {
    const { info } = Context.current();
    // Step activities only ever run for a workflow, so its execution is always there.
    const { workflowId, runId } = info.workflowExecution!;
    const stepId = stepIdOfActivity(info.activityId);
    let redact = (text: string) => text;
    try {
      const substituted = await substituteSecrets(params, run, secrets);
      redact = substituted.redact;
      const context: StepContext = {
        workflowId,
        runId,
        stepId,
        activityId: info.activityId,
        attempt: info.attempt,
        tenantId: run?.tenantId,
        redact,
        logger: logger.child({ workflowId, runId, stepId, activityType: info.activityType, attempt: info.attempt }),
      };
      const output = await implementation(substituted.params as Params, context);
      return { output: limitOutput(substituted.any ? redactDeep(output, redact) : output), attempt: info.attempt };
    } catch (error) {
      throw withAttempt(error, info.attempt, redact);
    }
  };
}

function withAttempt(error: unknown, attempt: number, redact: (text: string) => string): unknown {
  if (error instanceof CancelledFailure) return error;
  if (error instanceof ApplicationFailure) {
    const context = error.details?.[0];
    return ApplicationFailure.create({
      type: error.type ?? undefined,
      message: redact(error.message),
      nonRetryable: error.nonRetryable ?? false,
      details: [redactDeep({ ...(typeof context === 'object' ? context : {}), attempt }, redact)],
      cause: redactedCause(error.cause, redact),
    });
  }
  const cause = error instanceof Error ? error : new Error(String(error));
  return ApplicationFailure.create({
    type: cause.name,
    message: redact(cause.message),
    details: [{ attempt }],
    cause: redactedCause(cause, redact),
  });
}

/**
 * A cause goes to the history with its message, stack and own causes, any of which may quote a
 * secret (a URL in a network error): then it is replaced by a copy saying the same without it.
 */
function redactedCause(cause: unknown, redact: (text: string) => string): Error | undefined {
  if (cause === undefined || cause === null) return undefined;
  const error = cause instanceof Error ? cause : new Error(String(cause));
  const inner = redactedCause(error.cause, redact);
  const text = `${error.message}\n${error.stack ?? ''}`;
  if (redact(text) === text && inner === error.cause) return error;
  const copy = new Error(redact(error.message), inner === undefined ? undefined : { cause: inner });
  copy.name = error.name;
  copy.stack = redact(error.stack ?? '');
  return copy;
}
