import { ApplicationFailure } from '@temporalio/activity';
import type { PrismaClient } from '@prisma/client';
import type { ValidateFunction } from 'ajv';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { compileInputsSchema } from '../apps/api/src/templates/inputs-schema';
import type { Spec } from '../workflows/spec/schema';
import { ChildTemplateFailure, type ChildTemplate, type ChildTemplateRequest } from '../workflows/engine/step-activity';

/** A pinned template version of one tenant, as a child run needs it. */
export interface TemplateVersionReader {
  find(tenantId: string, versionId: string): Promise<ChildTemplate | undefined>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Template versions read from PostgreSQL; another tenant's version is not found. */
export function prismaTemplateVersions(prisma: PrismaClient): TemplateVersionReader {
  return {
    async find(tenantId, versionId) {
      if (!UUID.test(versionId)) return undefined;
      const version = await prisma.templateVersion.findFirst({
        where: { id: versionId, template: { tenantId } },
        include: { template: { select: { id: true, name: true } } },
      });
      if (!version) return undefined;
      return { templateId: version.template.id, templateName: version.template.name, templateVersion: version.number, spec: version.spec as unknown as Spec };
    },
  };
}

/** Compiled `inputs` schemas by version id: versions are immutable, so one compile serves forever. */
const MAX_CACHED_VALIDATORS = 200;

/**
 * The activity a `template` step runs before its child run starts: loads the pinned version of the
 * run's tenant and checks the child's inputs against its `inputs` schema, as the API checks a run's.
 * A worker without a database (no DATABASE_URL) fails it as TemplatesUnavailable, which is retried.
 */
export function createLoadChildTemplate(logger: Logger, versions: TemplateVersionReader | undefined) {
  const validators = new LRUCache<string, ValidateFunction>({ max: MAX_CACHED_VALIDATORS });
  return async function loadChildTemplate(request: ChildTemplateRequest): Promise<ChildTemplate> {
    if (!versions) {
      throw ApplicationFailure.create({ type: ChildTemplateFailure.Unavailable, message: 'this worker has no template store (set DATABASE_URL)' });
    }
    const child = request.tenantId === undefined ? undefined : await versions.find(request.tenantId, request.versionId);
    if (!child) {
      throw ApplicationFailure.create({ type: ChildTemplateFailure.NotFound, message: `template version ${request.versionId} does not exist in this run's tenant`, nonRetryable: true });
    }
    let validate = validators.get(request.versionId);
    if (!validate) {
      const compiled = compileInputsSchema(child.spec.inputs, ['spec', 'inputs']);
      if (!compiled.ok) {
        logger.error({ versionId: request.versionId, issues: compiled.issues }, 'a stored template version has an inputs schema that does not compile');
        throw ApplicationFailure.create({ type: ChildTemplateFailure.InvalidInputs, message: `the inputs schema of ${child.templateName} v${child.templateVersion} does not compile`, nonRetryable: true });
      }
      validate = compiled.validate;
      validators.set(request.versionId, validate);
    }
    if (!validate(request.inputs)) {
      const problems = (validate.errors ?? []).map((error) => `inputs${error.instancePath.replace(/\//g, '.')}: ${error.message ?? 'is invalid'}`).join('; ');
      throw ApplicationFailure.create({
        type: ChildTemplateFailure.InvalidInputs,
        message: `the inputs do not fit ${child.templateName} v${child.templateVersion}: ${problems}`,
        nonRetryable: true,
      });
    }
    return child;
  };
}
