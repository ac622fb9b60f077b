import jsonata from 'jsonata';
import { boundedBuiltIns, boundedConcatenation, truthiness } from './bounded-functions';
import {
  BOUNDED_COMPILE_OPTIONS,
  ExpressionBoundError,
  boundExpression,
  checkJsonSize,
  tooLongArray,
  type BoundKind,
} from './expression-bounds';
import { LinearTimeRegExp, UnsupportedRegexError, unsupportedRegex } from './regex-engine';
import { astReadsSecrets, secretReferencesIn } from './secret-references';
import { CONCATENATION, synchronousExpression } from './synchronous-evaluation';

/**
 * The spec's expression language: JSONata. A step's `when` is a bare expression; string values anywhere
 * in its `with` may hold `{{ expr }}` templates.
 *
 * This module runs inside the Temporal workflow sandbox, where Date and Math.random are replayed
 * deterministically, so `$now()`, `$millis()` and `$random()` are safe to offer: a replay sees the
 * values the first execution saw. Nothing outside the sandbox evaluates expressions (the API only
 * compiles them), which is what keeps that true.
 */

export interface StepState {
  readonly status: string;
  readonly output?: unknown;
}

export interface RunInfo {
  readonly id: string;
  readonly workflowId: string;
  readonly templateId: string;
  readonly templateVersion: number;
}

/** What an expression sees as its input document. */
export interface ExpressionContext {
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly steps: Readonly<Record<string, StepState>>;
  readonly run: RunInfo;
  /** In a `forEach` step's `with` and `when`: the item this run of the step is for, and its position. */
  readonly item?: unknown;
  readonly index?: number;
}

/** Where a value sits inside a `with` object: keys and array indexes. */
export type ValuePath = readonly (string | number)[];

export interface ExpressionErrorDetails {
  readonly kind: 'syntax' | 'evaluation';
  readonly source: string;
  /** JSONata's own explanation. */
  readonly detail: string;
  /** JSONata's character position in `source`, when it gave one. */
  readonly position?: number;
  /** JSONata's error code, e.g. "S0207" or "T2001". */
  readonly code?: string;
  /** Where the template sits in the rendered value, for errors raised while rendering. */
  readonly path?: ValuePath;
  /** Set when the expression went past one of `EXPRESSION_BOUNDS`, or used a regex RE2 cannot run. */
  readonly bound?: ExpressionBound;
  readonly cause?: unknown;
}

export type ExpressionBound = BoundKind | 'regex';

export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';
  readonly kind: ExpressionErrorDetails['kind'];
  readonly source: string;
  readonly detail: string;
  readonly position?: number;
  readonly code?: string;
  readonly path?: ValuePath;
  readonly bound?: ExpressionBound;

  constructor(details: ExpressionErrorDetails) {
    super(describeError(details), details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = details.kind;
    this.source = details.source;
    this.detail = details.detail;
    this.position = details.position;
    this.code = details.code;
    this.path = details.path;
    this.bound = details.bound;
  }

  withPath(path: ValuePath): ExpressionError {
    const { kind, source, detail, position, code, bound, cause } = this;
    return new ExpressionError({ kind, source, detail, position, code, path, bound, cause });
  }
}

const MAX_QUOTED_SOURCE = 100;

function describeError({ kind, source, detail, position, path }: ExpressionErrorDetails): string {
  const shown = source.length > MAX_QUOTED_SOURCE ? `${source.slice(0, MAX_QUOTED_SOURCE)}…` : source;
  const quoted = JSON.stringify(shown);
  const where = path && path.length > 0 ? ` at ${formatValuePath(path)}` : '';
  const at = position === undefined ? '' : ` (position ${position})`;
  return `${kind === 'syntax' ? 'Invalid' : 'Failed to evaluate'} expression ${quoted}${where}: ${detail}${at}`;
}

