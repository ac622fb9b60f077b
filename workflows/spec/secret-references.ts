import type { ValuePath } from './expressions';

/**
 * Secret references: `{{ secrets.NAME }}` in a step's `with`. They are not expressions: the
 * workflow never sees a secret's value (its history would keep it), so it passes the strings
 * holding references through unrendered and the step's activity substitutes the values just
 * before use. Validation keeps them simple enough for that to be safe:
 *
 * - only `http` steps, and only in `url` (after the host), header values and `body`;
 * - a string holding a reference holds nothing else but plain text: no other expression could
 *   then smuggle a `{{ secrets.… }}` of its own (from a run input or a step's output) into it;
 * - `secrets` is read by nothing else: `{{ $uppercase(secrets.X) }}` would run in the workflow,
 *   which has no secrets.
 *
 * This module is deterministic and reads nothing: it runs in the workflow sandbox and the API.
 */

/** A secret's name, as stored and as referenced. */
export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

/** One reference inside a template: `{{ secrets.NAME }}`, spaces optional. */
const REFERENCE = /\{\{\s*secrets\.([A-Z][A-Z0-9_]{0,63})\s*\}\}/g;

/** The expression source of a reference (what sits between `{{` and `}}`). */
const REFERENCE_SOURCE = /^\s*secrets\.([A-Z][A-Z0-9_]{0,63})\s*$/;

/** The secret an expression source names when it is exactly `secrets.NAME`. */
export function secretNameOf(source: string): string | undefined {
  return REFERENCE_SOURCE.exec(source)?.[1];
}

/** The names referenced in `text`, in order, repeats included. */
export function secretReferencesIn(text: string): string[] {
  return [...text.matchAll(REFERENCE)].map((match) => match[1]!);
}

/** Replaces every reference in `text` by what `valueOf` answers for its name. */
export function substituteSecretReferences(text: string, valueOf: (name: string) => string): string {
  return text.replace(REFERENCE, (_reference, name: string) => valueOf(name));
}

/** Where a step's `with` holds strings with secret references: what the activity may substitute. */
export function secretReferencePaths(withValue: unknown): ValuePath[] {
  const paths: ValuePath[] = [];
  const visit = (value: unknown, path: ValuePath): void => {
    if (typeof value === 'string') {
      if (secretReferencesIn(value).length > 0) paths.push(path);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, [...path, i]));
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) visit(item, [...path, key]);
    }
  };
  visit(withValue, []);
  return paths;
}

/** Whether a path of an `http` step's `with` may hold secret references. */
export function mayHoldSecrets(stepType: string, path: ValuePath): boolean {
  if (stepType !== 'http') return false;
  const [field] = path;
  return field === 'body' || (field === 'headers' && path.length === 2) || (field === 'url' && path.length === 1);
}

/** A URL whose references all come after its host, so the egress policy judges the real destination. */
export function referencesAfterHost(url: string): boolean {
  const firstReference = url.search(REFERENCE);
  return firstReference === -1 || /^https?:\/\/[^/?#{}]+[/?#]/i.test(url.slice(0, firstReference));
}

type AstNode = Record<string, unknown>;

/**
 * Whether a JSONata syntax tree reads the run's `secrets` anywhere: `secrets…` starting a path, or
 * `$$.secrets…`. A field called `secrets` of some other value (`inputs.secrets`) is not a read.
 */
export function astReadsSecrets(ast: unknown): boolean {
  if (Array.isArray(ast)) return ast.some(astReadsSecrets);
  if (typeof ast !== 'object' || ast === null) return false;
  const node = ast as AstNode;
  if (node.type === 'path' && Array.isArray(node.steps)) {
    const [first, second] = node.steps as AstNode[];
    const rootVariable = first?.type === 'variable' && (first.value === '$' || first.value === '');
    if (isName(first, 'secrets') || (rootVariable && isName(second, 'secrets'))) return true;
  }
  return Object.values(node).some(astReadsSecrets);
}

function isName(node: AstNode | undefined, name: string): boolean {
  return node?.type === 'name' && node.value === name;
}
