import type { ErrorObject, ValidateFunction } from 'ajv';
import { LRUCache } from 'lru-cache';
import type { InvalidParam } from './invalid-param';
import { compileInputsSchema } from './inputs-schema';

/**
 * Run inputs are checked against the pinned version's `spec.inputs` JSON Schema, compiled the way
 * the templates API checked it when the version was created. Versions are immutable, so a
 * validator compiled for a version id stays right forever; the cache is bounded only to keep
 * memory flat when many versions are run.
 */

const MAX_CACHED_VALIDATORS = 500;

export class InputSchemaCompileError extends Error {
  constructor(
    readonly versionId: string,
    readonly issues: InvalidParam[],
  ) {
    super(`the input schema of template version ${versionId} does not compile: ${issues.map((i) => i.message).join('; ')}`);
    this.name = 'InputSchemaCompileError';
  }
}

export class InputValidators {
  private readonly validators = new LRUCache<string, ValidateFunction>({ max: MAX_CACHED_VALIDATORS });

  /** The problems with `input`, empty when it is valid. */
  check(versionId: string, inputSchema: Record<string, unknown>, input: unknown): InvalidParam[] {
    const validate = this.validatorFor(versionId, inputSchema);
    if (validate(input)) return [];
    return (validate.errors ?? []).map(invalidParamOf);
  }

  private validatorFor(versionId: string, inputSchema: Record<string, unknown>): ValidateFunction {
    const cached = this.validators.get(versionId);
    if (cached) return cached;
    // Stored versions passed this check when they were created; failing now means the data drifted.
    const compiled = compileInputsSchema(inputSchema, ['spec', 'inputs']);
    if (!compiled.ok) throw new InputSchemaCompileError(versionId, compiled.issues);
    this.validators.set(versionId, compiled.validate);
    return compiled.validate;
  }
}

function invalidParamOf(error: ErrorObject): InvalidParam {
  const path: (string | number)[] = [
    'input',
    ...error.instancePath
      .split('/')
      .slice(1)
      .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment)),
  ];
  // Ajv reports a missing or extra property on its parent object; point at the property itself.
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const property = params.missingProperty ?? params.additionalProperty;
  if (property !== undefined) path.push(property);
  return { path, message: error.message ?? 'is invalid' };
}
