import { boundedBuiltIns, boundedConcatenation, truthiness } from './bounded-functions';
import { EXPRESSION_BOUNDS, EvaluationBudget, budgetFocus } from './expression-bounds';

/**
 * A synchronous evaluator for the shapes most expressions have: paths into the context
 * (`inputs.service`, `steps.build.output.status`), literals, comparisons, `and`/`or`, `&`, array
 * constructors and calls of a few string built-ins (`$uppercase`, `$string`, `$join`…).
 *
 * Why: JSONata 2's evaluator is async, a few promises per node, and the workflow sandbox captures a
 * stack trace for every promise a workflow creates, so a node costs some 0.1 ms there. These shapes
 * need no promise at all.
 *
 * Equivalence with JSONata: each supported node does what JSONata's evaluator does for it, calling
 * the same bounded built-ins, for the values it accepts; on anything else (an array read from the
 * context, a value JSONata would refuse with an error, a string past the bound, a node or attribute
 * not listed here) it declines, having changed nothing, and JSONata evaluates the expression. It
 * counts the evaluation steps JSONata would take (one per node evaluated, a path stopping at its
 * first undefined step) and commits them to the budgets only once it has its value, so both paths
 * use up the per-evaluation and per-workflow-task budgets alike.
 */

type AstNode = Record<string, unknown> & { readonly type: string };

/** The result of a node, or undefined when the evaluator declines. */
type Evaluated = { readonly value: unknown } | undefined;

interface Evaluation {
  readonly context: unknown;
  readonly budget: EvaluationBudget;
  readonly focus: object;
  steps: number;
}

type Evaluator = (evaluation: Evaluation) => Evaluated;

/**
 * Expressions larger than this always go to JSONata: it keeps the depth and step counts of the
 * synchronous path far below their bounds, so committing steps after the fact cannot differ.
 */
const MAX_SYNCHRONOUS_NODES = 100;

/**
 * Built-in charges past this share of `maxBuiltSize` make the evaluator decline: JSONata also charges
 * the sequences it builds, which this evaluator does not mirror, so it leaves any case near the bound
 * to JSONata.
 */
const BUILT_SIZE_SHARE = 0.5;

const { maxStringLength, maxBuiltSize } = EXPRESSION_BOUNDS;

/** The name the AST rewrite gives `&` (expressions.ts). */
export const CONCATENATION = 'bounded concatenation';

/** Built-ins called synchronously, each with the arguments it accepts without coercion or error. */
const CALLABLE: Readonly<Record<string, (args: readonly unknown[]) => boolean>> = {
  uppercase: oneString,
  lowercase: oneString,
  trim: oneString,
  length: oneString,
  // `<x-b?:s>`
  string: (args) => (args.length === 1 || (args.length === 2 && typeof args[1] === 'boolean')) && args[0] !== undefined,
  // `<a<s>s?:s>`: an array of strings (a lone string would be wrapped), and a string separator.
  join: (args) =>
    (args.length === 1 || (args.length === 2 && typeof args[1] === 'string')) &&
    Array.isArray(args[0]) &&
    args[0].every((item) => typeof item === 'string'),
  // `<x-:b>`
  boolean: (args) => args.length === 1 && args[0] !== undefined,
  not: (args) => args.length === 1 && args[0] !== undefined,
  // `&` takes anything, undefined included.
  [CONCATENATION]: (args) => args.length === 2,
};

function oneString(args: readonly unknown[]): boolean {
  return args.length === 1 && typeof args[0] === 'string';
}

const COMPARISONS = new Set(['=', '!=', '<', '<=', '>', '>=']);

export interface SynchronousExpression {
  /** The expression's value, or undefined when JSONata must evaluate it. Throws only bound errors. */
  evaluate(context: unknown): Evaluated;
}

