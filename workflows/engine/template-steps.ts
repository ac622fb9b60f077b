import type { Duration } from '@temporalio/common';
import { ChildWorkflowFailure, executeChild, isCancellation, ParentClosePolicy, proxyActivities, TimeoutFailure, uuid4, workflowInfo } from '@temporalio/workflow';
import { RUN_PARENT_MEMO_KEY, RUN_WORKFLOW_TYPE, type RunInput, type RunResult, type StepState } from '../contract';
import type { Step } from '../spec/schema';
import type { TemplateWith } from '../spec/step-types';
import { RunStatusKey, StartedByKey, TemplateIdKey, TemplateVersionKey, TenantIdKey } from '../search-attributes';
import { FailureType, stepFailure, toStepError } from './failures';
import type { RunContext } from './run-context';
import { ChildTemplateFailure, type TemplateActivities } from './step-activity';

const templateActivities = proxyActivities<TemplateActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, initialInterval: '1s', nonRetryableErrorTypes: [ChildTemplateFailure.NotFound, ChildTemplateFailure.InvalidInputs] },
});

/** What a `template` step outputs: its child run, how it ended, and the output of each of its steps. */
export interface ChildRunOutput {
  runId: string;
  status: RunResult['status'];
  outputs: Record<string, unknown>;
}

/**
 * `template` steps: a pinned version of another template of the tenant, run as a child workflow
 * (the same `runTemplate`) whose result becomes the step's output.
 *
 * - The version is loaded by an activity (from PostgreSQL, tenant-checked, inputs checked against its
 *   `inputs` schema), so the parent's spec stays small and its history holds one activity per child.
 * - The child runs in the step's cancellation scope: cancelling the parent, or the parent ending
 *   because another step failed, cancels the child; a parent terminated terminates it (ParentClosePolicy).
 * - A paused parent starts no `template` step (like any step); a child already running goes on, and
 *   is paused through its own run.
 * - A child that fails, times out or is cancelled on its own fails the step, and the step's onError
 *   applies; the step's `timeout` bounds the child run (StepTimeout).
 * - The child carries the tenant, its template's search attributes and a `parent` memo (RunParent).
 */
export class TemplateSteps {
  constructor(private readonly ctx: RunContext) {}

  async run(step: Step, state: StepState, params: TemplateWith): Promise<ChildRunOutput> {
    const { ctx } = this;
    const { versionId, name } = params.template;
    if (versionId === undefined) {
      throw stepFailure(
        FailureType.InvalidStepInput,
        `step ${step.id}: template "${name}" is not pinned to a version; versions created through the API pin it`,
      );
    }
    const { tenantId } = ctx.input;
    // The run's history shows a child workflow, not a step: its event stream hears of the step here.
    ctx.transitions.record({ type: 'step.started', stepId: step.id });
    const child = await templateActivities.loadChildTemplate({ ...(tenantId === undefined ? {} : { tenantId }), versionId, inputs: params.inputs });
    const info = workflowInfo();
    // A run id like any other (the API's), from the workflow's deterministic random source.
    const runId = `run-${uuid4()}`;
    state.childRunId = runId;
    const parent = { runId: info.workflowId, stepId: step.id };
    const input: RunInput = {
      ...child,
      inputs: params.inputs,
      startedBy: ctx.input.startedBy,
      ...(tenantId === undefined ? {} : { tenantId }),
      parent,
    };
    let result: RunResult;
    try {
      result = await executeChild<(input: RunInput) => Promise<RunResult>>(RUN_WORKFLOW_TYPE, {
        workflowId: runId,
        args: [input],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        typedSearchAttributes: [
          { key: TemplateIdKey, value: child.templateId },
          { key: TemplateVersionKey, value: child.templateVersion },
          { key: RunStatusKey, value: 'running' },
          { key: StartedByKey, value: ctx.input.startedBy },
          ...(tenantId === undefined ? [] : [{ key: TenantIdKey, value: tenantId }]),
        ],
        memo: { templateName: child.templateName, templateVersion: child.templateVersion, startedBy: ctx.input.startedBy, [RUN_PARENT_MEMO_KEY]: parent },
        staticSummary: `${child.templateName} v${child.templateVersion}, step ${step.id} of ${info.workflowId}`.slice(0, 150),
        // The step's timeout bounds the whole child run, its own retries and waits included.
        ...(step.timeout === undefined ? {} : { workflowExecutionTimeout: step.timeout as Duration }),
      });
    } catch (error) {
      if (isCancellation(error) || !(error instanceof ChildWorkflowFailure)) throw error;
      if (error.cause instanceof TimeoutFailure) {
        throw stepFailure(FailureType.StepTimeout, `step ${step.id}: child run ${runId} did not finish within ${step.timeout}`);
      }
      const cause = toStepError(error);
      throw stepFailure(FailureType.ChildRunFailed, `step ${step.id}: child run ${runId} failed: ${cause.type ?? 'Error'}: ${cause.message}`);
    }
    return {
      runId,
      status: result.status,
      outputs: Object.fromEntries(Object.values(result.steps).map((child) => [child.id, child.output ?? null])),
    };
  }
}
