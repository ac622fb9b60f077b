import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Prisma, type PrismaClient } from '@prisma/client';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { failureStreaks } from '../../apps/common/dolphinscheduler/execution-stats';
import type { InspectionActivities, InspectionScope, TenantInspectionResult } from '../../workflows/dolphinscheduler/contract';
import type { SecretResolver } from '../secrets';
import {
  DolphinSchedulerError,
  DolphinSchedulerNotFoundError,
  type DolphinSchedulerClient,
  type DolphinSchedulerClientOptions,
  type WorkflowDefinitionDag,
} from './client';
import { definitionBindings, SUCCESSFUL_PUBLISH_STATUSES, type DefinitionBinding } from './bindings';
import { openTargetClient, TargetUnusableError } from './target-client';

/**
 * Inspection rules over what flowpilot published and what DolphinScheduler holds. Each finding has
 * a fingerprint (rule + subject: one row per thing found, however often it is found) and a state
 * hash (what exactly was found: when it changes, the finding is alerted again). A finding no
 * longer found is resolved; a rule that could not be evaluated (its target was down) leaves its
 * findings as they were. Every change worth an alert (a new state, a reopening) counts up the
 * finding's alert sequence, which makes the alert's event key new even when the state was seen before.
 */

export { INSPECTION_RULES, type InspectionRule } from '../../workflows/publishing/contract';
import type { InspectionRule } from '../../workflows/publishing/contract';

export type Severity = 'critical' | 'warning' | 'info';

/** What an alert carries: everything a person needs to act, no secret. */
export interface InspectionAlert {
  /** The same for every attempt at this alertable change of the finding (alertKey): receivers may deduplicate on it. */
  key: string;
  findingId: string;
  tenantId: string;
  rule: string;
  severity: string;
  summary: string;
  details: Record<string, unknown>;
  templateId: string | null;
  templateName: string | null;
  target: string | null;
  owner: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
}

/**
 * Delivers one alert through the tenant's notification channels (deliverInspectionAlert); rejects
 * when it could not yet, and the finding stays unalerted for the next inspection to try again.
 */
export type InspectionAlertSender = (alert: InspectionAlert) => Promise<void>;

export interface InspectionDependencies {
  logger: Logger;
  prisma?: PrismaClient;
  secrets?: SecretResolver;
  clientFor?: (options: DolphinSchedulerClientOptions) => DolphinSchedulerClient;
  requestTimeoutMs?: number;
  /** The worker's egress-guarded connection pool (activities/index.ts). */
  dispatcher?: Dispatcher;
  /** Where alerts go; without one, findings are stored and shown but no alert is sent. */
  sendAlert?: InspectionAlertSender;
  /** Failed executions in a row that make a finding. @default 3 */
  consecutiveFailureThreshold?: number;
}

interface Found {
  fingerprint: string;
  rule: InspectionRule;
  severity: Severity;
  templateId: string | null;
  target: string | null;
  summary: string;
  details: Record<string, unknown>;
  /** What makes this state of the finding this state (hashed). */
  state: unknown;
}

/** A rule evaluated for a target (or for the tenant, target null): its old findings there may be resolved. */
type Scope = `${InspectionRule}@${string}`;
const scopeOf = (rule: InspectionRule, target: string | null): Scope => `${rule}@${target ?? '*'}`;

const DS_RULES: InspectionRule[] = ['definition-drift', 'unconfirmed-dependency', 'schedule-online-definition-offline'];

