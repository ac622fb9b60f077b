import { ApplicationFailure } from '@temporalio/activity';
import { secretReferencesIn, substituteSecretReferences } from '../workflows/spec/secret-references';
import type { StepRunContext } from '../workflows/engine/step-activity';
import { StepErrorType } from './errors';

/**
 * Secrets reach a step here, in the activity, just before use: the workflow passes the strings
 * holding `{{ secrets.NAME }}` through unrendered, with their paths in `with` (StepRunContext).
 * What is substituted is remembered, so the activity's logs, errors and output can be redacted.
 */

/** Reads a tenant's secret; the worker backs it with the secret store (apps/common/secrets). */
export interface SecretResolver {
  /** The value, or undefined when the tenant has no such secret. */
  reveal(tenantId: string, name: string): Promise<string | undefined>;
}

/** What stands in for a secret's value wherever an activity would otherwise show it. */
export const REDACTED = '[secret]';

export interface SubstitutedSecrets {
  /** `with`, its secret references replaced by their values. */
  params: unknown;
  /** Replaces every substituted value in `text` by REDACTED; a plain function, safe to pass around. */
  redact: (text: string) => string;
  /** Whether any value was substituted (and so whether anything needs redacting). */
  readonly any: boolean;
}

const NOTHING_SUBSTITUTED: Omit<SubstitutedSecrets, 'params'> = { redact: (text) => text, any: false };

export async function substituteSecrets(
  params: unknown,
  run: StepRunContext | undefined,
  resolver: SecretResolver | undefined,
): Promise<SubstitutedSecrets> {
  const paths = run?.secretPaths ?? [];
  if (paths.length === 0) return { params, ...NOTHING_SUBSTITUTED };
  const names = new Set(paths.flatMap((path) => secretReferencesIn(stringAt(params, path) ?? '')));
  if (!resolver) {
    const needed = [...names].join(', ');
    const message = `this worker cannot read secrets (it has no DATABASE_URL or SECRETS_KEYS), needed for ${needed}`;
    throw secretFailure(StepErrorType.SecretsUnavailable, message, names);
  }
  if (run?.tenantId === undefined) {
    throw secretFailure(StepErrorType.SecretsUnavailable, 'the run carries no tenant, so its secrets cannot be read', names);
  }
  const values = new Map<string, string>();
  for (const name of names) {
    let value: string | undefined;
    try {
      value = await resolver.reveal(run.tenantId, name);
    } catch (error) {
      // Not retried: a key missing from SECRETS_KEYS or an altered row stays so until someone acts.
      throw secretFailure(StepErrorType.SecretUnreadable, `secret ${name} cannot be read: ${(error as Error).message}`, names);
    }
    if (value === undefined) throw secretFailure(StepErrorType.SecretNotFound, `secret ${name} does not exist`, names, name);
    values.set(name, value);
  }

  const substituted = structuredClone(params);
  for (const path of paths) {
    const text = stringAt(substituted, path);
    if (text !== undefined) setAt(substituted, path, substituteSecretReferences(text, (name) => values.get(name)!));
  }
  // Each value also as it reads inside JSON text (an excerpt of a body); longest first, so a value
  // containing another is replaced whole.
  const revealed = [...new Set([...values.values()].flatMap((value) => [value, JSON.stringify(value).slice(1, -1)]))]
    .filter((value) => value.length > 0)
    .sort((a, b) => b.length - a.length);
  return {
    params: substituted,
    any: revealed.length > 0,
    redact: (text) => revealed.reduce((redacted, value) => redacted.split(value).join(REDACTED), text),
  };
}

/** Every string in a JSON value with `redact` applied (for outputs and failure details). */
export function redactDeep(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, redact));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactDeep(item, redact)]));
  }
  return value;
}

function secretFailure(type: string, message: string, names: Set<string>, missing?: string): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: [{ secrets: [...names], ...(missing ? { secret: missing } : {}) }],
  });
}

function stringAt(value: unknown, path: readonly (string | number)[]): string | undefined {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return typeof current === 'string' ? current : undefined;
}

function setAt(value: unknown, path: readonly (string | number)[], text: string): void {
  const parent = path.slice(0, -1).reduce<unknown>((current, key) => (current as Record<string | number, unknown>)[key], value);
  (parent as Record<string | number, unknown>)[path[path.length - 1]!] = text;
}