/** `["body", "items", 0, "id"]` → `body.items[0].id`. */
export function formatValuePath(path: ValuePath): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`)).join('');
}

/**
 * JSONata throws plain objects carrying `message`, `position` and `code`; keep whatever it gave. A bound
 * breach keeps its own message, even from inside `$eval`, which wraps what it caught in `error`.
 */
function toExpressionError(kind: ExpressionErrorDetails['kind'], source: string, error: unknown): ExpressionError {
  if (error instanceof ExpressionError) return error;
  const thrown = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : {};
  const breach = boundBreach(error) ?? jsonataArrayBreach(thrown);
  return new ExpressionError({
    kind,
    source,
    detail: breach?.message ?? (typeof thrown.message === 'string' ? thrown.message : String(error)),
    position: typeof thrown.position === 'number' ? thrown.position : undefined,
    code: breach || typeof thrown.code !== 'string' ? undefined : thrown.code,
    bound: breach instanceof ExpressionBoundError ? breach.bound : breach ? 'regex' : undefined,
    cause: error,
  });
}

/** JSONata's own array bounds (ranges, `$append`, array constructors), said the way the others are. */
function jsonataArrayBreach(thrown: Record<string, unknown>): ExpressionBoundError | undefined {
  const tooLong = (thrown.code === 'D2014' || thrown.code === 'D2015') && typeof thrown.value === 'number';
  return tooLong ? tooLongArray(thrown.value as number) : undefined;
}

function boundBreach(error: unknown): ExpressionBoundError | UnsupportedRegexError | undefined {
  for (let current = error; typeof current === 'object' && current !== null; current = (current as { error?: unknown }).error) {
    if (current instanceof ExpressionBoundError || current instanceof UnsupportedRegexError) return current;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Compilation, cached because the workflow evaluates the same expressions again and again.

export interface CompiledExpression {
  readonly source: string;
  /** Ids of the steps the expression reads through `steps.<id>`; see `referencedSteps`. */
  readonly referencedSteps: readonly string[];
  /**
   * Nodes in the expression's syntax tree: what one evaluation costs at least, in evaluation steps
   * (loops and recursion cost more). The engine uses it to spread costly steps over workflow tasks.
   */
  readonly nodeCount: number;
  /** Whether it reads `secrets`, which only a `{{ secrets.NAME }}` reference may (secret-references.ts). */
  readonly readsSecrets: boolean;
  evaluate(context: ExpressionContext, options?: EvaluationOptions): Promise<unknown>;
  /**
   * The value, computed without a promise, for the common shapes synchronous-evaluation.ts handles;
   * undefined when JSONata must evaluate it (then call `evaluate`). Throws like `evaluate`.
   */
  evaluateSynchronously(context: ExpressionContext): { readonly value: unknown } | undefined;
}

const MAX_CACHED_EXPRESSIONS = 1000;
/** Least recently used first: a hit moves its entry to the end. */
const compiled = new Map<string, CompiledExpression>();

/** Parses `source`, or throws an `ExpressionError` of kind "syntax" with JSONata's position and message. */
export function compileExpression(source: string): CompiledExpression {
  const cached = compiled.get(source);
  if (cached) {
    compiled.delete(source);
    compiled.set(source, cached);
    return cached;
  }
  const expression = compile(source);
  if (compiled.size >= MAX_CACHED_EXPRESSIONS) {
    const leastRecentlyUsed = compiled.keys().next();
    if (!leastRecentlyUsed.done) compiled.delete(leastRecentlyUsed.value);
  }
  compiled.set(source, expression);
  return expression;
}

/** Expressions run their regular expressions on RE2 and stay within `EXPRESSION_BOUNDS`. */
const JSONATA_OPTIONS: jsonata.JsonataOptions = {
  ...BOUNDED_COMPILE_OPTIONS,
  RegexEngine: LinearTimeRegExp as unknown as RegExpConstructor,
};

function compile(source: string): CompiledExpression {
  let expression: jsonata.Expression;
  try {
    expression = jsonata(source, JSONATA_OPTIONS);
  } catch (error) {
    throw toExpressionError('syntax', source, error);
  }
  const ast = expression.ast();
  const steps = findStepReferences(ast);
  const readsSecrets = astReadsSecrets(ast);
  const nodeCount = prepareAst(ast, source);
  boundExpression(expression);
  for (const [name, builtIn] of boundedBuiltIns) expression.assign(name, builtIn);
  // The name `&` is rewritten to call; no expression can name it, since names end at a space.
  expression.assign(CONCATENATION, boundedConcatenation);
  const synchronous = synchronousExpression(ast, nodeCount);
  const evaluateSynchronously = (context: ExpressionContext) => {
    try {
      const evaluated = synchronous?.evaluate(context);
      if (evaluated) checkJsonSize(evaluated.value);
      return evaluated;
    } catch (error) {
      throw toExpressionError('evaluation', source, error);
    }
  };
  return {
    source,
    referencedSteps: steps,
    nodeCount,
    readsSecrets,
    evaluateSynchronously,
    async evaluate(context, options = {}) {
      const evaluated = options.synchronous === false ? undefined : evaluateSynchronously(context);
      if (evaluated) return evaluated.value;
      try {
        const value: unknown = await expression.evaluate(context);
        checkJsonSize(value);
        return value;
      } catch (error) {
        throw toExpressionError('evaluation', source, error);
      }
    },
  };
}

/**
 * Refuses regular expressions RE2 cannot run (so validation reports them, naming the step), and turns
 * every `a & b` into a call of the bounded concatenation, which measures JSON before building it.
 * Answers the number of nodes in the tree.
 */
function prepareAst(ast: unknown, source: string): number {
  let nodeCount = 0;
  const seen = new Set<object>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || node instanceof RegExp || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    const astNode = node as AstNode;
    if (typeof astNode.type === 'string') nodeCount++;
    if (astNode.type === 'regex' && astNode.value instanceof RegExp) {
      const refused = unsupportedRegex(astNode.value);
      if (refused) {
        const position = typeof astNode.position === 'number' ? astNode.position : undefined;
        throw new ExpressionError({ kind: 'syntax', source, detail: refused.message, position, bound: 'regex' });
      }
    }
    for (const child of Object.values(astNode)) visit(child);
    if (astNode.type === 'binary' && astNode.value === '&') {
      const { lhs, rhs } = astNode;
      delete astNode.lhs;
      delete astNode.rhs;
      Object.assign(astNode, {
        type: 'function',
        value: '(',
        procedure: { type: 'variable', value: CONCATENATION, position: astNode.position },
        arguments: [lhs, rhs],
      });
    }
  };
  visit(ast);
  return nodeCount;
}

/**
 * The least number of evaluation steps that evaluating `when` and rendering `with` cost: the nodes of
 * their expressions. Throws an `ExpressionError` on a syntax error, as validation would have.
 */
export function leastEvaluationCost(when: string | undefined, withValue: unknown): number {
  const sources = [...(when === undefined ? [] : [when]), ...findExpressions(withValue).map((found) => found.source)];
  return sources.reduce((cost, source) => cost + compileExpression(source).nodeCount, 0);
}

/** The step ids `source` reads through `steps.<id>`; throws an `ExpressionError` on a syntax error. */
export function referencedSteps(source: string): readonly string[] {
  return compileExpression(source).referencedSteps;
}

// ---------------------------------------------------------------------------------------------------
// Step references. Only `steps` read from the root document is the run's step map; inside a later path
// step, a filter, a group-by or a sort, `steps` is a field of whatever value is in focus. Reads through
// `$$` or `$` (at the root) count too. Dynamic reads (`steps.*`, `$lookup(steps, $id)`, a variable
// holding `steps`) are not recognised: references found are certain, but not necessarily complete.

type AstNode = Record<string, unknown>;

/** Children JSONata evaluates against the same input as their parent. */
const SAME_INPUT_CHILDREN = new Set([
  'lhs', 'rhs', 'expression', 'expressions', 'arguments', 'procedure', 'body', 'condition', 'then', 'else',
]);

function findStepReferences(ast: unknown): string[] {
  const found = new Set<string>();
  collectStepReferences(ast, true, found);
  return [...found];
}

function collectStepReferences(node: unknown, atRoot: boolean, found: Set<string>): void {
  if (Array.isArray(node)) {
    for (const child of node) collectStepReferences(child, atRoot, found);
    return;
  }
  if (!isAstNode(node)) return;
  if (node.type === 'path' && Array.isArray(node.steps)) {
    collectFromPath(node, node.steps as unknown[], atRoot, found);
    return;
  }
  for (const [key, child] of Object.entries(node)) {
    collectStepReferences(child, atRoot && SAME_INPUT_CHILDREN.has(key), found);
  }
}

function collectFromPath(path: AstNode, steps: unknown[], atRoot: boolean, found: Set<string>): void {
  const stepsAt = rootStepsIndex(steps, atRoot);
  const idStep = stepsAt === -1 ? undefined : steps[stepsAt + 1];
  if (isAstNode(idStep) && idStep.type === 'name' && typeof idStep.value === 'string') found.add(idStep.value);

  // Only the first step of a path sees the path's own input; each later one sees the previous step's result.
  steps.forEach((step, i) => collectStepReferences(step, atRoot && i === 0, found));
  for (const [key, child] of Object.entries(path)) {
    if (key !== 'steps') collectStepReferences(child, false, found);
  }
}

/** Index of the path step naming the run's `steps` map: `steps.…`, `$$.steps.…`, or `$.steps.…` at the root. */
function rootStepsIndex(steps: unknown[], atRoot: boolean): number {
  const [first, second] = steps;
  if (atRoot && isNamed(first, 'name', 'steps')) return 0;
  const rootVariable = isNamed(first, 'variable', '$') || (atRoot && isNamed(first, 'variable', ''));
  return rootVariable && isNamed(second, 'name', 'steps') ? 1 : -1;
}

function isNamed(node: unknown, type: string, value: string): boolean {
  return isAstNode(node) && node.type === type && node.value === value;
}

function isAstNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------------
// Conditions.

export interface EvaluationOptions {
  /**
   * Whether expressions of the common shapes are evaluated without JSONata (synchronous-evaluation.ts);
   * default true. The values are the same either way, but a step that creates fewer promises reaches
   * its command sooner, so the run engine turns it off to replay runs recorded before: then conditions
   * and templates are evaluated by the very code, promise for promise, that recorded them.
   */
  readonly synchronous?: boolean;
}

/** Evaluates a `when`; JSONata's truthiness decides (undefined, "", 0, [] and {} are false). */
export async function evaluateCondition(source: string, context: ExpressionContext, options: EvaluationOptions = {}): Promise<boolean> {
  const expression = compileExpression(source);
  if (options.synchronous === false) {
    const value = await expression.evaluate(context, options);
    return (await toBooleanAsRecorded.evaluate(undefined, { value })) === true;
  }
  const evaluated = expression.evaluateSynchronously(context);
  return truthiness(evaluated ? evaluated.value : await expression.evaluate(context)) === true;
}

/** How runs recorded before synchronous evaluation decided a condition (see `EvaluationOptions`). */
const toBooleanAsRecorded = jsonata('$boolean($value)');

// ---------------------------------------------------------------------------------------------------
// Templates. `}}` closes a template only outside JSONata strings, comments and object braces, so
// `{{ {"a": {"b": 1}} }}` and `{{ "}}" }}` work. A literal "{{" can be written as `{{ "{{" }}`.

type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'expression'; readonly source: string }
  /** A `{{` never closed; `source` is everything after it. */
  | { readonly kind: 'unclosed'; readonly source: string };

const OPEN = '{{';
const CLOSE = '}}';

function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let textStart = 0;
  for (let open = template.indexOf(OPEN); open !== -1; open = template.indexOf(OPEN, textStart)) {
    if (open > textStart) parts.push({ kind: 'text', text: template.slice(textStart, open) });
    const sourceStart = open + OPEN.length;
    const close = findClose(template, sourceStart);
    if (close === -1) {
      parts.push({ kind: 'unclosed', source: template.slice(sourceStart) });
      return parts;
    }
    parts.push({ kind: 'expression', source: template.slice(sourceStart, close) });
    textStart = close + CLOSE.length;
  }
  if (textStart < template.length) parts.push({ kind: 'text', text: template.slice(textStart) });
  return parts;
}

/** Index of the `}}` ending the expression that starts at `from`, or -1. */
function findClose(template: string, from: number): number {
  let depth = 0;
  for (let i = from; i < template.length; i++) {
    const char = template[i];
    if (char === '"' || char === "'" || char === '`') {
      i = endOfQuoted(template, i);
    } else if (char === '/' && template[i + 1] === '*') {
      const end = template.indexOf('*/', i + 2);
      if (end === -1) return -1;
      i = end + 1;
    } else if (char === '{') {
      depth++;
    } else if (char === '}') {
      if (depth === 0 && template[i + 1] === '}') return i;
      depth = Math.max(0, depth - 1);
    }
  }
  return -1;
}

