import { inWorkflowContext, workflowInfo } from '@temporalio/workflow';
import type jsonata from 'jsonata';

/**
 * Hard bounds on what one expression may do, counted in work, never in time: a wall-clock timeout
 * would be nondeterministic, and time stands still inside a workflow activation anyway. The same
 * expression on the same data reaches the same bound at the same point on every replay.
 *
 * Why they are needed: the worker runs a workflow activation inside a V8 context with a 5 s execution
 * timeout, and when it fires it terminates the activation halfway through promise callbacks, which
 * corrupts Node's async-hook stack and kills the whole worker process ("async hook stack has become
 * corrupted"); Temporal then hands the task to the next worker, which dies the same way. Evaluation is
 * also far slower there than in plain Node: the SDK records a stack trace for every promise a workflow
 * creates (for its stack-trace query), and JSONata's evaluator creates several per node, so an evaluation
 * step costs 0.3 ms or more in the worker, 50 times what it costs in plain Node. The budgets below keep
 * every activation well inside the timeout, with room for a loaded machine.
 */
export const EXPRESSION_BOUNDS = {
  /**
   * Nested evaluations (JSONata's `stack` option): a user function calling itself costs a few levels
   * per call. Deep recursion holds its frames, so this bounds its memory; tail calls do not nest.
   */
  maxCallDepth: 500,
  /**
   * How much a pending call of a higher-order built-in (`$map`, `$reduce`, `$filter`…) adds to the call
   * depth. JSONata runs tail calls in a loop that does not nest, so recursion through such a call
   * (`$f := function($n){ $map([$n], function($x){ $f($x) }) }`) would not count otherwise, while each
   * level keeps a chain of promises pending that makes every later step slower in the worker.
   */
  higherOrderCallDepth: 10,
  /**
   * Scopes nested lexically (blocks, and the frames of functions made by functions). JSONata looks every
   * name up through this chain at every node; a Y-combinator grows it by one per iteration, which
   * makes each step slower than the last.
   */
  maxScopeDepth: 100,
  /**
   * Nodes evaluated by one evaluation. A step costs about 0.25 ms in the worker for a plain loop, and
   * ever more for recursion that keeps promise chains pending (a Y-combinator: 2,000 steps took 2.8 s),
   * so this keeps the worst evaluation near 1.5 s; it allows a $map over some 500 items.
   */
  maxEvaluationSteps: 1_500,
  /**
   * Nodes evaluated by all the expressions of one workflow task (the conditions and `with` templates
   * of every step that becomes ready in it), so that a wide fan-out of costly expressions cannot add
   * up past the activation timeout either.
   */
  maxWorkflowTaskSteps: 2_500,
  /** Characters in any string an expression holds or builds (UTF-16 code units: about 1 MB of ASCII). */
  maxStringLength: 1_000_000,
  /** Items in any array or sequence an expression holds or builds. */
  maxArrayLength: 100_000,
  /**
   * Array items and characters one evaluation may build or hand to built-in functions, in all; this
   * bounds the memory an evaluation can take (tens of MB) and the work built-in functions do for it.
   */
  maxBuiltSize: 10_000_000,
  /**
   * The built-in work of all the expressions of one workflow task, counted like `maxBuiltSize`: a wide
   * fan-out of expressions, each within its own budget, must not add up past the activation timeout.
   * At least `maxBuiltSize`, so that any evaluation within its own budget fits a fresh workflow task.
   */
  maxWorkflowTaskBuiltSize: 12_000_000,
  /**
   * What one regular-expression match adds to the built-in work. Regular expressions run far slower in
   * the worker than in plain Node (re2js in the workflow sandbox: some 95 µs a match where plain Node
   * takes 1 µs; a `$replace` of /a/ over 20,000 "a" took 1.9 s, 9,500 matches 1.2 s to 1.5 s on a busy
   * machine), so this allows some 5,000 matches per evaluation, 6,000 per workflow task.
   */
  regexMatchCost: 2_000,
  /**
   * What each character a regular-expression search scans adds, per 32 instructions of its RE2 program
   * (RE2 steps every live thread of the program at each character): some 0.4 µs in the worker for a
   * small pattern, so a 1 MB string can be searched two or three times per evaluation.
   */
  regexCharacterCost: 4,
  /**
   * Characters in the picture and option strings of `$formatNumber`, `$formatInteger`, `$parseInteger`,
   * `$fromMillis`, `$toMillis` and `$now`, and in the text `$toMillis` and `$parseInteger` parse: JSONata
   * analyses a picture in time quadratic in its length, and `$toMillis` compiles it into a native,
   * backtracking RegExp.
   */
  maxPictureLength: 256,
  /** Characters in the text `$eval` parses: JSONata's parser is recursive and not cheap per character. */
  maxEvalLength: 10_000,
  /** Nesting of arrays and objects in a value serialised to JSON (`$string`, `&`, a result). */
  maxValueDepth: 200,
} as const;

