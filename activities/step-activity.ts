import { inspect } from 'node:util';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { StepActivity, StepActivityResult, StepRunContext } from '../workflows/engine/step-activity';
import { stepIdOfActivity } from '../workflows/engine/step-activity';
import type { ArtifactOrigin, ArtifactReference } from '../apps/common/artifacts/artifact-store';
import { limitOutput, type SaveArtifact } from './output-limit';
import { redactDeep, substituteSecrets, type SecretResolver } from './secrets';
import { discardingStepLog, type StepLog, type StepLogSink } from './step-logs/step-log';

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
  /** The step's log, kept outside the history (GET /api/v1/runs/:id/logs); entries are redacted like `redact`. */
  log: StepLog;
  /**
   * Stores bytes as an artifact of this step and attempt and answers its reference, to return in
   * place of a value too large for the history; absent when the worker has no artifact store or
   * the run no tenant. Substituted secrets are redacted from the bytes.
   */
  saveArtifact?: SaveArtifact;
}

/** Where artifacts are written: the ArtifactStore (apps/common/artifacts). */
export interface ArtifactWriter {
  save(origin: ArtifactOrigin, bytes: Buffer, mediaType: string): Promise<ArtifactReference>;
}

/** What step activities may use beside their implementation; each is optional, and a worker without it does without. */
export interface StepServices {
  secrets?: SecretResolver;
  stepLogs?: StepLogSink;
  artifacts?: ArtifactWriter;
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
  services: StepServices = {},
): StepActivity {
  return async (params: unknown, run?: StepRunContext): Promise<StepActivityResult> => {
    const { info } = Context.current();
    // Step activities only ever run for a workflow, so its execution is always there.
    const { workflowId, runId } = info.workflowExecution!;
    const stepId = stepIdOfActivity(info.activityId);
    let redact = (text: string) => text;
    try {
      const substituted = await substituteSecrets(params, run, services.secrets);
      redact = substituted.redact;
      const tenantId = run?.tenantId;
      const scope = { runId: workflowId, stepId, attempt: info.attempt };
      const saveArtifact: SaveArtifact | undefined =
        services.artifacts && tenantId !== undefined
          ? (bytes, mediaType) =>
              services.artifacts!.save({ tenantId, ...scope }, substituted.any ? redactBytes(bytes, redact) : bytes, mediaType)
          : undefined;
      const context: StepContext = {
        workflowId,
        runId,
        stepId,
        activityId: info.activityId,
        attempt: info.attempt,
        tenantId: run?.tenantId,
        redact,
        logger: logger.child({ workflowId, runId, stepId, activityType: info.activityType, attempt: info.attempt }),
        log:
          services.stepLogs && tenantId !== undefined
            ? services.stepLogs.forAttempt({ tenantId, ...scope, activityId: info.activityId }, redact)
            : discardingStepLog,
        ...(saveArtifact ? { saveArtifact } : {}),
      };
      const output = await implementation(substituted.params as Params, context);
      return { output: await limitOutput(substituted.any ? redactDeep(output, redact) : output, saveArtifact), attempt: info.attempt };
    } catch (error) {
      throw withAttempt(error, info.attempt, redact);
    } finally {
      // The attempt's entries are readable once the step is reported done; a failed write only warns.
      await services.stepLogs?.flush();
    }
  };
}

/**
 * Bytes with the substituted secrets replaced: as UTF-8 text when they are (a JSON or text body),
 * byte for byte otherwise (a binary body quoting an ASCII secret).
 */
function redactBytes(bytes: Buffer, redact: (text: string) => string): Buffer {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Buffer.from(redact(bytes.toString('latin1')), 'latin1');
  }
  const redacted = redact(text);
  return redacted === text ? bytes : Buffer.from(redacted, 'utf8');
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
  const error = cause instanceof Error ? cause : new Error(typeof cause === 'string' ? cause : inspect(cause));
  const inner = redactedCause(error.cause, redact);
  const text = `${error.message}\n${error.stack ?? ''}`;
  if (redact(text) === text && inner === error.cause) return error;
  const copy = new Error(redact(error.message), inner === undefined ? undefined : { cause: inner });
  copy.name = error.name;
  copy.stack = redact(error.stack ?? '');
  return copy;
}
