import { ApplicationFailure } from '@temporalio/activity';
import type { PrismaClient } from '@prisma/client';
import type { Logger } from 'pino';
import { InputValidators } from '../apps/common/inputs/input-validation';
import type { InvalidParam } from '../apps/common/inputs/invalid-param';
import type { Spec } from '../workflows/spec/schema';
import { publishedOnlySteps } from '../workflows/spec/step-types';
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

/**
 * The activity a `template` step runs before its child run starts: loads the pinned version of the
 * run's tenant and checks the child's inputs against its `inputs` schema, with the module the API
 * checks a run's inputs with. Published-only steps (shell) are refused as a run of them is at start.
 * A worker without a database (no DATABASE_URL) fails it as TemplatesUnavailable, which is retried.
 */
export function createLoadChildTemplate(logger: Logger, versions: TemplateVersionReader | undefined) {
  const validators = new InputValidators();
  return async function loadChildTemplate(request: ChildTemplateRequest): Promise<ChildTemplate> {
    if (!versions) {
      throw ApplicationFailure.create({ type: ChildTemplateFailure.Unavailable, message: 'this worker has no template store (set DATABASE_URL)' });
    }
    const child = request.tenantId === undefined ? undefined : await versions.find(request.tenantId, request.versionId);
    if (!child) {
      throw ApplicationFailure.create({ type: ChildTemplateFailure.NotFound, message: `template version ${request.versionId} does not exist in this run's tenant`, nonRetryable: true });
    }
    const refuse = (message: string) => ApplicationFailure.create({ type: ChildTemplateFailure.InvalidInputs, message, nonRetryable: true });
    const publishedOnly = publishedOnlySteps(child.spec.steps);
    if (publishedOnly.length > 0) {
      throw refuse(`${child.templateName} v${child.templateVersion} has steps only DolphinScheduler runs (${publishedOnly.map((step) => step.id).join(', ')})`);
    }
    let problems: InvalidParam[];
    try {
      problems = validators.check(request.versionId, child.spec.inputs, request.inputs);
    } catch (error) {
      logger.error({ err: error, versionId: request.versionId }, 'a stored template version has an inputs schema that does not compile');
      throw refuse(`the inputs schema of ${child.templateName} v${child.templateVersion} does not compile`);
    }
    if (problems.length > 0) {
      const listed = problems.map((problem) => `${problem.path.map(String).join('.').replace(/^input/, 'inputs')}: ${problem.message}`).join('; ');
      throw refuse(`the inputs do not fit ${child.templateName} v${child.templateVersion}: ${listed}`);
    }
    return child;
  };
}