export function createInspectionActivities(deps: InspectionDependencies): InspectionActivities {
  const logger = deps.logger.child({ component: 'inspections' });
  const threshold = deps.consecutiveFailureThreshold ?? 3;
  const database = (): PrismaClient => {
    if (deps.prisma) return deps.prisma;
    throw ApplicationFailure.create({ type: 'InspectionsUnavailable', message: 'this worker has no DATABASE_URL; inspections wait for a worker that has one' });
  };

  return {
    async listInspectionTenants(scope: InspectionScope): Promise<string[]> {
      if (scope.tenantId) return [scope.tenantId];
      const rows = await database().tenant.findMany({ select: { id: true }, orderBy: { createdAt: 'asc' } });
      return rows.map((row) => row.id);
    },

    async inspectTenant(tenantId: string): Promise<TenantInspectionResult> {
      const prisma = database();
      const found: Found[] = [];
      const evaluated = new Set<Scope>();
      const skipped: TenantInspectionResult['skipped'] = [];

      const latest = await definitionBindings(prisma, { tenantId });
      const published = await definitionBindings(prisma, { tenantId, statuses: SUCCESSFUL_PUBLISH_STATUSES });
      const latestAny = await latestPublishes(prisma, tenantId);

      // failed-publish: the latest publish of a template to a target failed.
      evaluated.add(scopeOf('failed-publish', null));
      for (const record of latestAny.filter((r) => r.status === 'failed')) {
        const error = (record.error ?? {}) as Record<string, unknown>;
        found.push({
          fingerprint: `failed-publish:${record.templateId}:${record.target}`,
          rule: 'failed-publish',
          severity: 'critical',
          templateId: record.templateId,
          target: record.target,
          summary: `publishing version ${record.templateVersion} to ${record.target} failed: ${typeof error.message === 'string' ? error.message : 'no message'}`.slice(0, 500),
          details: { publishId: record.id, templateVersion: record.templateVersion, action: record.action, error },
          state: record.id,
        });
      }

      // template-without-owner: published somewhere, owned by no one.
      evaluated.add(scopeOf('template-without-owner', null));
      const publishedTemplateIds = [...new Set(published.map((b) => b.templateId))];
      const ownerless = await prisma.template.findMany({
        where: { tenantId, id: { in: publishedTemplateIds }, owner: null, archived: false },
        select: { id: true, name: true },
      });
      for (const template of ownerless) {
        const targets = published.filter((b) => b.templateId === template.id).map((b) => b.target).sort();
        found.push({
          fingerprint: `template-without-owner:${template.id}`,
          rule: 'template-without-owner',
          severity: 'warning',
          templateId: template.id,
          target: null,
          summary: `template ${template.name} is published (${targets.join(', ')}) but has no owner`,
          details: { targets },
          state: 'ownerless',
        });
      }

      // consecutive-failures: from the execution cache.
      evaluated.add(scopeOf('consecutive-failures', null));
      for (const streak of await failureStreaks(prisma, { tenantId, minimum: threshold })) {
        found.push({
          fingerprint: `consecutive-failures:${streak.templateId}:${streak.target}`,
          rule: 'consecutive-failures',
          severity: 'critical',
          templateId: streak.templateId,
          target: streak.target,
          summary: `the last ${streak.failures} executions on ${streak.target} failed`,
          details: { failures: streak.failures, threshold, firstInstanceId: streak.firstInstanceId, lastInstanceId: streak.lastInstanceId },
          // The streak, not its length: it alerts once when it reaches the threshold, again only after it ends and a new one starts.
          state: streak.firstInstanceId,
        });
      }

      // The rules that read DolphinScheduler, per target.
      const definitionOwners = new Map(latest.map((b) => [`${b.target}/${b.definitionCode}`, b.templateId]));
      // Compared only where the latest publish succeeded: one running now is changing the definition,
      // one that failed is the failed-publish finding, not drift.
      const settled = new Set(latestAny.filter((r) => (SUCCESSFUL_PUBLISH_STATUSES as readonly string[]).includes(r.status)).map((r) => r.id));
      // Their earlier findings of these rules stay as they were (not resolved, not alerted again) until the publish settles.
      const unsettled = new Set(published.filter((b) => !settled.has(b.publishId)).map((b) => `${b.templateId}:${b.target}`));
      for (const [target, bindings] of groupBy(published.filter((b) => settled.has(b.publishId)), (b) => b.target)) {
        let client: DolphinSchedulerClient;
        try {
          ({ client } = await openTargetClient({ ...deps, prisma, logger }, tenantId, target));
        } catch (error) {
          if (!(error instanceof TargetUnusableError)) throw error;
          for (const rule of DS_RULES) skipped.push({ rule, target, error: error.message });
          continue;
        }
        try {
          for (const binding of bindings) {
            found.push(...(await inspectDefinition(client, binding, definitionOwners)));
          }
          for (const rule of DS_RULES) evaluated.add(scopeOf(rule, target));
        } catch (error) {
          if (!(error instanceof DolphinSchedulerError)) throw error;
          for (const rule of DS_RULES) skipped.push({ rule, target, error: error.message });
          logger.warn({ tenantId, target, err: error.toJSON() }, 'inspection: target could not be read; its findings stay as they were');
        }
      }

      const owners = await templateOwners(prisma, tenantId, found);
      const result = await storeFindings(prisma, tenantId, found, evaluated, owners, unsettled);
      logger.info({ tenantId, ...result, toAlert: result.toAlert.length, skipped: skipped.length }, 'inspection done');
      return { tenantId, ...result, skipped };
    },

    async alertFinding(findingId: string): Promise<boolean> {
      const prisma = database();
      const finding = await prisma.inspectionFinding.findUnique({ where: { id: findingId } });
      if (!finding || finding.status !== 'open' || finding.alertedHash === finding.stateHash) return false;
      if (!deps.sendAlert) {
        throw ApplicationFailure.create({ type: 'AlertsUnavailable', message: 'no alert channel is wired on this worker', nonRetryable: true });
      }
      const template = finding.templateId ? await prisma.template.findUnique({ where: { id: finding.templateId }, select: { name: true } }) : null;
      await deps.sendAlert({
        key: alertKey(finding),
        findingId: finding.id,
        tenantId: finding.tenantId,
        rule: finding.rule,
        severity: finding.severity,
        summary: finding.summary,
        details: finding.details as Record<string, unknown>,
        templateId: finding.templateId,
        templateName: template?.name ?? null,
        target: finding.target,
        owner: finding.owner,
        firstSeenAt: finding.firstSeenAt.toISOString(),
        lastSeenAt: finding.lastSeenAt.toISOString(),
      });
      // Only the change that was sent counts as alerted: one that came meanwhile is alerted next time.
      const { count } = await prisma.inspectionFinding.updateMany({
        where: { id: finding.id, alertSequence: finding.alertSequence },
        data: { alertedHash: finding.stateHash, alertedAt: new Date() },
      });
      logger.info({ findingId, rule: finding.rule, tenantId: finding.tenantId }, 'inspection alert sent');
      return count === 1;
    },
  };
}

