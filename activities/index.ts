import type { Logger } from 'pino';
import { stepActivity } from './step-activity';
import { GuardedFetch, type EgressPolicy } from './egress';
import { createHttpStep } from './steps/http';
import { noopStep } from './steps/noop';
import { createNotifyApprovers } from './notify-approvers';
import type { SecretResolver } from './secrets';
import { createLoadChildTemplate, type TemplateVersionReader } from './template-runs';
import type { StepType } from '../workflows/spec/step-types';

export interface ActivityDependencies {
  logger: Logger;
  /** Where HTTP steps may connect; the worker builds it from its configuration (EGRESS_*). */
  egressPolicy: EgressPolicy;
  /**
   * Where steps read the secrets they reference; a worker without a secret store (no DATABASE_URL
   * or SECRETS_KEYS) leaves it out, and a step referencing a secret then fails as SecretsUnavailable.
   */
  secrets?: SecretResolver;
  /** Where `template` steps load the versions they run; without it (no DATABASE_URL) they fail as TemplatesUnavailable. */
  templates?: TemplateVersionReader;
}

/**
 * Every activity the run workflow calls. Step activities are keyed by their step type's name:
 * a new step type is one module in `steps/` plus its `with` schema in workflows/spec/step-types.ts.
 */
export function createActivities(deps: ActivityDependencies) {
  const logger = deps.logger.child({ component: 'activities' });
  const steps = {
    // One guarded fetch, hence one connection pool, for every HTTP step this worker runs.
    http: stepActivity(logger, createHttpStep(new GuardedFetch(deps.egressPolicy)), deps.secrets),
    noop: stepActivity(logger, noopStep),
  } satisfies Partial<Record<StepType, unknown>>;
  return { ...steps, notifyApprovers: createNotifyApprovers(logger), loadChildTemplate: createLoadChildTemplate(logger, deps.templates) };
}

export type RunActivities = ReturnType<typeof createActivities>;
