import { WorkflowFailedError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { z } from 'zod';
import { stateQuery, type RunState } from '../../../../workflows/contract';
import { RunStatusKey, StartedByKey, TemplateIdKey, TemplateVersionKey } from '../../../../workflows/search-attributes';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import { stepIdOfActivity } from '../../../../workflows/engine/step-activity';
import { asRunState, stepErrorOf } from './history-events';
import { describeRun } from './run-handle';
import { isClosed, runStatusOf } from './run-status';
import type { RunDetailSchema, StepViewSchema } from './schemas';

/** A query needs a worker; without one it would wait for the RPC's own, much longer, deadline. */
const STATE_QUERY_TIMEOUT_MS = 5_000;

type RunDetail = z.output<typeof RunDetailSchema>;
type StepView = z.output<typeof StepViewSchema>;
type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;

/**
 * One run as the workflow sees it (its state query) and as Temporal sees it (describe): the
 * query knows the steps, describe knows the attempts of activities that are retrying right now.
 */
export async function viewRun(deps: ApiDependencies, runId: string, tenantId: string): Promise<RunDetail> {
  const { handle, description } = await describeRun(deps, runId, tenantId);
  const state = await stateOf(deps, handle, description);
  const attributes = description.typedSearchAttributes;
  const pending = description.raw.pendingActivities ?? [];
  return {
    runId,
    status: runStatusOf(description.status.name, state?.status ?? attributes.get(RunStatusKey)),
    templateId: attributes.get(TemplateIdKey) ?? null,
    version: attributes.get(TemplateVersionKey) ?? null,
    startedBy: attributes.get(StartedByKey) ?? null,
    startedAt: description.startTime.toISOString(),
    closedAt: description.closeTime?.toISOString() ?? null,
    paused: state?.paused ?? false,
    held: state?.held ?? [],
    ...(state?.error ? { error: state.error } : {}),
    steps: Object.values(state?.steps ?? {}).map((step) => withLiveAttempts(step, pending)),
  };
}

async function stateOf(
  deps: ApiDependencies,
  handle: WorkflowHandle,
  description: WorkflowExecutionDescription,
): Promise<RunState | undefined> {
  try {
    return await deps.temporal.withDeadline(Date.now() + STATE_QUERY_TIMEOUT_MS, () => handle.query(stateQuery));
  } catch (error) {
    deps.logger.warn({ runId: handle.workflowId, err: error }, 'run state query failed');
    if (!isClosed(description.status.name)) {
      throw problems.unavailable(`run ${handle.workflowId} cannot report its state right now; try again shortly`);
    }
    return finalStateOf(handle);
  }
}

/** A closed run's last state: its result, or the state it attached to its failure or cancellation. */
async function finalStateOf(handle: WorkflowHandle): Promise<RunState | undefined> {
  try {
    return asRunState(await handle.result());
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) throw error;
    return asRunState((error.cause as { details?: unknown[] } | undefined)?.details?.[0]);
  }
}

function withLiveAttempts(step: RunState['steps'][string], pending: PendingActivity[]): StepView {
  if (step.status !== 'running') return step;
  const activity = pending.find((candidate) => stepIdOfActivity(candidate.activityId ?? '') === step.id);
  if (!activity) return step;
  return {
    ...step,
    attempts: Math.max(step.attempts, activity.attempt ?? 0),
    ...(activity.lastFailure ? { lastError: stepErrorOf(activity.lastFailure) } : {}),
  };
}
