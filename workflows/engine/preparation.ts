import { patched, workflowInfo } from '@temporalio/workflow';
import { compileExpression, evaluateCondition, findExpressions, leastEvaluationCost, renderTemplate, type ExpressionContext } from '../spec/expressions';
import type { Step } from '../spec/schema';
import { secretReferencePaths } from '../spec/secret-references';
import { stepTypes } from '../spec/step-types';
import { FailureType, stepFailure } from './failures';
import { forEachList } from './for-each';
import { MAX_STEP_INPUT_BYTES } from './limits';
import type { RunContext } from './run-context';
import type { StepRunContext } from './step-activity';
import { isWorkflowTaskBreach, jsonBytes, WorkflowTaskBudget } from './task-budget';

/**
 * Patch id: runs recorded before expressions of the common shapes were evaluated without JSONata
 * (spec/synchronous-evaluation.ts). Their values are the same, but a step evaluated without JSONata's
 * promises reaches its activity sooner, so steps started together could schedule in another order.
 * Asked at each evaluation, so only runs that evaluate expressions record the marker.
 */
const SYNCHRONOUS_EXPRESSIONS = 'synchronous-expressions';

/** What preparing a step with expressions decided. */
export type Preparation = { readonly params: unknown } | 'skip' | 'next-task';
/** Thrown inside preparation when the workflow task ran out: the step waits for the next one. */
const NEXT_TASK = Symbol('next workflow task');

/**
 * What a step is given before it runs: its condition evaluated, its `with` rendered and validated
 * against its type's schema, and the activity's arguments. Steps with expressions are prepared one
 * after the other within the workflow task's budget (task-budget.ts).
 */
export class StepPreparation {
  /** Steps whose `with` holds `{{ }}` templates; the others skip rendering (it costs promises). */
  private readonly templated: ReadonlySet<string>;
  /** The least evaluation cost of each step with a condition or templates (admission.ts). */
  private readonly expressionCosts: ReadonlyMap<string, number>;
  private readonly taskBudget = new WorkflowTaskBudget();
  /** The end of the line of steps being prepared one at a time (see `inTurn`). */
  private preparations: Promise<unknown> = Promise.resolve();
  /** Where each step's `with` holds secret references, found once per step. */
  private readonly secretPaths = new Map<string, (string | number)[][]>();

  constructor(private readonly ctx: RunContext) {
    const { steps } = ctx.input.spec;
    this.templated = new Set(steps.filter((step) => findExpressions(step.with).length > 0).map((step) => step.id));
    this.expressionCosts = new Map(
      steps.filter((step) => step.when !== undefined || step.forEach !== undefined || this.templated.has(step.id)).map((step) => [step.id, expressionCost(step)]),
    );
  }

  isTemplated(step: Step): boolean {
    return this.templated.has(step.id);
  }

  hasExpressions(step: Step): boolean {
    return this.expressionCosts.has(step.id);
  }

  expressionCost(step: Step): number {
    return this.expressionCosts.get(step.id) ?? 0;
  }

  taskExhausted(): boolean {
    return this.taskBudget.isExhausted();
  }

  /**
   * Steps with expressions are prepared one after the other, in the order they were started, so
   * each evaluation has the task's budget to itself until it ends, and activities are scheduled in
   * start order whatever their expressions cost.
   */
  inTurn(step: Step): Promise<Preparation> {
    const turn = this.preparations.then(() => this.prepare(step));
    this.preparations = turn.catch(() => undefined);
    return turn;
  }

  private async prepare(step: Step): Promise<Preparation> {
    if (this.taskBudget.isExhausted()) return 'next-task';
    const alone = this.taskBudget.untouched();
    try {
      if (step.when !== undefined && !(await this.conditionHolds(step, !alone))) return 'skip';
      if (!this.templated.has(step.id)) return { params: this.validateWith(step, step.with) };
      const params = await this.renderWith(step, !alone);
      const bytes = jsonBytes(params);
      if (bytes > MAX_STEP_INPUT_BYTES) {
        throw stepFailure(
          FailureType.InvalidStepInput,
          `step ${step.id}: its rendered \`with\` is ${bytes} bytes as JSON; the limit is ${MAX_STEP_INPUT_BYTES}`,
        );
      }
      return this.taskBudget.takeInput(bytes) ? { params } : 'next-task';
    } catch (error) {
      if (error === NEXT_TASK) return 'next-task';
      throw error;
    }
  }