/** A synchronous evaluator for `ast` (after expressions.ts rewrote `&`), or undefined if its shape is not supported. */
export function synchronousExpression(ast: unknown, nodeCount: number): SynchronousExpression | undefined {
  if (nodeCount > MAX_SYNCHRONOUS_NODES) return undefined;
  const evaluator = compileNode(ast);
  if (!evaluator) return undefined;
  return {
    evaluate(context) {
      const budget = new EvaluationBudget();
      const evaluation: Evaluation = { context, budget, focus: budgetFocus(budget), steps: 0 };
      let result: Evaluated;
      try {
        result = evaluator(evaluation);
      } catch {
        return undefined; // a bounded built-in refused: JSONata reports it, at the node where it happens
      }
      if (!result || budget.built > maxBuiltSize * BUILT_SIZE_SHARE) return undefined;
      budget.takeSteps(evaluation.steps);
      return result;
    },
  };
}

function compileNode(node: unknown): Evaluator | undefined {
  if (!isNode(node)) return undefined;
  switch (node.type) {
    case 'string':
    case 'number':
    case 'value':
      return hasOnly(node, []) ? literal(node.value) : undefined;
    case 'path':
      return hasOnly(node, ['steps']) ? path(node.steps) : undefined;
    case 'binary':
      return hasOnly(node, ['lhs', 'rhs']) ? binary(node) : undefined;
    case 'function':
      return hasOnly(node, ['procedure', 'arguments']) && node.value === '(' ? call(node) : undefined;
    case 'unary':
      return hasOnly(node, ['expressions']) && node.value === '[' ? arrayConstructor(node.expressions) : undefined;
    default:
      return undefined;
  }
}

/**
 * Whether `node` has no attribute beyond type, value, position and `extra` (JSONata adds predicates,
 * stages, groups… as attributes); the parser leaves some unset (a call's `name`), which count as absent.
 */
function hasOnly(node: AstNode, extra: readonly string[]): boolean {
  return Object.entries(node).every(
    ([key, value]) => value === undefined || key === 'type' || key === 'value' || key === 'position' || extra.includes(key),
  );
}

function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as AstNode).type === 'string';
}

/** Every node's result passes JSONata's string bound (expression-bounds.ts `checkResult`); past it, decline. */
function result(value: unknown): Evaluated {
  return typeof value === 'string' && value.length > maxStringLength ? undefined : { value };
}

function literal(value: unknown): Evaluator {
  return (evaluation) => {
    evaluation.steps++;
    return result(value);
  };
}

/**
 * `a.b.c` from the root: JSONata reads each name as an own property of an object that is not a
 * function, and stops at the first step that yields nothing. Arrays (which paths map over and
 * flatten) decline.
 */
function path(steps: unknown): Evaluator | undefined {
  if (!Array.isArray(steps) || steps.length === 0) return undefined;
  const names: string[] = [];
  for (const step of steps) {
    if (!isNode(step) || step.type !== 'name' || !hasOnly(step, []) || typeof step.value !== 'string') return undefined;
    names.push(step.value);
  }
  return (evaluation) => {
    evaluation.steps++;
    let value: unknown = evaluation.context;
    for (const name of names) {
      if (Array.isArray(value)) return undefined;
      evaluation.steps++;
      value = isRecord(value) && Object.prototype.hasOwnProperty.call(value, name) ? value[name] : undefined;
      if (value === undefined) return { value };
    }
    return Array.isArray(value) ? undefined : result(value);
  };
}

/** A plain object as JSONata's lookup sees one: not null, not a JSONata function or lambda. */
function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const marks = value as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return marks._jsonata_function !== true && marks._jsonata_lambda !== true;
}

