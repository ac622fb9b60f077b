import { condition, executeChild, ParentClosePolicy, workflowInfo } from '@temporalio/workflow';
import type { StepError, StepState } from '../contract';
import { compileExpression, findExpressions, type ExpressionContext } from '../spec/expressions';
import { MAX_FOR_EACH_ITEMS, type Step } from '../spec/schema';
import { TenantIdKey } from '../search-attributes';
import { activityIdFor } from './activity-options';
import { FailureType, stepFailure } from './failures';
import { forEachBatch, type ForEachBatchInput, type ForEachItemFailure } from './for-each-batch';
import { FOR_EACH_BATCH_SIZE, MAX_FOR_EACH_CONTEXT_BYTES, MAX_FOR_EACH_REPORTED_FAILURES, MAX_RUN_OUTPUT_BYTES } from './limits';
import type { StepPreparation } from './preparation';
import type { RunContext } from './run-context';
import { jsonBytes } from './task-budget';

/** What a `forEach` step came to: every item's output in order, and why it failed if any item did. */
export interface ForEachOutcome {
  output: unknown[];
  error?: StepError;
}

/**
 * Runs a `forEach` step: evaluates its list, then runs the items in batches of FOR_EACH_BATCH_SIZE,
 * each batch a child workflow (for-each-batch.ts) running at most `concurrency` items at once. Batches
 * run one after the other, so `concurrency` bounds the whole step, and the run's own history holds a
 * few events per batch rather than per item: a 10,000-item list stays within Temporal's history
 * limits without continue-as-new in the middle of a step.
 *
 * onError: `fail` and `pause` stop at the first failed item (no further item or batch starts; the
 * batch lets its items in flight finish), then the step fails and its onError applies; `continue`
 * runs every item, and the step fails (the run going on) when any failed. Either way the step's
 * output is the list of item outputs, null where an item was skipped, failed or never ran.
 * A paused run starts no further batch until it is resumed; a batch already running goes on.
 */
export class ForEachSteps {
  constructor(
    private readonly ctx: RunContext,
    private readonly preparation: StepPreparation,
  ) {}

  async run(step: Step, state: StepState): Promise<ForEachOutcome> {
    const { ctx } = this;
    const items = await this.preparation.forEachItems(step);
    const context = this.batchContext(step);
    const progress = { total: items.length, succeeded: 0, failed: 0, skipped: 0 };
    state.forEach = progress;
    const output: unknown[] = [];
    const failures: ForEachItemFailure[] = [];
    let outputBytes = 0;
    let outputLimitReached = false;
    const stopAtFirstFailure = step.onError !== 'continue';
    const execution = ctx.execution(step.id);
    // Batch ids name the run by its first execution's run id: unique, and the same when the run is
    // replayed under another workflow id (as test/replay does).
    const { firstExecutionRunId } = workflowInfo();
    const { tenantId } = ctx.input;
    for (let offset = 0; offset < items.length; offset += FOR_EACH_BATCH_SIZE) {
      if (progress.failed > 0 && stopAtFirstFailure) break;
      if (outputLimitReached) break;
      if (ctx.state.paused) await condition(() => !ctx.state.paused || ctx.ending !== undefined);
      if (ctx.ending) break;
      const batch = items.slice(offset, offset + FOR_EACH_BATCH_SIZE);
      const input: ForEachBatchInput = {
        step,
        execution,
        items: batch,
        offset,
        concurrency: step.forEach!.concurrency,
        stopAtFirstFailure,
        context,
        ...(tenantId === undefined ? {} : { tenantId }),
        outputBudget: MAX_RUN_OUTPUT_BYTES - outputBytes,
      };
      const result = await executeChild(forEachBatch, {
        workflowId: forEachBatchId(firstExecutionRunId, step.id, execution, offset / FOR_EACH_BATCH_SIZE),
        args: [input],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `${step.id}: items ${offset}–${offset + batch.length - 1}`,
        ...(tenantId === undefined ? {} : { typedSearchAttributes: [{ key: TenantIdKey, value: tenantId }] }),
      });
      output.push(...result.outputs);
      outputBytes += result.outputs.reduce<number>((bytes, value) => bytes + (value === null ? 0 : jsonBytes(value)), 0);
      progress.succeeded += result.succeeded;
      progress.failed += result.failed;
      progress.skipped += result.skipped;
      state.attempts = Math.max(state.attempts, result.attempts);
      failures.push(...result.failures.slice(0, MAX_FOR_EACH_REPORTED_FAILURES - failures.length));
      outputLimitReached = result.outputLimitReached;
    }
    while (output.length < items.length) output.push(null);
    if (outputLimitReached) {
      return {
        output: [],
        error: {
          type: FailureType.RunOutputLimit,
          message: `step ${step.id}: its items' outputs went past ${MAX_RUN_OUTPUT_BYTES} bytes; return less per item, or split the list over runs`,
        },
      };
    }
    if (progress.failed === 0) return { output };
    return { output, error: { type: FailureType.ForEachItemsFailed, message: failureMessage(step, progress, failures) } };
  }