  /** With `deferrable`, a workflow task that runs out throws NEXT_TASK instead of failing the step. */
  async conditionHolds(step: Step, deferrable = false): Promise<boolean> {
    try {
      return await evaluateCondition(step.when!, this.expressionContext(), { synchronous: patched(SYNCHRONOUS_EXPRESSIONS) });
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the NEXT_TASK sentinel, caught by the engine, never a failure
      if (deferrable && isWorkflowTaskBreach(error)) throw this.taskRanOut();
      throw stepFailure(FailureType.ExpressionError, `step ${step.id}: \`when\` failed: ${(error as Error).message}`);
    }
  }

  /** Renders `{{ }}` templates in `with` and checks the result against the step type's schema. */
  async renderWith(step: Step, deferrable = false): Promise<unknown> {
    let rendered: unknown;
    try {
      rendered = await renderTemplate(step.with, this.expressionContext(), { synchronous: patched(SYNCHRONOUS_EXPRESSIONS) });
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the NEXT_TASK sentinel, caught by the engine, never a failure
      if (deferrable && isWorkflowTaskBreach(error)) throw this.taskRanOut();
      throw stepFailure(FailureType.ExpressionError, `step ${step.id}: \`with\` failed to render: ${(error as Error).message}`);
    }
    return this.validateWith(step, rendered);
  }

  validateWith(step: Step, rendered: unknown): unknown {
    const parsed = stepTypes[step.type].withSchema.safeParse(rendered);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues
      .map((issue) => `with.${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw stepFailure(FailureType.InvalidStepInput, `step ${step.id} has an invalid \`with\`: ${problems}`);
  }

  /**
   * A step activity's arguments: its `with`, then the run's tenant and where `with` holds secret
   * references, read from the spec (never from rendered values, which run inputs and step outputs
   * feed). Runs without a tenant (started before tenants existed) pass `with` alone, as they did.
   * Only the activity's input changes, never which commands the workflow issues: replay-safe.
   */
  activityArgs(step: Step, params: unknown): [unknown] | [unknown, StepRunContext] {
    const { tenantId } = this.ctx.input;
    let secretPaths = this.secretPaths.get(step.id);
    if (secretPaths === undefined) {
      secretPaths = secretReferencePaths(step.with).map((path) => [...path]);
      this.secretPaths.set(step.id, secretPaths);
    }
    if (tenantId === undefined && secretPaths.length === 0) return [params];
    return [params, { ...(tenantId === undefined ? {} : { tenantId }), ...(secretPaths.length > 0 ? { secretPaths } : {}) }];
  }

  private taskRanOut(): typeof NEXT_TASK {
    this.taskBudget.markExhausted();
    return NEXT_TASK;
  }

  /** The list a `forEach` step runs over (for-each.ts). */
  async forEachItems(step: Step): Promise<unknown[]> {
    let value: unknown;
    try {
      value = await compileExpression(step.forEach!.items).evaluate(this.expressionContext());
    } catch (error) {
      throw stepFailure(FailureType.ExpressionError, `step ${step.id}: \`forEach.items\` failed: ${(error as Error).message}`);
    }
    return forEachList(step, value);
  }

  expressionContext(): ExpressionContext {
    const info = workflowInfo();
    const { input, stepsContext } = this.ctx;
    return {
      inputs: input.inputs,
      steps: stepsContext,
      run: {
        id: info.firstExecutionRunId,
        workflowId: info.workflowId,
        templateId: input.templateId,
        templateVersion: input.templateVersion,
      },
    };
  }
}

/**
 * A step's least expression cost; an expression that does not compile costs nothing here and fails the
 * step when evaluated. A `forEach` step evaluates only its list here (its batches evaluate the rest).
 */
function expressionCost(step: Step): number {
  try {
    if (step.forEach) return compileExpression(step.forEach.items).nodeCount;
    return leastEvaluationCost(step.when, step.with);
  } catch {
    return 0;
  }
}