/** Index of the quote closing the string or backtick name opened at `start` (the end of `text` if none). */
function endOfQuoted(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\' && quote !== '`') i++;
    else if (text[i] === quote) return i;
  }
  return text.length;
}

/** The source of a template that is exactly one `{{ expr }}`, give or take surrounding whitespace. */
function wholeExpressionSource(parts: readonly TemplatePart[]): string | undefined {
  const expressions = parts.filter((part) => part.kind !== 'text');
  const onlyBlankText = parts.every((part) => part.kind !== 'text' || part.text.trim() === '');
  const [only] = expressions;
  return expressions.length === 1 && only?.kind === 'expression' && onlyBlankText ? only.source : undefined;
}

export function isWholeExpression(value: string): boolean {
  return value.includes(OPEN) && wholeExpressionSource(parseTemplate(value)) !== undefined;
}

export interface FoundExpression {
  /** Where the string holding the template sits in the searched value. */
  readonly path: ValuePath;
  readonly source: string;
  /** Set when the template is malformed (a `{{` never closed), before any parsing of the expression. */
  readonly error?: ExpressionError;
}

/** Every `{{ }}` expression in the strings of `value`, walking objects and arrays. */
export function findExpressions(value: unknown): FoundExpression[] {
  const found: FoundExpression[] = [];
  visitStrings(value, [], (text, path) => {
    if (!text.includes(OPEN)) return;
    for (const part of parseTemplate(text)) {
      if (part.kind === 'expression') found.push({ path, source: part.source });
      if (part.kind === 'unclosed') found.push({ path, source: part.source, error: unclosedError(part.source) });
    }
  });
  return found;
}

function visitStrings(value: unknown, path: ValuePath, visit: (text: string, path: ValuePath) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, i) => visitStrings(item, [...path, i], visit));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) visitStrings(item, [...path, key], visit);
  }
}

function unclosedError(source: string, path?: ValuePath): ExpressionError {
  return new ExpressionError({ kind: 'syntax', source, detail: `"${OPEN}" is never closed by "${CLOSE}"`, path });
}

/**
 * Renders every string in `value`, walking objects and arrays. A string that is one whole `{{ expr }}`
 * becomes the expression's value; a string mixing text and templates becomes a string, with objects
 * JSON-encoded and undefined as "". A string holding `{{ secrets.NAME }}` stays as it is: the step's
 * activity substitutes the secret, so its value never enters the workflow (secret-references.ts).
 * Values come back as plain JSON (what an activity will receive), so they never share objects with
 * step outputs held in the context.
 *
 * Expressions are evaluated in document order, each without a promise when it can be (every promise
 * costs a stack trace in the workflow sandbox): only those JSONata must evaluate are awaited.
 */
export async function renderTemplate(value: unknown, context: ExpressionContext, options: EvaluationOptions = {}): Promise<unknown> {
  return options.synchronous === false ? renderAsRecorded(value, context, []) : renderWithFewestPromises(value, context);
}

async function renderWithFewestPromises(value: unknown, context: ExpressionContext): Promise<unknown> {
  const templates: { readonly template: string; readonly path: ValuePath }[] = [];
  visitStrings(value, [], (text, path) => {
    if (isRendered(text)) templates.push({ template: text, path });
  });
  const rendered: unknown[] = [];
  for (const { template, path } of templates) {
    const parts = parseTemplate(template);
    const whole = wholeExpressionSource(parts);
    if (whole !== undefined) {
      const evaluated = evaluateSynchronouslyAt(whole, context, path);
      rendered.push(toPlainJson(evaluated ? evaluated.value : await evaluateAt(whole, context, path)));
      continue;
    }
    let text = '';
    for (const part of parts) {
      if (part.kind === 'unclosed') throw unclosedError(part.source, path);
      if (part.kind === 'text') {
        text += part.text;
        continue;
      }
      const evaluated = evaluateSynchronouslyAt(part.source, context, path);
      text += interpolated(evaluated ? evaluated.value : await evaluateAt(part.source, context, path));
    }
    rendered.push(text);
  }
  const next = rendered.values();
  return replaceStrings(value, (text) => (isRendered(text) ? next.next().value : text));
}

/** Strings with templates are rendered, except those referencing secrets, which the activity fills in. */
function isRendered(text: string): boolean {
  return text.includes(OPEN) && secretReferencesIn(text).length === 0;
}

/** `value` with each string replaced by `replace`'s answer, visiting strings in the order `visitStrings` does. */
function replaceStrings(value: unknown, replace: (text: string) => unknown): unknown {
  if (typeof value === 'string') return replace(value);
  if (Array.isArray(value)) return value.map((item) => replaceStrings(item, replace));
  if (typeof value === 'object' && value !== null) {
    // fromEntries defines own properties, so a "__proto__" key stays a plain key.
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaceStrings(item, replace)]));
  }
  return value;
}

function evaluateSynchronouslyAt(source: string, context: ExpressionContext, path: ValuePath): { readonly value: unknown } | undefined {
  try {
    return compileExpression(source).evaluateSynchronously(context);
  } catch (error) {
    throw error instanceof ExpressionError ? error.withPath(path) : error;
  }
}

async function evaluateAt(source: string, context: ExpressionContext, path: ValuePath, options: EvaluationOptions = {}): Promise<unknown> {
  try {
    return await compileExpression(source).evaluate(context, options);
  } catch (error) {
    throw error instanceof ExpressionError ? error.withPath(path) : error;
  }
}

/**
 * How runs recorded before synchronous evaluation rendered `with` (see `EvaluationOptions`): one async
 * call per value, kept as it was so that their steps schedule in the recorded order.
 */
async function renderAsRecorded(value: unknown, context: ExpressionContext, path: ValuePath): Promise<unknown> {
  if (typeof value === 'string') return renderStringAsRecorded(value, context, path);
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const [i, item] of value.entries()) items.push(await renderAsRecorded(item, context, [...path, i]));
    return items;
  }
  if (typeof value === 'object' && value !== null) {
    const entries: [string, unknown][] = [];
    for (const [key, item] of Object.entries(value)) entries.push([key, await renderAsRecorded(item, context, [...path, key])]);
    return Object.fromEntries(entries);
  }
  return value;
}

const AS_RECORDED: EvaluationOptions = { synchronous: false };

async function renderStringAsRecorded(template: string, context: ExpressionContext, path: ValuePath): Promise<unknown> {
  if (!isRendered(template)) return template;
  const parts = parseTemplate(template);
  const whole = wholeExpressionSource(parts);
  if (whole !== undefined) return toPlainJson(await evaluateAt(whole, context, path, AS_RECORDED));

  let text = '';
  for (const part of parts) {
    if (part.kind === 'unclosed') throw unclosedError(part.source, path);
    text += part.kind === 'text' ? part.text : interpolated(await evaluateAt(part.source, context, path, AS_RECORDED));
  }
  return text;
}

function interpolated(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

function toPlainJson(value: unknown): unknown {
  const json = JSON.stringify(value);
  return json === undefined ? undefined : JSON.parse(json);
}
