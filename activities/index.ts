import type { PrismaClient } from '@prisma/client';
import type { Logger } from 'pino';
import { createPublishActivities, type PublishActivityDependencies } from './dolphinscheduler/publish-activities';
import { createHistoryActivities } from './dolphinscheduler/history';
import { createInspectionActivities, type InspectionDependencies } from './dolphinscheduler/inspections';
import { stepActivity } from './step-activity';
import { GuardedFetch, type EgressPolicy } from './egress';
import { createGuardedDispatcher } from './egress/guarded-dispatcher';
import { createHttpStep } from './steps/http';
import { noopStep } from './steps/noop';
import { shellStep } from './steps/shell';
import { createNotifyApprovers } from './notify-approvers';
import { createNotificationActivities } from './notifications';
import type { SecretResolver } from './secrets';
import { createLoadChildTemplate, prismaTemplateVersions, type TemplateVersionReader } from './template-runs';
import { createScheduledRunActivities } from './scheduled-runs';
import type { ArtifactWriter } from './step-activity';
import type { StepLogSink } from './step-logs/step-log';
import { createRetentionActivities, type RetentionDependencies } from './retention';
import type { ActivityStepType } from '../workflows/spec/step-types';

export interface ActivityDependencies {
  logger: Logger;
  /** Where HTTP steps may connect; the worker builds it from its configuration (EGRESS_*). */
  egressPolicy: EgressPolicy;
  /**
   * Where steps read the secrets they reference; a worker without a secret store (no DATABASE_URL
   * or SECRETS_KEYS) leaves it out, and a step referencing a secret then fails as SecretsUnavailable.
   */
  secrets?: SecretResolver;
  /** Where `template` steps load the versions they run; by default from `prisma`; without either they fail as TemplatesUnavailable. */
  templates?: TemplateVersionReader;
  /**
   * The database (DATABASE_URL) publishing reads templates and targets from and records publishes
   * in, schedules' firings read templates from, and notices are delivered from (channels, people,
   * subscriptions, deliveries); without it those wait or fail as unavailable, and runs are not affected.
   */
  prisma?: PrismaClient;
  /** Where people open runs (PUBLIC_BASE_URL): the links in notices start with it. */
  notifications?: { publicBaseUrl: string };
  /** Publishing's DolphinScheduler client settings (tests shorten timeouts). */
  publishing?: Pick<PublishActivityDependencies, 'clientFor' | 'requestTimeoutMs'>;
  /**
   * When failures make a finding. Alerts always go through the tenant's channels subscribed to
   * `inspection_finding` (with `prisma`); the history sync and inspections use `publishing`'s client settings.
   */
  inspections?: Pick<InspectionDependencies, 'consecutiveFailureThreshold'>;
  /** Where steps' logs go (the database); a worker without one keeps no step logs. */
  stepLogs?: StepLogSink;
  /** Where outputs over the inline limit are stored; without it they are replaced by their size. */
  artifacts?: ArtifactWriter;
  /** What the retention cleanup needs; a worker without a database does not run it. */
  retention?: RetentionDependencies;
}

/**
 * Every activity the run workflow calls. Step activities are keyed by their step type's name:
 * a new step type is one module in `steps/` plus its `with` schema in workflows/spec/step-types.ts.
 */
export function createActivities(deps: ActivityDependencies) {
  const logger = deps.logger.child({ component: 'activities' });
  const services = { secrets: deps.secrets, stepLogs: deps.stepLogs, artifacts: deps.artifacts };
  // One guarded fetch, hence one connection pool, for every HTTP step and notice this worker sends.
  const guardedFetch = new GuardedFetch(deps.egressPolicy);
  const steps = {
    http: stepActivity(logger, createHttpStep(guardedFetch), services),
    // No secrets: a noop's output is its `with`, which would carry them into the history.
    noop: stepActivity(logger, noopStep, { stepLogs: deps.stepLogs, artifacts: deps.artifacts }),
    shell: stepActivity(logger, shellStep),
  } satisfies Record<ActivityStepType, unknown>;
  const { deliverInspectionAlert, startPublishNotice, ...notifications } = createNotificationActivities({
    logger,
    prisma: deps.prisma,
    secrets: deps.secrets,
    fetch: guardedFetch,
    egressPolicy: deps.egressPolicy,
    publicBaseUrl: deps.notifications?.publicBaseUrl ?? '',
  });
  // DolphinScheduler calls obey the egress policy too: a target's base URL cannot reach a denied address.
  const dolphinScheduler = {
    logger,
    prisma: deps.prisma,
    secrets: deps.secrets,
    dispatcher: createGuardedDispatcher(deps.egressPolicy),
    ...deps.publishing,
  };
  const publishing = createPublishActivities({ ...dolphinScheduler, ...(deps.prisma ? { startPublishNotice } : {}) });
  const history = createHistoryActivities(dolphinScheduler);
  // Findings are alerted through the tenant's notification channels, the one way alerts are sent.
  const inspections = createInspectionActivities({
    ...dolphinScheduler,
    ...(deps.prisma ? { sendAlert: deliverInspectionAlert } : {}),
    ...deps.inspections,
  });
  return {
    ...steps,
    ...notifications,
    notifyApprovers: createNotifyApprovers(logger),
    loadChildTemplate: createLoadChildTemplate(logger, deps.templates ?? (deps.prisma ? prismaTemplateVersions(deps.prisma) : undefined)),
    ...publishing,
    ...history,
    ...inspections,
    ...createScheduledRunActivities({ logger, database: deps.prisma }),
    ...(deps.retention ? createRetentionActivities(deps.retention) : {}),
  };
}
