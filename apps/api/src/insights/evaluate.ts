import { EXPRESSION_BOUNDS, inStandaloneTask } from '../../../../workflows/spec/expression-bounds';
import { evaluateCondition, ExpressionError, formatValuePath, renderTemplate, type ExpressionBound } from '../../../../workflows/spec/expressions';
import type { Spec } from '../../../../workflows/spec/schema';
import { stepTypes } from '../../../../workflows/spec/step-types';
import { ProblemError, problems } from '../http/problem';
import type { EvaluateRequest } from './schemas';

/**
 * A dry run of one step's `when` and `with` against sample inputs and step outputs, with the
 * workflow's own expression code (workflows/spec/expressions.ts) and bounds: the step's expressions
 * share one workflow task's budgets, as they do in the worker when the step has a task to itself,
 * so an expression that would fail there fails here, naming the same bound. Nothing here waits on
 * time: every bound counts work, so a hostile expression ends in a 422, never a hung request.
 *
 * Differences from a run, by design: `$now()`, `$millis()` and `$random()` answer the API's clock
 * and randomness; the step's dependencies are not judged (a failed one would skip the step before
 * its condition is asked); `{{ secrets.NAME }}` stays as written, since only the step's activity
 * ever reads a secret.
 */

export interface DryRun {
  stepId: string;
  type: string;
  /** The condition and its value; null when the step has none. */
  when: { source: string; value: boolean } | null;
  /** Whether the step would run: it has no condition, or its condition holds. */
  runs: boolean;
  /** The rendered `with`, as the step's activity would receive it; null when the step would be skipped. */
  with: unknown;
  /** What the step type's schema says of the rendered `with`: a run would fail the step with InvalidStepInput. */
  withIssues: { path: (string | number)[]; message: string }[];
}

/** Dry runs wait for one another: the workflow task they share their bounds through is one at a time. */
const MAX_WAITING = 32;
let queue: Promise<unknown> = Promise.resolve();
let waiting = 0;

export async function dryRunStep(spec: Spec, run: { templateId: string; version: number }, request: EvaluateRequest): Promise<DryRun> {
  const step = spec.steps.find((candidate) => candidate.id === request.stepId);
  if (!step) {
    throw problems.unprocessable(`version ${run.version} has no step ${JSON.stringify(request.stepId)}`, [
      { path: ['body', 'stepId'], message: 'names no step of this version' },
    ]);
  }
  const known = new Set(spec.steps.map((candidate) => candidate.id));
  const strangers = Object.keys(request.steps).filter((id) => !known.has(id));
  if (strangers.length > 0) {
    throw problems.unprocessable(`version ${run.version} has no step ${strangers.map((id) => JSON.stringify(id)).join(', ')}`, strangers.map((id) => ({ path: ['body', 'steps', id], message: 'names no step of this version' })));
  }
  // As in a run: every step is in the context, pending until it has a state.
  const steps = Object.fromEntries(
    spec.steps.map((candidate) => {
      const sample = request.steps[candidate.id];
      return [candidate.id, sample ? { status: sample.status, output: sample.output } : { status: 'pending', output: undefined }];
    }),
  );
  const context = {
    inputs: request.inputs,
    steps,
    run: { id: 'dry-run', workflowId: 'dry-run', templateId: run.templateId, templateVersion: run.version },
  };

  return serialised(async () => {
    let when: DryRun['when'] = null;
    if (step.when !== undefined) {
      const value = await evaluated('when', () => evaluateCondition(step.when!, context));
      when = { source: step.when, value };
      if (!value) return { stepId: step.id, type: step.type, when, runs: false, with: null, withIssues: [] };
    }
    const rendered = await evaluated('with', () => renderTemplate(step.with, context));
    const parsed = stepTypes[step.type].withSchema.safeParse(rendered);
    const withIssues = parsed.success
      ? []
      : parsed.error.issues.map((issue) => ({ path: issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key)), message: issue.message }));
    return { stepId: step.id, type: step.type, when, runs: true, with: rendered, withIssues };
  });
}

function serialised<T>(dryRun: () => Promise<T>): Promise<T> {
  if (waiting >= MAX_WAITING) throw problems.unavailable('too many dry runs are waiting; retry shortly');
  waiting++;
  const result = queue.then(() => inStandaloneTask(dryRun));
  queue = result.then(
    () => undefined,
    () => undefined,
  );
  return result.finally(() => {
    waiting--;
  });
}

async function evaluated<T>(part: 'when' | 'with', evaluate: () => Promise<T>): Promise<T> {
  try {
    return await evaluate();
  } catch (error) {
    if (error instanceof ExpressionError) throw expressionFailed(part, error);
    throw error;
  }
}

const MAX_SHOWN_SOURCE = 500;

/** The bound in EXPRESSION_BOUNDS each kind of breach went past (regexes RE2 cannot run have none). */
const LIMITS: Record<Exclude<ExpressionBound, 'regex'>, number> = {
  callDepth: EXPRESSION_BOUNDS.maxCallDepth,
  scopeDepth: EXPRESSION_BOUNDS.maxScopeDepth,
  steps: EXPRESSION_BOUNDS.maxEvaluationSteps,
  workflowTaskSteps: EXPRESSION_BOUNDS.maxWorkflowTaskSteps,
  stringLength: EXPRESSION_BOUNDS.maxStringLength,
  arrayLength: EXPRESSION_BOUNDS.maxArrayLength,
  builtSize: EXPRESSION_BOUNDS.maxBuiltSize,
  workflowTaskBuiltSize: EXPRESSION_BOUNDS.maxWorkflowTaskBuiltSize,
  pictureLength: EXPRESSION_BOUNDS.maxPictureLength,
  valueDepth: EXPRESSION_BOUNDS.maxValueDepth,
};

/** A 422 saying which expression failed, where, and, when it ran past a bound, which bound and its limit. */
function expressionFailed(part: 'when' | 'with', error: ExpressionError): ProblemError {
  const where = part === 'with' && error.path && error.path.length > 0 ? `with.${formatValuePath(error.path)}` : part;
  const source = error.source.length > MAX_SHOWN_SOURCE ? `${error.source.slice(0, MAX_SHOWN_SOURCE)}…` : error.source;
  return new ProblemError(422, 'expression-failed', 'Expression failed', `${where}: ${error.detail}`, {
    expression: {
      part,
      source,
      ...(error.path && error.path.length > 0 ? { path: error.path } : {}),
      kind: error.kind,
      ...(error.code ? { code: error.code } : {}),
      ...(error.position !== undefined ? { position: error.position } : {}),
    },
    ...(error.bound ? { bound: error.bound, ...(error.bound === 'regex' ? {} : { limit: LIMITS[error.bound] }) } : {}),
  });
}
