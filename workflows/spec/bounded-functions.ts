import jsonata from 'jsonata';
import { EXPRESSION_BOUNDS, ExpressionBoundError, budgetOf, checkJsonSize, countPendingCall, tooLongString } from './expression-bounds';

/**
 * JSONata's built-in functions, bound to every compiled expression in place of the originals, so that
 * none can allocate or work past the bounds (see expression-bounds.ts):
 *
 * - every call counts the strings and arrays it is given and returns against the evaluation's budget,
 *   because the work and memory of a built-in grow with them (`$uppercase` of a 1 MB string in a loop);
 * - the ones whose result can dwarf their arguments check its size before building it: `$pad` (a width),
 *   `$join` (many strings), `$string` and `$clone` (JSON of values that share parts);
 * - `$sort` without a comparator uses the native sort: JSONata's merge sort copies the rest of the array
 *   at every step and awaits every comparison, which takes minutes for 100,000 items in a workflow;
 * - `$distinct` compares every pair of items: primitives go through a Set, the pairs of others count;
 * - `$eval` refuses text using `&`, which it would run with JSONata's unbounded operator (compiled
 *   expressions call `boundedConcatenation` instead); text that builds strings can use `$join`; and
 *   text longer than `maxEvalLength`;
 * - the date and number formatting functions refuse pictures (and option strings, and the text
 *   `$toMillis` and `$parseInteger` parse) longer than `maxPictureLength`: JSONata analyses a picture in
 *   time quadratic in its length, and `$toMillis` turns it into a native, backtracking RegExp;
 * - `$merge` counts the properties it copies.
 *
 * Regular expressions are charged by the regex engine (expression-bounds.ts `chargedRegexEngine`), per
 * character scanned and per match.
 *
 * The originals are shared, deep-frozen JSONata objects; the wrappers are built once per module
 * instance and keep no state: the budget comes from the evaluation calling them.
 */

interface Focus {
  readonly environment?: Parameters<typeof budgetOf>[0]['environment'];
  createSequence(): unknown[];
}

type Implementation = (this: Focus, ...args: unknown[]) => unknown;

/** A JSONata function object, as `defineFunction` makes it. */
interface JsonataFunction {
  readonly _jsonata_function: true;
  readonly implementation: Implementation;
  readonly signature?: unknown;
}

const BUILT_IN_NAMES = [
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter',
  'lowercase', 'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join',
  'formatNumber', 'formatBase', 'formatInteger', 'parseInteger', 'number', 'boolean', 'not', 'map', 'zip',
  'filter', 'single', 'reduce', 'sift', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse',
  'each', 'type', 'sort', 'shuffle', 'distinct', 'base64encode', 'base64decode', 'encodeUrlComponent',
  'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'eval', 'toMillis', 'fromMillis', 'clone',
] as const;

/**
 * `$now` and `$millis` are bound per compiled expression (they close over its evaluation's timestamp),
 * not in the static frame: the probe's are read for `$now`'s signature only.
 */
const PER_EXPRESSION_NAMES = ['now', 'millis'] as const;

type BuiltInName = (typeof BUILT_IN_NAMES)[number] | (typeof PER_EXPRESSION_NAMES)[number];

/**
 * The built-ins, read from JSONata's static frame: an evaluation's entry hook sees the environment,
 * and runs synchronously when `evaluate` is called, before its first await.
 */
function readBuiltIns(): ReadonlyMap<BuiltInName, JsonataFunction> {
  const found = new Map<BuiltInName, JsonataFunction>();
  const probe = jsonata('0');
  const readFrom = (_node: unknown, _input: unknown, environment: { lookup(name: string): unknown }) => {
    for (const name of [...BUILT_IN_NAMES, ...PER_EXPRESSION_NAMES]) found.set(name, environment.lookup(name) as JsonataFunction);
  };
  probe.assign(Symbol.for('jsonata.__evaluate_entry') as unknown as string, readFrom);
  void probe.evaluate(undefined);
  for (const name of [...BUILT_IN_NAMES, ...PER_EXPRESSION_NAMES]) {
    if (found.get(name)?._jsonata_function !== true) throw new Error(`JSONata has no built-in function $${name}`);
  }
  return found;
}

