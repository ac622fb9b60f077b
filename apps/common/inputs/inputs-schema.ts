import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { InvalidParam } from './invalid-param';

/**
 * A spec's `inputs` is a JSON Schema (draft 2020-12, the dialect OpenAPI 3.1 uses, so the same
 * schema can be shown in the API docs) that run inputs are checked against.
 *
 * Each compile gets a fresh Ajv: an instance caches every schema it compiles and refuses a second
 * schema with the same `$id`, and templates are user input without bound in number.
 * Strict mode stays on, so unknown keywords ("propertes") are errors rather than silently ignored.
 */
export type InputsCompilation =
  | { ok: true; validate: ValidateFunction }
  | { ok: false; issues: InvalidParam[] };

export function compileInputsSchema(schema: unknown, path: (string | number)[]): InputsCompilation {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  try {
    if (!ajv.validateSchema(schema as object)) {
      const issues = (ajv.errors ?? []).map((error) => ({
        path: [...path, ...pointerToPath(error.instancePath)],
        message: `not a valid JSON Schema (2020-12): ${error.message ?? 'invalid'}`,
      }));
      return { ok: false, issues };
    }
    return { ok: true, validate: ajv.compile(schema as object) };
  } catch (error) {
    // Valid against the meta-schema but not compilable: an unknown "$schema" dialect, an
    // unresolvable $ref, an unknown format, a strict-mode finding.
    return { ok: false, issues: [{ path, message: `not a compilable JSON Schema (2020-12): ${(error as Error).message}` }] };
  }
}

function pointerToPath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}
