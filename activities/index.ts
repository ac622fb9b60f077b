import type { PrismaClient } from '@prisma/client';
import type { Logger } from 'pino';
import { stepActivity } from './step-activity';
import { GuardedFetch, type EgressPolicy } from './egress';
import { createHttpStep } from './steps/http';
import { noopStep } from './steps/noop';
import { createNotifyApprovers } from './notify-approvers';
import { createNotificationActivities } from './notifications';
import type { SecretResolver } from './secrets';
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
  /**
   * Where notices are delivered from: the database holding channels, people, subscriptions and
   * deliveries, and the address people open runs at. A worker without a database cannot deliver
   * notices; their delivery workflows then fail, saying so, and runs are not affected.
   */
  notifications?: { prisma: PrismaClient; publicBaseUrl: string };
}

/**
 * Every activity the run workflow calls. Step activities are keyed by their step type's name:
 * a new step type is one module in `steps/` plus its `with` schema in workflows/spec/step-types.ts.
 */
export function createActivities(deps: ActivityDependencies) {
  const logger = deps.logger.child({ component: 'activities' });
  // One guarded fetch, hence one connection pool, for every HTTP step and notice this worker sends.
  const guardedFetch = new GuardedFetch(deps.egressPolicy);
  const steps = {
    http: stepActivity(logger, createHttpStep(guardedFetch), deps.secrets),
    noop: stepActivity(logger, noopStep),
  } satisfies Partial<Record<StepType, unknown>>;
  const notifications = createNotificationActivities({
    logger,
    prisma: deps.notifications?.prisma,
    secrets: deps.secrets,
    fetch: guardedFetch,
    egressPolicy: deps.egressPolicy,
    publicBaseUrl: deps.notifications?.publicBaseUrl ?? '',
  });
  return { ...steps, ...notifications, notifyApprovers: createNotifyApprovers(logger) };
}