/** The size of the strings and arrays among `args`, at their top level. */
function argumentSize(args: readonly unknown[]): number {
  let size = 0;
  for (const arg of args) {
    if (typeof arg === 'string' || Array.isArray(arg)) size += arg.length;
  }
  return size;
}

type Replacement = (original: Implementation) => Implementation;

const { maxStringLength, maxPictureLength, maxEvalLength } = EXPRESSION_BOUNDS;

/** Throws a `pictureLength` bound error if `value` is a string longer than `maxPictureLength`. */
function checkPicture(name: string, what: string, value: unknown): void {
  if (typeof value === 'string' && value.length > maxPictureLength) {
    throw new ExpressionBoundError(
      'pictureLength',
      `$${name}'s ${what} has ${value.length} characters; the limit is ${maxPictureLength}`,
    );
  }
}

/** A built-in whose string arguments at `positions` (by what they are) must fit `maxPictureLength`. */
function pictured(name: string, ...positions: (string | undefined)[]): Replacement {
  return (original) =>
    function (this: Focus, ...args) {
      positions.forEach((what, i) => {
        if (what !== undefined) checkPicture(name, what, args[i]);
      });
      return original.apply(this, args);
    };
}

const replacements: Partial<Record<BuiltInName, Replacement>> = {
  pad: (original) =>
    function (this: Focus, text, width, ...rest) {
      if (typeof width === 'number' && Math.abs(width) > maxStringLength) throw tooLongString(Math.abs(width));
      return original.call(this, text, width, ...rest);
    },
  join: (original) =>
    function (this: Focus, strings, separator, ...rest) {
      if (Array.isArray(strings)) {
        const separators = typeof separator === 'string' ? separator.length * Math.max(0, strings.length - 1) : 0;
        const length = strings.reduce((total: number, item) => total + (typeof item === 'string' ? item.length : 0), separators);
        if (length > maxStringLength) throw tooLongString(length);
      }
      return original.call(this, strings, separator, ...rest);
    },
  string: (original) =>
    function (this: Focus, value, prettify, ...rest) {
      if (typeof value !== 'string') checkJsonSize(value, prettify === true ? 2 : 0);
      return original.call(this, value, prettify, ...rest);
    },
  clone: (original) =>
    function (this: Focus, value, ...rest) {
      checkJsonSize(value);
      return original.call(this, value, ...rest);
    },
  sort: (original) =>
    function (this: Focus, items, comparator, ...rest) {
      if (comparator === undefined && Array.isArray(items) && items.length > 1 && allOfOneType(items, 'number', 'string')) {
        // Stable, like JSONata's: equal items keep their order.
        return [...(items as (number | string)[])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      }
      return original.call(this, items, comparator, ...rest);
    },
  distinct: (original) =>
    function (this: Focus, items, ...rest) {
      if (!Array.isArray(items) || items.length <= 1) return original.call(this, items, ...rest);
      if (items.every((item) => item === null || ['string', 'number', 'boolean'].includes(typeof item))) {
        const distinct = [...new Set<unknown>(items)];
        if (!(items as { sequence?: boolean }).sequence) return distinct;
        const sequence = this.createSequence();
        for (const item of distinct) sequence.push(item);
        return sequence;
      }
      budgetOf(this)?.charge((items.length * (items.length - 1)) / 2);
      return original.call(this, items, ...rest);
    },
  formatNumber: (original) =>
    function (this: Focus, value, picture, options, ...rest) {
      checkPicture('formatNumber', 'picture', picture);
      if (typeof options === 'object' && options !== null) {
        for (const [key, option] of Object.entries(options)) checkPicture('formatNumber', `option "${key}"`, option);
      }
      return original.call(this, value, picture, options, ...rest);
    },
  formatInteger: pictured('formatInteger', undefined, 'picture'),
  parseInteger: pictured('parseInteger', 'text', 'picture'),
  fromMillis: pictured('fromMillis', undefined, 'picture', 'timezone'),
  toMillis: pictured('toMillis', 'text', 'picture'),
  merge: (original) =>
    function (this: Focus, objects, ...rest) {
      if (Array.isArray(objects)) {
        let properties = 0;
        for (const object of objects as unknown[]) if (typeof object === 'object' && object !== null) properties += Object.keys(object).length;
        budgetOf(this)?.charge(properties);
      }
      return original.call(this, objects, ...rest);
    },
  eval: (original) =>
    function (this: Focus, text, ...rest) {
      if (typeof text === 'string' && text.length > maxEvalLength) {
        throw new ExpressionBoundError('stringLength', `$eval's text has ${text.length} characters; the limit is ${maxEvalLength}`);
      }
      if (typeof text === 'string' && text.includes('&') && usesConcatenation(text)) {
        throw new ExpressionBoundError('builtSize', '$eval cannot evaluate text using `&`; use $join to build strings there');
      }
      return original.call(this, text, ...rest);
    },
};

/** Whether `text` parses to an expression using `&` (text that does not parse is left to `$eval` to report). */
function usesConcatenation(text: string): boolean {
  let ast: unknown;
  try {
    ast = jsonata(text).ast();
  } catch {
    return false;
  }
  const pending = [ast];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null || node instanceof RegExp || seen.has(node)) continue;
    seen.add(node);
    if ((node as { type?: unknown; value?: unknown }).type === 'binary' && (node as { value?: unknown }).value === '&') return true;
    pending.push(...(Object.values(node) as unknown[]));
  }
  return false;
}

