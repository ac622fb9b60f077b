import { isCancellation, proxyActivities } from '@temporalio/workflow';
import type { StepError } from '../contract';
import { evaluateCondition, findExpressions, renderTemplate, type ExpressionContext } from '../spec/expressions';
import type { Step } from '../spec/schema';
import { secretReferencePaths } from '../spec/secret-references';
import { stepTypes } from '../spec/step-types';
import { activityIdFor, stepActivityOptions } from './activity-options';
import { FailureType, stepFailure, toStepError } from './failures';
import { MAX_FOR_EACH_ITEM_INPUT_BYTES, MAX_FOR_EACH_REPORTED_FAILURES } from './limits';
import type { StepActivity, StepActivityResult, StepRunContext } from './step-activity';
import { jsonBytes } from './task-budget';

export const FOR_EACH_BATCH_WORKFLOW_TYPE = 'forEachBatch';

/** One batch of a `forEach` step's items, run by its own child workflow (for-each.ts starts them). */
export interface ForEachBatchInput {
  /** The step as the spec has it: its `with` and `when` are evaluated here, per item. */
  step: Step;
  /** The step's execution (operator re-runs count up), part of every item's activity id. */
  execution: number;
  items: unknown[];
  /** The position of `items[0]` in the whole list: what `index` is for it. */
  offset: number;
  concurrency: number;
  /** Whether the first failed item stops the batch (onError fail or pause) or every item runs (continue). */
  stopAtFirstFailure: boolean;
  /** What the step's expressions read, less `item` and `index`. */
  context: ExpressionContext;
  tenantId?: string;
  /** Bytes of outputs the batch may still collect; past them it stops and says so. */
  outputBudget: number;
}

export interface ForEachItemFailure {
  index: number;
  error: StepError;
}

export interface ForEachBatchResult {
  /** One entry per item, in order: its output, or null for an item skipped, failed or not run. */
  outputs: unknown[];
  succeeded: number;
  skipped: number;
  failed: number;
  /** The first failures, at most MAX_FOR_EACH_REPORTED_FAILURES. */
  failures: ForEachItemFailure[];
  /** The most attempts any item took. */
  attempts: number;
  /** Set when the outputs went past `outputBudget`: the batch stopped there. */
  outputLimitReached: boolean;
}

const stepActivities = proxyActivities<Record<string, StepActivity>>({ startToCloseTimeout: '5m' });

/**
 * Runs one batch of a `forEach` step: at most `concurrency` items at once, each with its own `when`
 * and rendered `with` (seeing `item` and `index`) and its own activity under the step's retry policy
 * and timeout. Item failures are data, not a failed workflow: the parent decides what they mean.
 * Cancelling the batch (its parent's step was cancelled) cancels the items in flight.
 */
export async function forEachBatch(input: ForEachBatchInput): Promise<ForEachBatchResult> {
  const { step, items, offset } = input;
  const result: ForEachBatchResult = {
    outputs: items.map(() => null),
    succeeded: 0,
    skipped: 0,
    failed: 0,
    failures: [],
    attempts: 0,
    outputLimitReached: false,
  };
  const templated = findExpressions(step.with).length > 0;
  const secretPaths = secretReferencePaths(step.with).map((path) => [...path]);
  const runContext: StepRunContext | undefined =
    input.tenantId === undefined && secretPaths.length === 0
      ? undefined
      : { ...(input.tenantId === undefined ? {} : { tenantId: input.tenantId }), ...(secretPaths.length > 0 ? { secretPaths } : {}) };
  let outputBytes = 0;
  let next = 0;
  let stopped = false;

  const runItem = async (position: number): Promise<void> => {
    const index = offset + position;
    const context: ExpressionContext = { ...input.context, item: items[position], index };
    try {
      if (step.when !== undefined && !(await itemCondition(step, context, index))) {
        result.skipped++;
        return;
      }
      const params = validateItemWith(step, index, templated ? await renderItemWith(step, context, index) : step.with);
      const options = { ...stepActivityOptions(step, input.execution), activityId: `${activityIdFor(step.id, input.execution)}[${index}]` };
      const args: [unknown] | [unknown, StepRunContext] = runContext ? [params, runContext] : [params];
      const done: StepActivityResult = await stepActivities[step.type]!.executeWithOptions(options, args);
      result.attempts = Math.max(result.attempts, done.attempt);
      const bytes = done.output === undefined ? 0 : jsonBytes(done.output);
      if (outputBytes + bytes > input.outputBudget) {
        result.outputLimitReached = true;
        stopped = true;
        return;
      }
      outputBytes += bytes;
      result.outputs[position] = done.output ?? null;
      result.succeeded++;
    } catch (error) {
      if (isCancellation(error)) throw error;
      result.failed++;
      if (result.failures.length < MAX_FOR_EACH_REPORTED_FAILURES) result.failures.push({ index, error: toStepError(error) });
      if (input.stopAtFirstFailure) stopped = true;
    }
  };

  // Lanes rather than a promise per pending item: each lane takes the next item when its last ends.
  const lane = async (): Promise<void> => {
    while (!stopped && next < items.length) await runItem(next++);
  };
  await Promise.all(Array.from({ length: Math.min(input.concurrency, items.length) }, lane));
  return result;
}

async function itemCondition(step: Step, context: ExpressionContext, index: number): Promise<boolean> {
  try {
    return await evaluateCondition(step.when!, context);
  } catch (error) {
    throw stepFailure(FailureType.ExpressionError, `step ${step.id}, item ${index}: \`when\` failed: ${(error as Error).message}`);
  }
}

async function renderItemWith(step: Step, context: ExpressionContext, index: number): Promise<unknown> {
  try {
    return await renderTemplate(step.with, context);
  } catch (error) {
    throw stepFailure(FailureType.ExpressionError, `step ${step.id}, item ${index}: \`with\` failed to render: ${(error as Error).message}`);
  }
}

function validateItemWith(step: Step, index: number, rendered: unknown): unknown {
  const parsed = stepTypes[step.type].withSchema.safeParse(rendered);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `with.${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw stepFailure(FailureType.InvalidStepInput, `step ${step.id}, item ${index} has an invalid \`with\`: ${problems}`);
  }
  const bytes = jsonBytes(parsed.data);
  if (bytes > MAX_FOR_EACH_ITEM_INPUT_BYTES) {
    throw stepFailure(
      FailureType.InvalidStepInput,
      `step ${step.id}, item ${index}: its rendered \`with\` is ${bytes} bytes as JSON; a forEach item may hand its activity at most ${MAX_FOR_EACH_ITEM_INPUT_BYTES}`,
    );
  }
  return parsed.data;
}
