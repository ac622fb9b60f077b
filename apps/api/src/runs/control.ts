import { createHash, randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  RefusalType,
  approveUpdate,
  pauseUpdate,
  rejectUpdate,
  resumeUpdate,
  retryStepUpdate,
  skipStepUpdate,
  type Actor,
  type RunState,
  type StepState,
} from '../../../../workflows/contract';
import type { ApiDependencies } from '../dependencies';
import { ProblemError, problems } from '../http/problem';
import type { Principal } from '../http/principal';
import { describeRun, runOfTenant } from './run-handle';
import { isClosed } from './run-status';

/**
 * Decisions and operator commands, sent to the run as updates, only to runs of the caller's
 * tenant. The caller's identity (subject and roles) always comes from its verified credential,
 * never from the body; the workflow judges decisions against the step's approvers with it. An Idempotency-Key becomes the update id, so a repeated
 * call gets the first call's answer instead of deciding twice.
 */

export type StepAction = 'approve' | 'reject' | 'retry' | 'skip';
export type RunAction = 'pause' | 'resume';

interface ControlRequest {
  runId: string;
  principal: Principal;
  idempotencyKey?: string;
}

export async function controlStep(
  deps: ApiDependencies,
  request: ControlRequest & { action: StepAction; stepId: string; comment?: string },
): Promise<StepState> {
  const actor = actorOf(request.principal);
  const { stepId, comment } = request;
  return sendUpdate(deps, request, request.action, stepId, (handle, updateId) => {
    switch (request.action) {
      case 'approve':
        return handle.executeUpdate(approveUpdate, { args: [{ stepId, actor, ...(comment ? { comment } : {}) }], updateId });
      case 'reject':
        return handle.executeUpdate(rejectUpdate, { args: [{ stepId, actor, ...(comment ? { comment } : {}) }], updateId });
      case 'retry':
        return handle.executeUpdate(retryStepUpdate, { args: [{ stepId, actor }], updateId });
      case 'skip':
        return handle.executeUpdate(skipStepUpdate, { args: [{ stepId, actor }], updateId });
    }
  });
}

export async function controlRun(
  deps: ApiDependencies,
  request: ControlRequest & { action: RunAction; reason?: string },
): Promise<RunState> {
  const command = { actor: actorOf(request.principal), ...(request.reason ? { reason: request.reason } : {}) };
  return sendUpdate(deps, request, request.action, undefined, (handle, updateId) =>
    handle.executeUpdate(request.action === 'pause' ? pauseUpdate : resumeUpdate, { args: [command], updateId }),
  );
}

/**
 * Cancellation is a request: the run stops its steps and finishes as cancelled shortly after. The
 * request carries the caller's subject as its identity, so the run's history (and its events, as
 * `run.cancel_requested`) records who cancelled it.
 */
export async function cancelRun(deps: ApiDependencies, runId: string, principal: Principal): Promise<void> {
  const { description } = await describeRun(deps, runId, principal.tenantId);
  if (isClosed(description.status.name)) throw runFinished(runId);
  try {
    await deps.temporal.workflowService.requestCancelWorkflowExecution({
      namespace: deps.temporal.options.namespace,
      workflowExecution: { workflowId: runId },
      identity: principal.subject,
      reason: `cancelled by ${principal.subject}`,
      requestId: randomUUID(),
    });
  } catch (error) {
    // It finished between describe and cancel.
    if ((error as { code?: number }).code === GRPC_NOT_FOUND) throw runFinished(runId);
    throw error;
  }
  deps.logger.info({ runId, actor: principal.subject }, 'run cancellation requested');
}

const GRPC_NOT_FOUND = 5;

async function sendUpdate<T>(
  deps: ApiDependencies,
  request: ControlRequest,
  action: StepAction | RunAction,
  stepId: string | undefined,
  send: (handle: WorkflowHandle, updateId: string | undefined) => Promise<T>,
): Promise<T> {
  const { runId, principal, idempotencyKey } = request;
  const updateId = idempotencyKey ? updateIdFor(action, principal, stepId, idempotencyKey) : undefined;
  const handle = await runOfTenant(deps, runId, principal.tenantId);
  try {
    const result = await send(handle, updateId);
    deps.logger.info({ runId, stepId, action, actor: principal.subject, updateId }, 'run control accepted');
    return result;
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      const problem = refusalProblem(error.cause);
      deps.logger.info({ runId, stepId, action, actor: principal.subject, status: problem.status, reason: problem.detail }, 'run control refused');
      throw problem;
    }
    if (error instanceof WorkflowNotFoundError) {
      // Temporal answers "not found" both for runs that never existed and for finished ones.
      const { description } = await describeRun(deps, runId, principal.tenantId);
      if (isClosed(description.status.name)) throw runFinished(runId);
    }
    throw error;
  }
}

const refusalStatuses: Record<string, (detail: string) => ProblemError> = {
  [RefusalType.Forbidden]: problems.forbidden,
  [RefusalType.NotFound]: problems.notFound,
  [RefusalType.Conflict]: problems.conflict,
  [RefusalType.Invalid]: (detail) => problems.unprocessable(detail),
};

function refusalProblem(cause: Error | undefined): ProblemError {
  const message = cause?.message || 'the run refused the request';
  if (cause instanceof ApplicationFailure && cause.type && refusalStatuses[cause.type]) {
    return refusalStatuses[cause.type]!(message);
  }
  // A failure outside the contract's refusals: the request reached the run but could not be applied.
  return problems.unprocessable(message);
}

function runFinished(runId: string): ProblemError {
  return problems.conflict(`run ${runId} has finished`);
}

function actorOf(principal: Principal): Actor {
  return { subject: principal.subject, roles: [...principal.roles] };
}

/** Namespaced by action, caller and step: one key reused for another action or step is another request. */
function updateIdFor(action: string, principal: Principal, stepId: string | undefined, key: string): string {
  const digest = createHash('sha256').update([principal.subject, stepId ?? '', key].join('\n')).digest('hex');
  return `${action}-${digest.slice(0, 40)}`;
}