export type BoundKind =
  | 'callDepth'
  | 'scopeDepth'
  | 'steps'
  | 'workflowTaskSteps'
  | 'stringLength'
  | 'arrayLength'
  | 'builtSize'
  | 'workflowTaskBuiltSize'
  | 'pictureLength'
  | 'valueDepth';

/**
 * Whether a breach of `bound` is one of the budgets shared by the expressions of a workflow task: such
 * an evaluation may well succeed in the next workflow task (every evaluation within its own bounds fits
 * a fresh task's budgets), so the engine defers the step rather than failing it.
 */
export function isWorkflowTaskBound(bound: unknown): bound is 'workflowTaskSteps' | 'workflowTaskBuiltSize' {
  return bound === 'workflowTaskSteps' || bound === 'workflowTaskBuiltSize';
}

/** An expression went past one of `EXPRESSION_BOUNDS`; its message is the detail an ExpressionError shows. */
export class ExpressionBoundError extends Error {
  override readonly name = 'ExpressionBoundError';

  constructor(
    readonly bound: BoundKind,
    message: string,
  ) {
    super(message);
  }
}

const {
  maxCallDepth,
  higherOrderCallDepth,
  maxScopeDepth,
  maxEvaluationSteps,
  maxWorkflowTaskSteps,
  maxStringLength,
  maxArrayLength,
  maxBuiltSize,
  maxWorkflowTaskBuiltSize,
  regexMatchCost,
  regexCharacterCost,
  maxValueDepth,
} = EXPRESSION_BOUNDS;

export const tooLongString = (length: number) =>
  new ExpressionBoundError('stringLength', `expression built a string of ${length} characters; the limit is ${maxStringLength}`);
export const tooLongArray = (length: number) =>
  new ExpressionBoundError('arrayLength', `expression built an array of ${length} items; the limit is ${maxArrayLength}`);

// ---------------------------------------------------------------------------------------------------
// Budgets. One per evaluation, kept on JSONata's root frame of that evaluation, which it creates afresh
// each time; and one per workflow task, shared by the evaluations of that task.

interface WorkflowTaskBudget {
  /** The workflow task, by the history length it started at: the same on replay. */
  readonly task: number;
  steps: number;
  built: number;
}

/** This module is instantiated per run (it is not among the shared modules), so this is per run too. */
let currentTask: WorkflowTaskBudget | undefined;

/**
 * Outside a workflow: the task the evaluations of `inStandaloneTask` share, as the evaluations of a
 * step that has a workflow task to itself do (the API's dry run of a step). Plain Node, so nothing
 * replays; only one such task may be open at a time, which its callers see to.
 */
let standaloneTask: WorkflowTaskBudget | undefined;

function workflowTaskBudget(): WorkflowTaskBudget {
  // Outside a workflow (unit tests, the API), each evaluation stands alone unless a standalone task is open.
  if (!inWorkflowContext()) return standaloneTask ?? { task: -1, steps: 0, built: 0 };
  const task = workflowInfo().historyLength;
  if (currentTask?.task !== task) currentTask = { task, steps: 0, built: 0 };
  return currentTask;
}

/**
 * Runs `evaluate` (outside a workflow) with its evaluations sharing one fresh workflow task's budgets,
 * so that they are bounded in all exactly as a step's `when` and `with` are in the worker. Refuses to
 * open a second task while one is open: callers that evaluate concurrently must queue.
 */
