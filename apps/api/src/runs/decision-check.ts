import type { WorkflowHandle } from '@temporalio/client';
import { decisionRefusal, RefusalType, stateQuery, type Actor, type ApprovalDecision, type RunState } from '../../../../workflows/contract';
import { StartedByKey } from '../../../../workflows/search-attributes';
import type { ApiDependencies } from '../dependencies';
import { problems, type ProblemError } from '../http/problem';
import { describeRun } from './run-handle';
import { isClosed } from './run-status';
import { STATE_QUERY_TIMEOUT_MS } from './run-view';

/**
 * The server's own judgement of an approval decision, made before anything is sent to the run: the
 * caller (subject and roles from its credential) against the waiting step's approvers as the run
 * rendered them when the step began to wait (its state query reports them), and self-approval
 * against the run's starter as its credential named it (the StartedBy search attribute, the value
 * the run itself was started with). A refused decision never reaches the run: no update is sent.
 * The run's update validator applies the same rule (`decisionRefusal`) again to what does reach it,
 * which also settles a race with another decision made between this look and the update.
 */

export interface DecisionRequest {
  runId: string;
  tenantId: string;
  stepId: string;
  decision: ApprovalDecision['decision'];
  actor: Actor;
  comment?: string;
  /** A repeated request may concern a decision already taken; the run answers it as the first time. */
  idempotencyKey?: string;
}

export async function checkDecision(deps: ApiDependencies, request: DecisionRequest): Promise<void> {
  const { runId, stepId, decision, actor } = request;
  const { handle, description } = await describeRun(deps, runId, request.tenantId);
  const closed = isClosed(description.status.name);
  // Only a repeated request may still have an answer from a finished run; reading a finished run's
  // state replays its whole history on a worker, so a new decision is refused without it.
  if (closed && !request.idempotencyKey) throw runFinished(runId);
  const state = await stateOf(deps, handle, closed);
  const step = state.steps[stepId];
  if (!step) throw problems.notFound(`run ${runId} has no step ${stepId}`);
  // The same request again (its Idempotency-Key), for a decision this caller did take: the run
  // answers it with the first answer, even once the decision settled the step or ended the run.
  const alreadyTaken = step.approvals?.some((taken) => taken.by === actor.subject && taken.decision === decision) ?? false;
  if (request.idempotencyKey && alreadyTaken) return;
  if (closed || state.finishedAt) throw runFinished(runId);
  if (step.status !== 'waiting_approval') {
    throw problems.conflict(
      alreadyTaken
        ? `step ${stepId} is no longer waiting for approval (it is ${step.status}); ${actor.subject} already decided it`
        : `step ${stepId} is not waiting for approval (it is ${step.status})`,
    );
  }
  // A run on a worker that does not report its approvers yet: its validator judges alone.
  if (!step.approvers) {
    deps.logger.warn({ runId, stepId }, 'the run does not report the step’s approvers; its validator alone judges the decision');
    return;
  }
  const startedBy = description.typedSearchAttributes.get(StartedByKey);
  if (startedBy === undefined) {
    deps.logger.warn({ runId, stepId }, 'the run has no StartedBy attribute; its validator alone judges self-approval');
  }
  // Without the starter's name, nobody is the starter here: the validator, which has it, still refuses self-approval.
  const refused = decisionRefusal(decision, { stepId, actor, ...(request.comment ? { comment: request.comment } : {}) }, step.approvers, startedBy ?? '');
  if (refused) throw refusalOf(refused.type, refused.message);
}

async function stateOf(deps: ApiDependencies, handle: WorkflowHandle, closed: boolean): Promise<RunState> {
  try {
    return await deps.temporal.withDeadline(Date.now() + STATE_QUERY_TIMEOUT_MS, () => handle.query(stateQuery));
  } catch (error) {
    deps.logger.warn({ runId: handle.workflowId, err: error }, 'run state query for a decision failed');
    if (closed) throw runFinished(handle.workflowId);
    // The update would need the same worker that did not answer; nothing has been sent.
    throw problems.unavailable(`run ${handle.workflowId} cannot answer now (no worker answered in time); retry later`);
  }
}

function runFinished(runId: string): ProblemError {
  return problems.conflict(`run ${runId} has finished`);
}

function refusalOf(type: (typeof RefusalType)['Forbidden' | 'Invalid'], message: string): ProblemError {
  return type === RefusalType.Forbidden ? problems.forbidden(message) : problems.unprocessable(message);
}