/**
 * The event key of a finding's alert: one per alertable change, so the deliveries recorded for an
 * earlier alert of the same state (A, then B, then A again; or resolved and reopened) do not
 * swallow this one. Sequence 0 (never changed since found) keeps the key alerts had before the
 * sequence existed, so a finding alerted part-way then is not sent again where it arrived.
 */
export function alertKey(finding: { id: string; stateHash: string; alertSequence: number }): string {
  const key = `inspection:${finding.id}:${finding.stateHash}`;
  return finding.alertSequence === 0 ? key : `${key}:${finding.alertSequence}`;
}

/** Drift, dependencies and schedules of one published definition; DolphinScheduler failures other than "not found" propagate. */
async function inspectDefinition(client: DolphinSchedulerClient, binding: DefinitionBinding, definitionOwners: Map<string, string>): Promise<Found[]> {
  const subject = `${binding.templateId}:${binding.target}`;
  let dag: WorkflowDefinitionDag;
  try {
    dag = await client.getDefinition(binding.projectCode, binding.definitionCode);
  } catch (error) {
    if (!(error instanceof DolphinSchedulerNotFoundError)) throw error;
    return [
      {
        fingerprint: `definition-drift:${subject}`,
        rule: 'definition-drift',
        severity: 'critical',
        templateId: binding.templateId,
        target: binding.target,
        summary: `definition ${binding.definitionCode} no longer exists on ${binding.target}`,
        details: { definitionCode: binding.definitionCode, recordedVersion: binding.definitionVersion, publishId: binding.publishId, deleted: true },
        state: 'deleted',
      },
    ];
  }
  const found: Found[] = [];
  const recordedCodes = Object.values(binding.taskCodes).map(Number).sort();
  const currentCodes = dag.tasks.map((task) => task.code).sort();
  const added = currentCodes.filter((code) => !recordedCodes.includes(code));
  const removed = recordedCodes.filter((code) => !currentCodes.includes(code));
  const expectedRelease = binding.status === 'offline' ? 'OFFLINE' : 'ONLINE';
  const differences: string[] = [];
  if (binding.definitionVersion !== null && dag.definition.version !== binding.definitionVersion) {
    differences.push(`version ${dag.definition.version} instead of ${binding.definitionVersion}`);
  }
  if (added.length > 0) differences.push(`tasks added: ${added.join(', ')}`);
  if (removed.length > 0) differences.push(`tasks removed: ${removed.join(', ')}`);
  if (dag.definition.releaseState && dag.definition.releaseState !== expectedRelease) {
    differences.push(`${dag.definition.releaseState} instead of ${expectedRelease}`);
  }
  if (differences.length > 0) {
    found.push({
      fingerprint: `definition-drift:${subject}`,
      rule: 'definition-drift',
      severity: 'critical',
      templateId: binding.templateId,
      target: binding.target,
      summary: `definition ${dag.definition.name} on ${binding.target} changed outside flowpilot: ${differences.join('; ')}`.slice(0, 500),
      details: {
        definitionCode: binding.definitionCode,
        recordedVersion: binding.definitionVersion,
        currentVersion: dag.definition.version,
        tasksAdded: added,
        tasksRemoved: removed,
        releaseState: dag.definition.releaseState,
        expectedReleaseState: expectedRelease,
        publishId: binding.publishId,
      },
      state: { version: dag.definition.version, added, removed, release: dag.definition.releaseState },
    });
  }

  for (const dependency of workflowDependencies(dag)) {
    const otherTemplate = definitionOwners.get(`${binding.target}/${dependency.definitionCode}`);
    if (!otherTemplate || otherTemplate === binding.templateId) continue;
    found.push({
      fingerprint: `unconfirmed-dependency:${subject}:${otherTemplate}`,
      rule: 'unconfirmed-dependency',
      severity: 'warning',
      templateId: binding.templateId,
      target: binding.target,
      summary: `task ${dependency.taskName} of ${dag.definition.name} on ${binding.target} depends on the workflow of another template; acknowledge the finding to confirm it`,
      details: { dependsOnTemplateId: otherTemplate, dependsOnDefinitionCode: dependency.definitionCode, task: dependency.taskName, taskType: dependency.taskType },
      state: { definitionCode: dependency.definitionCode, task: dependency.taskName },
    });
  }

  const definitionOffline = dag.definition.releaseState === 'OFFLINE';
  if (definitionOffline) {
    const online = (await client.listSchedules(binding.projectCode, binding.definitionCode)).filter((s) => s.releaseState === 'ONLINE');
    if (online.length > 0) {
      found.push({
        fingerprint: `schedule-online-definition-offline:${subject}`,
        rule: 'schedule-online-definition-offline',
        severity: 'warning',
        templateId: binding.templateId,
        target: binding.target,
        summary: `schedule ${online.map((s) => s.id).join(', ')} is online for offline definition ${dag.definition.name} on ${binding.target}: it fires and fails`,
        details: { definitionCode: binding.definitionCode, scheduleIds: online.map((s) => s.id), crontabs: online.map((s) => s.crontab) },
        state: online.map((s) => s.id).sort(),
      });
    }
  }
  return found;
}