function binary(node: AstNode): Evaluator | undefined {
  const operator = node.value;
  const lhs = compileNode(node.lhs);
  const rhs = compileNode(node.rhs);
  if (!lhs || !rhs || typeof operator !== 'string') return undefined;
  if (operator === 'and' || operator === 'or') {
    return (evaluation) => {
      evaluation.steps++;
      const left = lhs(evaluation);
      if (!left) return undefined;
      const leftTrue = booleanOf(left.value);
      // JSONata evaluates the right side only when the left does not decide.
      if (operator === 'and' ? !leftTrue : leftTrue) return { value: leftTrue };
      const right = rhs(evaluation);
      return right && { value: booleanOf(right.value) };
    };
  }
  if (!COMPARISONS.has(operator)) return undefined;
  return (evaluation) => {
    evaluation.steps++;
    const left = lhs(evaluation);
    const right = left && rhs(evaluation);
    return right && compare(operator, left.value, right.value);
  };
}

/** JSONata's `boolize`: the effective boolean value, undefined as false. */
function booleanOf(value: unknown): boolean {
  return truthiness(value) === true;
}

/**
 * JSONata's equality and comparison operators on primitives: `=`/`!=` with an undefined side are false;
 * an ordering with an undefined side is undefined; anything JSONata would compare deeply or refuse
 * (objects, arrays, a string against a number) declines.
 */
function compare(operator: string, left: unknown, right: unknown): Evaluated {
  if (left === undefined || right === undefined) return { value: operator === '=' || operator === '!=' ? false : undefined };
  if (!isPrimitive(left) || !isPrimitive(right)) return undefined;
  if (operator === '=') return { value: left === right };
  if (operator === '!=') return { value: left !== right };
  const comparable = (typeof left === 'string' || typeof left === 'number') && typeof left === typeof right;
  if (!comparable) return undefined;
  const [a, b] = [left as string | number, right as string | number];
  return { value: operator === '<' ? a < b : operator === '<=' ? a <= b : operator === '>' ? a > b : a >= b };
}

function isPrimitive(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** A call of a listed built-in (the bounded one JSONata would call) or of `&`: the procedure, then each argument, is a step. */
function call(node: AstNode): Evaluator | undefined {
  const procedure = node.procedure;
  if (!isNode(procedure) || procedure.type !== 'variable' || !hasOnly(procedure, []) || typeof procedure.value !== 'string') return undefined;
  const name = procedure.value;
  const accepts = Object.prototype.hasOwnProperty.call(CALLABLE, name) ? CALLABLE[name] : undefined;
  const builtIn = name === CONCATENATION ? boundedConcatenation : boundedBuiltIns.get(name);
  if (!accepts || !builtIn || !Array.isArray(node.arguments)) return undefined;
  const argumentEvaluators = node.arguments.map(compileNode);
  if (!argumentEvaluators.every((evaluator): evaluator is Evaluator => evaluator !== undefined)) return undefined;
  return (evaluation) => {
    evaluation.steps += 2;
    const args: unknown[] = [];
    for (const evaluateArgument of argumentEvaluators) {
      const argument = evaluateArgument(evaluation);
      if (!argument) return undefined;
      args.push(argument.value);
    }
    if (!accepts(args)) return undefined;
    // None of the listed built-ins builds a sequence, the one part of JSONata's focus the budget's lacks.
    const value = builtIn.implementation.apply(evaluation.focus as ThisParameterType<typeof builtIn.implementation>, args);
    return value instanceof Promise || Array.isArray(value) ? undefined : result(value);
  };
}

/**
 * `[a, b, …]` of values that are not arrays: JSONata appends each defined item to a plain array, and
 * the bounds charge the array's length.
 */
function arrayConstructor(expressions: unknown): Evaluator | undefined {
  if (!Array.isArray(expressions)) return undefined;
  const items = expressions.map(compileNode);
  if (!items.every((evaluator): evaluator is Evaluator => evaluator !== undefined)) return undefined;
  return (evaluation) => {
    evaluation.steps++;
    const array: unknown[] = [];
    for (const item of items) {
      const evaluated = item(evaluation);
      if (!evaluated || Array.isArray(evaluated.value)) return undefined;
      if (evaluated.value !== undefined) array.push(evaluated.value);
    }
    evaluation.budget.charge(array.length);
    return { value: array };
  };
}
