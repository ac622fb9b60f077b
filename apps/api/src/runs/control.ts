import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { defaultDependencyTimeouts } from '../../../common/config';
import {
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
import { isMessageTooLarge } from '../dependency-failures';
import { problems, type ProblemError } from '../http/problem';
import { refusalProblem } from '../http/refusal';
import type { Principal } from '../http/principal';
import { checkDecision } from './decision-check';
import { toNumber } from './history-events';
import { describeRun, runOfTenant } from './run-handle';
import { isClosed } from './run-status';

/**
 * Decisions and operator commands, sent to the run as updates, only to runs of the caller's
 * tenant. The caller's identity (subject and roles) always comes from its verified credential,
 * never from the body. A decision is judged against the step's approvers here first
 * (decision-check.ts), and only one that passes is sent; the workflow judges it again. An
 * Idempotency-Key becomes the update id, so a repeated call gets the first call's answer instead
 * of deciding twice.
 */

export type StepAction = 'approve' | 'reject' | 'retry' | 'skip';
export type RunAction = 'pause' | 'resume';

interface ControlRequest {
  runId: string;
  principal: Principal;
  idempotencyKey?: string;
  /** Called once the run accepted the update, with its id (for the audit log). */
  accepted?: (updateId: string) => void;
}

export async function controlStep(
  deps: ApiDependencies,
  request: ControlRequest & { action: StepAction; stepId: string; comment?: string },
): Promise<StepState> {
  const actor = actorOf(request.principal);
  const { stepId, comment } = request;
  if (request.action === 'approve' || request.action === 'reject') {
    await checkDecision(deps, {
      runId: request.runId,
      tenantId: request.principal.tenantId,
      stepId,
      decision: request.action === 'approve' ? 'approved' : 'rejected',
      actor,
      ...(comment ? { comment } : {}),
      ...(request.idempotencyKey ? { idempotencyKey: request.idempotencyKey } : {}),
    });
  }
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

export interface CancelOutcome {
  /** The run did not take the cancellation within the grace period, so it was terminated. */
  terminated: boolean;
}

/**
 * Cancellation is a request the run must take: its workflow cancels its steps and ends cancelled.
 * A run that cannot take it (its workflow task keeps failing, or no worker runs it) would stay
 * running forever, so the call waits until the run has taken it, normally within milliseconds,
 * and terminates it, naming the caller in the reason, when it has not within the grace period.
 * Waiting in the call, not in the background, keeps the promise durable without a watchdog: if
 * this process dies meanwhile, the caller gets no answer and calls again. The request carries the
 * caller's subject as its identity, so the run's history (and its events, as `run.cancel_requested`)
 * records who cancelled it.
 */
export async function cancelRun(deps: ApiDependencies, runId: string, principal: Principal): Promise<CancelOutcome> {
  const { handle, description } = await describeRun(deps, runId, principal.tenantId);
  if (isClosed(description.status.name)) throw runFinished(runId);
  const graceMs = deps.runCancelGraceMs ?? defaultDependencyTimeouts.RUN_CANCEL_GRACE_MS;
  const requestedAt = Date.now();
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

  const watch = new CancellationWatch(deps, runId, description.runId);
  while (!(await watch.taken())) {
    const leftMs = requestedAt + graceMs - Date.now();
    if (leftMs <= 0) return terminate(deps, handle, principal, graceMs);
    await sleep(Math.min(CANCEL_CHECK_INTERVAL_MS, leftMs));
  }
  return { terminated: false };
}

async function terminate(deps: ApiDependencies, handle: WorkflowHandle, principal: Principal, graceMs: number): Promise<CancelOutcome> {
  const reason = `cancelled by ${principal.subject}; terminated because the run did not take the cancellation within ${graceMs} ms`;
  try {
    await handle.terminate(reason);
  } catch (error) {
    // It ended by itself in the meantime: the cancellation did its work after all.
    if (error instanceof WorkflowNotFoundError) return { terminated: false };
    throw error;
  }
  deps.logger.warn({ runId: handle.workflowId, actor: principal.subject, graceMs }, 'run terminated: it did not take its cancellation');
  return { terminated: true };
}

/** How often a cancelled run's history is looked at while waiting for the run to take the cancellation. */
const CANCEL_CHECK_INTERVAL_MS = 200;
/**
 * Small pages: the look reads the newest events, normally a handful, and a page of events carrying
 * 60 KB step inputs and results must stay under gRPC's 4 MB message limit (100 such events did not). A page
 * still too large is asked for again at half the size.
 */
const HISTORY_PAGE_SIZE = 10;
const WORKFLOW_TASK_COMPLETED = temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED;

/**
 * Whether a run has taken its cancellation: a workflow task completed after the request's event, or
 * the run closed. While a workflow task is in flight (and a failing one stays in flight, attempt
 * after attempt), Temporal holds new events back and writes them after it, so a request that is not
 * in the history yet has not been seen either. Each look reads the history backwards, only as far
 * as the previous look went.
 */
class CancellationWatch {
  /** Events up to this id have been read, and the request was not among those above a completion. */
  private readThrough = 0;
  private requested = false;
  private pageSize = HISTORY_PAGE_SIZE;

  constructor(
    private readonly deps: ApiDependencies,
    private readonly workflowId: string,
    private readonly temporalRunId: string,
  ) {}

  async taken(): Promise<boolean> {
    let newest: number | undefined;
    let completedSince = false;
    let nextPageToken: Uint8Array | undefined;
    do {
      let page;
      for (;;) {
        try {
          page = await this.deps.temporal.workflowService.getWorkflowExecutionHistoryReverse({
            namespace: this.deps.temporal.options.namespace,
            execution: { workflowId: this.workflowId, runId: this.temporalRunId },
            maximumPageSize: this.pageSize,
            ...(nextPageToken ? { nextPageToken } : {}),
          });
          break;
        } catch (error) {
          if (!isMessageTooLarge(error) || this.pageSize === 1) throw error;
          this.pageSize = Math.max(1, Math.floor(this.pageSize / 2));
        }
      }
      for (const event of page.history?.events ?? []) {
        const id = toNumber(event.eventId);
        newest ??= id;
        if (id <= this.readThrough) return this.seen(newest, completedSince);
        if (closesRun(event)) return true;
        if (event.eventType === WORKFLOW_TASK_COMPLETED) completedSince = true;
        if (event.workflowExecutionCancelRequestedEventAttributes) {
          this.requested = true;
          return this.seen(newest, completedSince);
        }
      }
      nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return this.seen(newest ?? this.readThrough, false);
  }

  private seen(newest: number, completedSince: boolean): boolean {
    if (this.requested && completedSince) return true;
    this.readThrough = newest;
    return false;
  }
}

function closesRun(event: temporal.api.history.v1.IHistoryEvent): boolean {
  return Boolean(
    event.workflowExecutionCompletedEventAttributes ||
      event.workflowExecutionFailedEventAttributes ||
      event.workflowExecutionCanceledEventAttributes ||
      event.workflowExecutionTerminatedEventAttributes ||
      event.workflowExecutionTimedOutEventAttributes ||
      event.workflowExecutionContinuedAsNewEventAttributes,
  );
}

const GRPC_NOT_FOUND = 5;

async function sendUpdate<T>(
  deps: ApiDependencies,
  request: ControlRequest,
  action: StepAction | RunAction,
  stepId: string | undefined,
  send: (handle: WorkflowHandle, updateId: string) => Promise<T>,
): Promise<T> {
  const { runId, principal, idempotencyKey } = request;
  // Always our own id (not the SDK's), so the audit entry names the update the run's history holds.
  const updateId = idempotencyKey ? updateIdFor(action, principal, stepId, idempotencyKey) : `${action}-${randomUUID()}`;
  const handle = await runOfTenant(deps, runId, principal.tenantId);
  try {
    const result = await send(handle, updateId);
    deps.logger.info({ runId, stepId, action, actor: principal.subject, updateId }, 'run control accepted');
    request.accepted?.(updateId);
    return result;
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      const problem = refusalProblem(error.cause, 'the run refused the request');
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
