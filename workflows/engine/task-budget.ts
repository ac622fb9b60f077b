import { workflowInfo } from '@temporalio/workflow';
import { EXPRESSION_BOUNDS, workflowTaskStepsLeft } from '../spec/expression-bounds';
import { ExpressionError } from '../spec/expressions';
import { MAX_TASK_INPUT_BYTES } from './limits';

/**
 * What the steps prepared in one workflow task have used of it: expression evaluation (counted by
 * expression-bounds.ts) and the bytes of rendered inputs it schedules. Steps whose conditions and
 * templates are evaluated are prepared one at a time, so when a task runs out, the step that ran
 * into the limit and those after it wait for the next task instead of failing; only a step that ran
 * out of a task it had to itself fails, since no later task would give it more.
 *
 * A task is known by the history length it started at, which is the same on replay.
 */
export class WorkflowTaskBudget {
  private task = -1;
  private inputBytes = 0;
  private exhausted = false;

  /** True when nothing was evaluated or scheduled in this task yet. */
  untouched(): boolean {
    this.refresh();
    return this.inputBytes === 0 && workflowTaskStepsLeft() === EXPRESSION_BOUNDS.maxWorkflowTaskSteps;
  }

  /** True once a step ran into one of this task's limits: the steps after it wait for the next task. */
  isExhausted(): boolean {
    this.refresh();
    return this.exhausted;
  }

  markExhausted(): void {
    this.refresh();
    this.exhausted = true;
  }

  /** Counts a rendered input; false (and the task exhausted) when it does not fit what is left. */
  takeInput(bytes: number): boolean {
    this.refresh();
    if (this.inputBytes > 0 && this.inputBytes + bytes > MAX_TASK_INPUT_BYTES) {
      this.exhausted = true;
      return false;
    }
    this.inputBytes += bytes;
    return true;
  }

  private refresh(): void {
    const task = workflowInfo().historyLength;
    if (task === this.task) return;
    this.task = task;
    this.inputBytes = 0;
    this.exhausted = false;
  }
}

/** Bounds shared by all the expressions of a workflow task, rather than each evaluation's own. */
const WORKFLOW_TASK_BOUNDS: ReadonlySet<string> = new Set(['workflowTaskSteps', 'workflowTaskBuiltSize']);

/** Whether `error` is an expression that ran out of its workflow task's budget (not of its own). */
export function isWorkflowTaskBreach(error: unknown): boolean {
  return error instanceof ExpressionError && error.bound !== undefined && WORKFLOW_TASK_BOUNDS.has(error.bound);
}

/** The UTF-8 size of `value` as JSON, which is how Temporal's payloads carry it. */
export function jsonBytes(value: unknown): number {
  const json = JSON.stringify(value);
  if (json === undefined) return 0;
  let bytes = 0;
  for (let i = 0; i < json.length; i++) {
    const code = json.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4; // a surrogate pair: one code point of four bytes
      i++;
    } else bytes += 3;
  }
  return bytes;
}