/**
 * Other workflows a definition's tasks run or wait for: SUB_PROCESS (`processDefinitionCode`) and
 * DEPENDENT (`dependence.dependTaskList[].dependItemList[].definitionCode`).
 */
export function workflowDependencies(dag: WorkflowDefinitionDag): { taskName: string; taskType: string; definitionCode: number }[] {
  const found: { taskName: string; taskType: string; definitionCode: number }[] = [];
  for (const task of dag.tasks) {
    const params = task.taskParams as Record<string, unknown>;
    if (task.taskType === 'SUB_PROCESS') {
      const code = Number(params.processDefinitionCode ?? params.workflowDefinitionCode);
      if (Number.isSafeInteger(code) && code > 0) found.push({ taskName: task.name, taskType: task.taskType, definitionCode: code });
    }
    if (task.taskType === 'DEPENDENT') {
      const dependence = params.dependence as { dependTaskList?: unknown } | undefined;
      const groups = Array.isArray(dependence?.dependTaskList) ? (dependence.dependTaskList as { dependItemList?: unknown }[]) : [];
      for (const group of groups) {
        const items = Array.isArray(group?.dependItemList) ? (group.dependItemList as { definitionCode?: unknown }[]) : [];
        for (const item of items) {
          const code = Number(item?.definitionCode);
          if (Number.isSafeInteger(code) && code > 0) found.push({ taskName: task.name, taskType: task.taskType, definitionCode: code });
        }
      }
    }
  }
  return found;
}

interface LatestPublish {
  id: string;
  templateId: string;
  target: string;
  templateVersion: number;
  action: string;
  status: string;
  error: unknown;
}