export async function inStandaloneTask<T>(evaluate: () => Promise<T>): Promise<T> {
  if (inWorkflowContext()) throw new Error('inStandaloneTask is for evaluations outside a workflow');
  if (standaloneTask) throw new Error('a standalone task is already open; evaluate one task at a time');
  standaloneTask = { task: -2, steps: 0, built: 0 };
  try {
    return await evaluate();
  } finally {
    standaloneTask = undefined;
  }
}

/** Evaluation steps the expressions of the current workflow task may still take in all. */
export function workflowTaskStepsLeft(): number {
  return maxWorkflowTaskSteps - workflowTaskBudget().steps;
}

/** Built-in work the expressions of the current workflow task may still do in all. */
export function workflowTaskBuiltLeft(): number {
  return maxWorkflowTaskBuiltSize - workflowTaskBudget().built;
}

export class EvaluationBudget {
  private steps = 0;
  private builtSoFar = 0;
  /** Built-in work not yet charged to the workflow task (see `deferWorkflowTask`). */
  private builtUncommitted = 0;
  private readonly task = workflowTaskBudget();

  /**
   * @param deferWorkflowTask when true, `charge` counts against this evaluation only, and the
   *   workflow task's budget is charged by `commit` (synchronous-evaluation.ts, which may decline after
   *   charging, so that JSONata evaluates the expression again and charges it itself).
   */
  constructor(private readonly deferWorkflowTask = false) {}

  /** Array items and characters charged so far. */
  get built(): number {
    return this.builtSoFar;
  }

  /** Called before each node JSONata evaluates, with the nesting depth it is at. */
  step(depth: number): void {
    if (depth > maxCallDepth) {
      throw new ExpressionBoundError('callDepth', `expression exceeded the call depth of ${maxCallDepth}; is there a runaway recursion?`);
    }
    if (++this.steps > maxEvaluationSteps) {
      throw new ExpressionBoundError('steps', `expression exceeded ${maxEvaluationSteps} evaluation steps; is there an endless loop?`);
    }
    if (++this.task.steps > maxWorkflowTaskSteps) {
      const message =
        `expressions exceeded ${maxWorkflowTaskSteps} evaluation steps in all in one workflow task ` +
        '(the conditions and templates of the steps that became ready together)';
      throw new ExpressionBoundError('workflowTaskSteps', message);
    }
  }

  /**
   * Counts `count` steps taken outside JSONata (synchronous-evaluation.ts), one at a time so that a
   * budget runs out at the same step as it would in JSONata. Such expressions are far shallower than
   * the call depth bound.
   */
  takeSteps(count: number): void {
    for (let i = 0; i < count; i++) this.step(0);
  }

  /** Counts a scope opening, `depth` scopes deep. */
  scope(depth: number): void {
    if (depth > maxScopeDepth) {
      const message = `expression exceeded the scope depth of ${maxScopeDepth} (functions making functions, as in a Y-combinator?)`;
      throw new ExpressionBoundError('scopeDepth', message);
    }
  }

  /** Counts `size` array items or characters built or processed. */
  charge(size: number): void {
    this.builtSoFar += size;
    if (this.builtSoFar > maxBuiltSize) {
      const message = `expression built or processed more than ${maxBuiltSize} array items and characters in all`;
      throw new ExpressionBoundError('builtSize', message);
    }
    if (this.deferWorkflowTask) this.builtUncommitted += size;
    else this.chargeWorkflowTask(size);
  }

  /** Charges the workflow task what `charge` counted against this evaluation only (`deferWorkflowTask`). */
  commit(): void {
    const size = this.builtUncommitted;
    this.builtUncommitted = 0;
    this.chargeWorkflowTask(size);
  }

  /**
   * Counts a regular-expression search that scanned `scanned` characters with a program of
   * `programSize` instructions, and found a match or not.
   */
  chargeRegex(scanned: number, programSize: number, matched: boolean): void {
    const perCharacter = regexCharacterCost * Math.max(1, Math.ceil(programSize / 32));
    this.charge(Math.max(0, scanned) * perCharacter + (matched ? regexMatchCost : 0));
  }