  /**
   * What the batches' expressions read: the run's inputs and the outputs of the steps the step's
   * expressions name (expressions of a forEach step see only the steps they name), within
   * MAX_FOR_EACH_CONTEXT_BYTES since every batch's start carries it.
   */
  private batchContext(step: Step): ExpressionContext {
    const sources = [...(step.when === undefined ? [] : [step.when]), ...findExpressions(step.with).map((found) => found.source)];
    const named = new Set(sources.flatMap((source) => compileExpression(source).referencedSteps));
    const steps = Object.fromEntries([...named].filter((id) => id in this.ctx.stepsContext).map((id) => [id, this.ctx.stepsContext[id]!]));
    const context = { ...this.preparation.expressionContext(), steps };
    const bytes = jsonBytes(context);
    if (bytes > MAX_FOR_EACH_CONTEXT_BYTES) {
      throw stepFailure(
        FailureType.InvalidStepInput,
        `step ${step.id}: what its expressions read (the run's inputs and the outputs of ${[...named].join(', ') || 'no step'}) is ${bytes} bytes; ` +
          `a forEach hands each batch at most ${MAX_FOR_EACH_CONTEXT_BYTES}`,
      );
    }
    return context;
  }
}

function failureMessage(step: Step, progress: NonNullable<StepState['forEach']>, failures: readonly ForEachItemFailure[]): string {
  const listed = failures.map((failure) => `item ${failure.index}: ${failure.error.type ?? 'Error'}: ${failure.error.message}`).join('; ');
  return `step ${step.id}: ${progress.failed} of ${progress.total} items failed (${listed})`;
}

/** The workflow id of a `forEach` step's batch: `<run's first execution run id>/<step>[#execution]/<batch>`. */
export function forEachBatchId(firstExecutionRunId: string, stepId: string, execution: number, batch: number): string {
  return `${firstExecutionRunId}/${activityIdFor(stepId, execution)}/${batch}`;
}

/** Checks what a `forEach` list expression yielded: a list (nothing counts as empty) of at most MAX_FOR_EACH_ITEMS. */
export function forEachList(step: Step, value: unknown): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    const kind = value === null ? 'null' : typeof value;
    throw stepFailure(
      FailureType.InvalidStepInput,
      `step ${step.id}: forEach.items yielded ${kind}, not a list; wrap the expression in [ ] to always get one`,
    );
  }
  if (value.length > MAX_FOR_EACH_ITEMS) {
    throw stepFailure(FailureType.InvalidStepInput, `step ${step.id}: forEach.items yielded ${value.length} items; a forEach runs at most ${MAX_FOR_EACH_ITEMS}`);
  }
  return value;
}