/** The latest publish record of each template on each target (whatever it did). */
async function latestPublishes(prisma: PrismaClient, tenantId: string): Promise<LatestPublish[]> {
  return prisma.$queryRaw<LatestPublish[]>`
    SELECT DISTINCT ON ("templateId", "target") "id", "templateId", "target", "templateVersion", "action", "status", "error"
    FROM "Publish" WHERE "tenantId" = ${tenantId}::uuid
    ORDER BY "templateId", "target", "createdAt" DESC, "id" DESC`;
}

async function templateOwners(prisma: PrismaClient, tenantId: string, found: Found[]): Promise<Map<string, string | null>> {
  const ids = [...new Set(found.map((f) => f.templateId).filter((id): id is string => id !== null))];
  const rows = await prisma.template.findMany({ where: { tenantId, id: { in: ids } }, select: { id: true, owner: true } });
  return new Map(rows.map((row) => [row.id, row.owner]));
}

/** Inserts, updates and resolves the tenant's findings; answers the open ones whose current state was not alerted. */
async function storeFindings(
  prisma: PrismaClient,
  tenantId: string,
  found: Found[],
  evaluated: Set<Scope>,
  owners: Map<string, string | null>,
  /** `template:target` pairs whose definition rules were not evaluated (a publish is running or failed). */
  unsettled: Set<string>,
): Promise<Omit<TenantInspectionResult, 'tenantId' | 'skipped'>> {
  const now = new Date();
  let opened = 0;
  let changed = 0;
  const existing = new Map(
    (await prisma.inspectionFinding.findMany({ where: { tenantId } })).map((finding) => [finding.fingerprint, finding]),
  );
  for (const finding of found) {
    const stateHash = createHash('sha256').update(JSON.stringify(finding.state)).digest('hex').slice(0, 32);
    const fields = {
      rule: finding.rule,
      severity: finding.severity,
      templateId: finding.templateId,
      target: finding.target,
      owner: finding.templateId ? (owners.get(finding.templateId) ?? null) : null,
      summary: finding.summary,
      details: finding.details as Prisma.InputJsonObject,
      stateHash,
      lastSeenAt: now,
    };
    const before = existing.get(finding.fingerprint);
    if (!before) {
      await prisma.inspectionFinding.create({ data: { tenantId, fingerprint: finding.fingerprint, ...fields, firstSeenAt: now } });
      opened++;
    } else if (before.status === 'resolved') {
      // Found again after it cleared: alerted again, even in the state it was alerted in before.
      await prisma.inspectionFinding.update({
        where: { id: before.id },
        data: {
          ...fields,
          status: 'open',
          firstSeenAt: now,
          resolvedAt: null,
          acknowledgedBy: null,
          acknowledgedAt: null,
          alertedHash: null,
          alertSequence: { increment: 1 },
        },
      });
      opened++;
    } else if (before.stateHash !== stateHash) {
      // Something else is found now: an acknowledgement covered what was found before, not this.
      await prisma.inspectionFinding.update({
        where: { id: before.id },
        data: { ...fields, status: 'open', acknowledgedBy: null, acknowledgedAt: null, alertSequence: { increment: 1 } },
      });
      changed++;
    } else {
      await prisma.inspectionFinding.update({ where: { id: before.id }, data: fields });
    }
  }
  const still = new Set(found.map((f) => f.fingerprint));
  const gone = [...existing.values()].filter((f) => {
    if (f.status === 'resolved' || still.has(f.fingerprint)) return false;
    const definitionRule = DS_RULES.includes(f.rule as InspectionRule);
    if (definitionRule && unsettled.has(`${f.templateId}:${f.target}`)) return false;
    return evaluated.has(scopeOf(f.rule as InspectionRule, definitionRule ? f.target : null));
  });
  if (gone.length > 0) {
    await prisma.inspectionFinding.updateMany({ where: { id: { in: gone.map((f) => f.id) } }, data: { status: 'resolved', resolvedAt: now } });
  }
  const toAlert = await prisma.$queryRaw<{ id: string }[]>`
    SELECT "id" FROM "InspectionFinding"
    WHERE "tenantId" = ${tenantId}::uuid AND "status" = 'open' AND "alertedHash" IS DISTINCT FROM "stateHash"
    ORDER BY "firstSeenAt"`;
  return { opened, changed, resolved: gone.length, toAlert: toAlert.map((row) => row.id) };
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
