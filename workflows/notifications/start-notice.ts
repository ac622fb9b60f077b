import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { CancellationScope, ChildWorkflowCancellationType, log, ParentClosePolicy, startChild } from '@temporalio/workflow';
import type { Notice } from './notice';
import { sendNotice } from './send-notice';

/**
 * Starts a notice's delivery as an abandoned child of the run: the run neither waits for the
 * delivery nor is affected by its outcome, and the delivery outlives the run. The child's id is the
 * notice's event key, so a notice started twice (say, after a reset) is delivered once.
 *
 * The returned promise settles once Temporal recorded the start (a run that is about to finish
 * awaits it, so the start is not lost with the run); it never rejects.
 */
export async function startNotice(notice: Notice): Promise<void> {
  try {
    // Outside the run's cancellation scopes: a run that ends (and cancels what it still runs)
    // neither cancels a start under way nor a delivery already started.
    await CancellationScope.nonCancellable(() =>
      startChild(sendNotice, {
        workflowId: notice.key,
        args: [notice],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        staticSummary: `${notice.kind} of ${notice.run.id}${notice.step ? ` step ${notice.step.id}` : ''}`.slice(0, 200),
      }),
    );
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
    // A notice must never fail its run: what could not start is logged and the run goes on.
    log.warn('notice could not be started', { key: notice.key, error: error instanceof Error ? error.message : String(error) });
  }
}
