import { WorkflowFailedError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { TerminatedFailure } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { z } from 'zod';
import { RUN_PARENT_MEMO_KEY, stateQuery, type RunParent, type RunState, type StepError } from '../../../../workflows/contract';
import { RunStatusKey, StartedByKey, TemplateIdKey, TemplateVersionKey } from '../../../../workflows/search-attributes';
import type { ApiDependencies } from '../dependencies';
import { stepIdOfActivity } from '../../../../workflows/engine/step-activity';
import { asRunState, stepErrorOf } from './history-events';
import { describeRun } from './run-handle';
import { isClosed, runStatusOf } from './run-status';
import type { RunDetailSchema, StepViewSchema } from './schemas';

/**
 * A query needs a worker; without one it would wait for the call's whole deadline. A run that
 * cannot answer is shown from what Temporal knows, so this is short.
 */
export const STATE_QUERY_TIMEOUT_MS = 3_000;

type RunDetail = z.output<typeof RunDetailSchema>;
type StepView = z.output<typeof StepViewSchema>;
type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;

/** What is known of a run beyond Temporal's description of it. */
export interface KnownState {
  state?: RunState;
  error?: StepError;
  /** Why the steps are missing: the run could not report them. */
  note?: string;
}

/**
 * One run as the workflow sees it (its state query) and as Temporal sees it (describe): the
 * query knows the steps, describe knows the attempts of activities that are retrying right now.
 * A running run that cannot answer the query (no worker, or a workflow task that keeps failing)
 * is shown from the description alone, with a note saying why its steps are missing.
 */
export async function viewRun(deps: ApiDependencies, runId: string, tenantId: string): Promise<RunDetail> {
  const { handle, description } = await describeRun(deps, runId, tenantId);
  const { state, error, note } = await knownStateOf(deps, handle, description);
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
    ...(error ? { error } : {}),
    ...(note ? { note } : {}),
    steps: Object.values(state?.steps ?? {}).map((step) => withLiveAttempts(step, pending)),
    ...parentOf(description),
    children: Object.values(state?.steps ?? {}).flatMap((step) => (step.childRunId ? [{ runId: step.childRunId, stepId: step.id }] : [])),
  };
}

/** The parent a child run names in its memo (the workflow sets it when a `template` step starts it). */
function parentOf(description: WorkflowExecutionDescription): { parent?: RunParent } {
  const parent = description.memo?.[RUN_PARENT_MEMO_KEY] as Partial<RunParent> | undefined;
  if (typeof parent?.runId !== 'string' || typeof parent.stepId !== 'string') return {};
  return { parent: { runId: parent.runId, stepId: parent.stepId } };
}

async function knownStateOf(
  deps: ApiDependencies,
  handle: WorkflowHandle,
  description: WorkflowExecutionDescription,
): Promise<KnownState> {
  let state: RunState;
  try {
    state = await deps.temporal.withDeadline(Date.now() + STATE_QUERY_TIMEOUT_MS, () => handle.query(stateQuery));
  } catch (error) {
    deps.logger.warn({ runId: handle.workflowId, err: error }, 'run state query failed');
    if (isClosed(description.status.name)) return outcomeOf(handle);
    return { note: unreadableRunNote(description) };
  }
  // Only the result knows why a run was terminated; the workflow never saw it coming.
  if (description.status.name === 'TERMINATED') return { state, error: (await outcomeOf(handle)).error };
  return { state, error: state.error };
}

/**
 * A closed run's last state: its result, or the state it attached to its failure or cancellation;
 * a terminated run attached none, and its error is the termination's reason.
 */
export async function outcomeOf(handle: WorkflowHandle): Promise<KnownState> {
  try {
    return { state: asRunState(await handle.result()) };
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) throw error;
    if (error.cause instanceof TerminatedFailure) return { error: { message: error.cause.message, type: 'Terminated' } };
    const state = asRunState((error.cause as { details?: unknown[] } | undefined)?.details?.[0]);
    return { state, error: state?.error };
  }
}

function unreadableRunNote(description: WorkflowExecutionDescription): string {
  const failedAttempts = (description.raw.pendingWorkflowTask?.attempt ?? 1) - 1;
  const why =
    failedAttempts > 0
      ? `its workflow task has failed ${failedAttempts} time${failedAttempts === 1 ? '' : 's'} (the worker cannot run it)`
      : 'no worker answered in time';
  return `the run cannot report its steps: ${why}; its status is the last it published, and a cancel ends it`;
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