  private chargeWorkflowTask(size: number): void {
    this.task.built += size;
    if (this.task.built > maxWorkflowTaskBuiltSize) {
      const message =
        `expressions built or processed more than ${maxWorkflowTaskBuiltSize} array items and characters in all ` +
        'in one workflow task (the conditions and templates of the steps that became ready together)';
      throw new ExpressionBoundError('workflowTaskBuiltSize', message);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Hooks into JSONata's evaluator. Its evaluate-entry and evaluate-exit hooks are internal (JSONata's own
// tests use them); the tests in test/unit/spec fail if an upgrade drops them.

const EVALUATE_ENTRY = Symbol.for('jsonata.__evaluate_entry');
const EVALUATE_EXIT = Symbol.for('jsonata.__evaluate_exit');
const FRAME_CREATED = Symbol.for('jsonata.__createFrame_push');
const BUDGET = Symbol('expression budget');
const SCOPE_DEPTH = Symbol('scope depth');

/** The root frame of one evaluation (`environment.base`), with the members JSONata gives it. */
interface EvaluationFrame {
  bind(name: string | symbol, value: unknown): void;
  depth: number;
  guardrails(): void;
  createSequence(...items: unknown[]): unknown[];
  /** The class JSONata builds a regex engine from, at each evaluation of a regex literal. */
  RegexEngine?: RegexEngineClass;
  [BUDGET]?: EvaluationBudget;
}

interface Frame {
  readonly base: EvaluationFrame;
  [SCOPE_DEPTH]?: number;
}

interface AstNode {
  readonly type: string;
  readonly value?: unknown;
}

/**
 * Runs once per evaluation, at its first node: gives the evaluation its budget, counts steps and depth
 * in JSONata's synchronous guardrails (called for every node) rather than in an awaited hook, and then
 * hides the entry hook from the rest of the evaluation, so that a node costs no promise more than bare
 * JSONata.
 */
function startEvaluation(_node: AstNode, _input: unknown, environment: Frame): void {
  const base = environment.base;
  const budget = new EvaluationBudget();
  base[BUDGET] = budget;
  base.guardrails = () => budget.step(base.depth);
  base.createSequence = boundedSequenceFactory(budget);
  if (base.RegexEngine) base.RegexEngine = chargedRegexEngine(base.RegexEngine, budget);
  base.bind(EVALUATE_ENTRY, false);
  budget.step(base.depth);
}

/**
 * JSONata's sequences (path results, `$map`, filters, groups…) are arrays built by pushing; these count
 * every item pushed and stop at the array bound before the array grows past it.
 */
function boundedSequenceFactory(budget: EvaluationBudget): EvaluationFrame['createSequence'] {
  return function createSequence(...initial: unknown[]) {
    const sequence: unknown[] & { sequence?: boolean } = [];
    sequence.push = function push(...items: unknown[]) {
      if (sequence.length + items.length > maxArrayLength) throw tooLongArray(sequence.length + items.length);
      budget.charge(items.length);
      return Array.prototype.push.apply(sequence, items);
    };
    sequence.sequence = true;
    if (initial.length === 1) sequence.push(initial[0]);
    return sequence;
  };
}

type RegexEngineClass = new (regex: RegExp) => {
  lastIndex: number;
  /** The size of the compiled program (regex-engine.ts); absent on a native RegExp, taken as 1. */
  readonly programSize?: number;
  exec(input: string): RegExpExecArray | null;
};

/**
 * Every search a regex literal makes (`$match`, `$replace`, `$split`, `$contains`, `~>`, calling it)
 * charges the evaluation's budget with the characters it scanned (`regexCharacterCost`, by program
 * size) and, for a match, `regexMatchCost`. Charged after the search: one search is linear in its
 * input, which is within the string bound.
 */
function chargedRegexEngine(Engine: RegexEngineClass, budget: EvaluationBudget): RegexEngineClass {
  return class ChargedRegexEngine extends Engine {
    override exec(input: string): RegExpExecArray | null {
      const from = this.lastIndex;
      const match = super.exec(input);
      const scanned = match === null ? input.length - from : match.index + match[0]!.length - from;
      budget.chargeRegex(scanned, this.programSize ?? 1, match !== null);
      return match;
    }
  };
}

/**
 * After each node: no string or array past its bound goes further, and arrays built outside sequences
 * (ranges, array constructors) are counted.
 */
function checkResult(node: AstNode, _input: unknown, environment: Frame, result: unknown): void {
  if (typeof result === 'string') {
    if (result.length > maxStringLength) throw tooLongString(result.length);
  } else if (Array.isArray(result)) {
    if (result.length > maxArrayLength) throw tooLongArray(result.length);
    if (node.value === '..' || (node.value === '[' && node.type === 'unary')) environment.base[BUDGET]?.charge(result.length);
  }
}

/** Gives each new scope its lexical depth (JSONata calls this synchronously as it creates the frame). */
function countScope(enclosing: Frame, frame: Frame): void {
  const budget = enclosing.base?.[BUDGET];
  if (!budget) return; // the expression's own frames, made before any evaluation
  frame[SCOPE_DEPTH] = (enclosing[SCOPE_DEPTH] ?? 0) + 1;
  budget.scope(frame[SCOPE_DEPTH]);
}

/** The budget of the evaluation a built-in function is called from (`this` is JSONata's focus). */
export function budgetOf(focus: { environment?: Frame }): EvaluationBudget | undefined {
  return focus.environment?.base[BUDGET];
}

/** A focus under which bounded built-ins charge `budget`: how synchronous-evaluation.ts calls them. */
export function budgetFocus(budget: EvaluationBudget): { environment: Frame } {
  return { environment: { base: { [BUDGET]: budget } as EvaluationFrame } };
}

/**
 * Counts a pending higher-order call into the call depth (see `higherOrderCallDepth`) until it settles.
 * JSONata's depth is the number of evaluations in flight, which it checks through the guardrails.
 */
export function countPendingCall<T>(focus: { environment?: Frame }, pending: Promise<T>): Promise<T> {
  const base = focus.environment?.base;
  if (!base?.[BUDGET]) return pending;
  base.depth += higherOrderCallDepth;
  const settle = () => {
    base.depth -= higherOrderCallDepth;
  };
  return pending.then(
    (value) => {
      settle();
      return value;
    },
    (error: unknown) => {
      settle();
      throw error;
    },
  );
}

/** Options to compile a bounded expression with: the depth guard needs JSONata's guardrails, which it installs only when `stack` is set. */
export const BOUNDED_COMPILE_OPTIONS: jsonata.JsonataOptions = { stack: maxCallDepth, sequence: maxArrayLength };

/** Puts an expression compiled with `BOUNDED_COMPILE_OPTIONS` under the bounds. */
export function boundExpression(expression: jsonata.Expression): void {
  // `assign` is typed for names only, but binds symbols just as well, and the hooks are looked up by symbol.
  expression.assign(EVALUATE_ENTRY as unknown as string, startEvaluation);
  expression.assign(EVALUATE_EXIT as unknown as string, checkResult);
  expression.assign(FRAME_CREATED as unknown as string, countScope);
}

// ---------------------------------------------------------------------------------------------------
// JSON size. `$string`, `&` and a template's result serialise values; a value can share one array many
// times over (`[$a, $a]` doubled in a loop), so its JSON can be exponentially larger than the memory it
// takes. This measures the JSON before anything builds it, and gives up as soon as it is too large.

/** Throws an ExpressionBoundError unless `value`'s JSON (indented when `indent`) fits the string bound. */
export function checkJsonSize(value: unknown, indent = 0): void {
  let size = 0;
  const add = (n: number) => {
    size += n;
    if (size > maxStringLength) {
      throw new ExpressionBoundError('stringLength', `expression built a value whose JSON exceeds ${maxStringLength} characters`);
    }
  };
  const visit = (item: unknown, depth: number): void => {
    if (typeof item === 'string') return add(item.length + 2);
    if (typeof item !== 'object' || item === null) return add(item === undefined ? 0 : 8);
    if (depth >= maxValueDepth) {
      throw new ExpressionBoundError('valueDepth', `expression built a value nested more than ${maxValueDepth} levels deep`);
    }
    const lineBreak = indent > 0 ? 1 + indent * (depth + 1) : 0;
    if (Array.isArray(item)) {
      add(2);
      for (const element of item) {
        add(1 + lineBreak);
        visit(element, depth + 1);
      }
      return;
    }
    add(2);
    for (const [key, property] of Object.entries(item)) {
      add(key.length + 4 + lineBreak);
      visit(property, depth + 1);
    }
  };
  visit(value, 0);
}
