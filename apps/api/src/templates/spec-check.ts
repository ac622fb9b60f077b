import { createHash } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import { MAX_SPEC_BYTES, type Spec } from '../../../../workflows/spec/schema';
import { validateSpec } from '../../../../workflows/spec/validate';
import { problems } from '../http/problem';
import { compileInputsSchema } from '../../../common/inputs/inputs-schema';

/**
 * The API's gate for specs: size, then `validateSpec` (structure, DAG, expressions, step `with`),
 * then the inputs JSON Schema. Returns the parsed spec (defaults applied), which is what versions
 * store and hash. `path` prefixes every reported issue with where the spec sat in the body.
 */
export function checkSpec(raw: unknown, path: (string | number)[]): Spec {
  const bytes = Buffer.byteLength(JSON.stringify(raw) ?? '', 'utf8');
  if (bytes > MAX_SPEC_BYTES) {
    throw problems.payloadTooLarge(`the spec is ${bytes} bytes; specs may hold at most ${MAX_SPEC_BYTES}`);
  }
  const result = validateSpec(raw);
  if (!result.ok) {
    const invalidParams = result.issues.map((issue) => ({ ...issue, path: [...path, ...issue.path] }));
    throw problems.invalidSpec(describeIssues(invalidParams.length), invalidParams);
  }
  const inputs = compileInputsSchema(result.spec.inputs, [...path, 'inputs']);
  if (!inputs.ok) throw problems.invalidSpec('spec.inputs is not a usable JSON Schema', inputs.issues);
  return result.spec;
}

function describeIssues(count: number): string {
  return count === 1 ? 'the spec has 1 problem' : `the spec has ${count} problems`;
}

/** sha256 of the canonical JSON (sorted keys) of a parsed spec: equal specs, equal hashes. */
export function hashSpec(spec: Spec): string {
  return createHash('sha256').update(stringify(spec) ?? '').digest('hex');
}