function allOfOneType(items: readonly unknown[], ...types: string[]): boolean {
  const type = typeof items[0];
  return types.includes(type) && items.every((item) => typeof item === type);
}

function bounded(original: JsonataFunction, replacement: Replacement | undefined): JsonataFunction {
  const implementation = replacement ? replacement(original.implementation) : original.implementation;
  return {
    ...original,
    implementation(this: Focus, ...args: unknown[]) {
      const budget = budgetOf(this);
      budget?.charge(argumentSize(args));
      const result = implementation.apply(this, args);
      // Promises are the higher-order functions ($map, $filter…), whose sequences count what they push.
      if (result instanceof Promise) return countPendingCall(this, result);
      if (typeof result === 'string' || Array.isArray(result)) budget?.charge(result.length);
      return result;
    },
  };
}

const builtIns = readBuiltIns();

/** JSONata's effective boolean value (`$boolean`, and what `and`, `or` and conditions go by); undefined stays undefined. */
export const truthiness = builtIns.get('boolean')!.implementation as (value: unknown) => boolean | undefined;

/**
 * `$now(picture, timezone)`: the expression's own `$millis` (its evaluation's timestamp, read from the
 * evaluation's root frame, where no user variable can shadow it) formatted by `$fromMillis`, which is
 * what JSONata's `$now` does, with the picture bound.
 */
const boundedNow: JsonataFunction = {
  ...builtIns.get('now')!,
  implementation(this: Focus, picture: unknown, timezone: unknown) {
    const base = this.environment?.base as { lookup?(name: string): unknown } | undefined;
    const millis = base?.lookup?.('millis') as JsonataFunction | undefined;
    const timestamp = millis?._jsonata_function === true ? millis.implementation.call(this) : Date.now();
    return builtIns.get('fromMillis')!.implementation.call(this, timestamp, picture, timezone);
  },
};

/** The bounded built-ins by name, to bind on a compiled expression. */
export const boundedBuiltIns: ReadonlyMap<string, JsonataFunction> = new Map([
  ...BUILT_IN_NAMES.map((name): [string, JsonataFunction] => [name, bounded(builtIns.get(name)!, replacements[name])]),
  ['now', bounded(boundedNow, pictured('now', 'picture', 'timezone'))],
]);

/**
 * What `a & b` evaluates to, bounded: JSONata's `&` serialises arrays and objects to JSON, which may be
 * exponentially larger than the value. Compiled expressions call it in place of the operator.
 */
export const boundedConcatenation: JsonataFunction = {
  _jsonata_function: true,
  implementation(this: Focus, left: unknown, right: unknown) {
    const toText = builtIns.get('string')!.implementation;
    const text = (value: unknown): string => {
      if (value === undefined) return '';
      if (typeof value === 'string') return value;
      checkJsonSize(value);
      return toText.call(this, value) as string;
    };
    const leftText = text(left);
    const rightText = text(right);
    const length = leftText.length + rightText.length;
    if (length > maxStringLength) throw tooLongString(length);
    return leftText.concat(rightText);
  },
};
