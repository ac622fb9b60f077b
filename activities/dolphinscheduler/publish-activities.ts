import { ApplicationFailure, Context } from '@temporalio/activity';
import type { PrismaClient, Publish } from '@prisma/client';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Dialect, PublishDecision } from '../../workflows/publishing/contract';
import { mapDefinition, mappingProblems, taskCodeKeys, type MappedDefinition } from '../../workflows/publishing/mapping';
import { PublishScheduleSchema, type PublishSchedule } from '../../workflows/publishing/schedule';
import { SpecSchema } from '../../workflows/spec/schema';
import { rolesGranting } from '../../apps/common/auth/roles';
import { createNotifyApprovers } from '../notify-approvers';
import type { SecretResolver } from '../secrets';
import {
  createDolphinSchedulerClient,
  DolphinSchedulerError,
  DolphinSchedulerNameExistsError,
  DolphinSchedulerNotFoundError,
  toApplicationFailure,
  type DolphinSchedulerClient,
  type DolphinSchedulerClientOptions,
  type ScheduleUpdate,
} from './client';
import { PublishRecords, stepsOf, taskCodesOf, type PublishErrorRecord, type PublishStepName, type PublishStepRecord } from './publish-records';

/**
 * The publish workflow's activities: each does one step against DolphinScheduler and records it in
 * the publish record. Every one is safe to run again (it looks before it writes), so a retry or a
 * worker crash part-way resumes where it stopped. The target's token is read here, from the
 * tenant's secrets, and goes no further than the client's `token` header: not into a log line, a
 * failure, the record or the workflow's history.
 */

import type { PublishNotice } from '../../workflows/notifications/publish-notice';

export type { PublishNotice };

export interface PublishActivityDependencies {
  logger: Logger;
  /** The database of templates, targets and publish records; publishing waits for a worker that has it. */
  prisma?: PrismaClient;
  /** Where target tokens are read; publishing needs it. */
  secrets?: SecretResolver;
  /** Builds a target's client; tests may shorten its timeouts. */
  clientFor?: (options: DolphinSchedulerClientOptions) => DolphinSchedulerClient;
  /** Per-call timeout of DolphinScheduler requests. */
  requestTimeoutMs?: number;
  /** The connection pool calls go through: the worker's egress-guarded one, so a target cannot point the worker at a denied address. */
  dispatcher?: Dispatcher;
  /** Tells people of a publish waiting for approval or failed (the tenant's channels); without it, a log line. */
  startPublishNotice?: PublishNoticeStarter;
}

/**
 * Starts a publish notice's durable delivery (workflows/notifications/send-publish-notice.ts);
 * resolves once it is started, rejects when it could not be (the calling activity is then retried).
 */
export type PublishNoticeStarter = (notice: PublishNotice) => Promise<void>;

export const PublishErrorType = {
  /** The worker has no database or no secret store: retried until a worker that has them takes it. */
  PublishingUnavailable: 'PublishingUnavailable',
  TargetNotFound: 'TargetNotFound',
  TargetTokenMissing: 'TargetTokenMissing',
  UnmappableSpec: 'UnmappableSpec',
  NeverPublished: 'NeverPublished',
} as const;

/** What the workflow passes the failure handler: the last failure, as recorded. */
export type PublishFailure = PublishErrorRecord;

interface Target {
  name: string;
  baseUrl: string;
  tokenSecret: string;
  projectName: string;
  tenantCode: string;
  workerGroup: string;
  dialect: Dialect;
}

interface Session {
  record: Publish;
  target: Target;
  client: DolphinSchedulerClient;
}

export function createPublishActivities(deps: PublishActivityDependencies) {
  const logger = deps.logger.child({ component: 'publishing' });
  const build = deps.clientFor ?? createDolphinSchedulerClient;
  const notifyApprovers = createNotifyApprovers(logger);

  function database(): { prisma: PrismaClient; records: PublishRecords } {
    if (!deps.prisma) {
      throw ApplicationFailure.create({ type: PublishErrorType.PublishingUnavailable, message: 'this worker has no DATABASE_URL; publishing waits for a worker that has one' });
    }
    return { prisma: deps.prisma, records: new PublishRecords(deps.prisma) };
  }

  async function session(publishId: string): Promise<Session> {
    const { prisma, records } = database();
    const record = await records.get(publishId);
    const row = await prisma.dolphinSchedulerTarget.findUnique({ where: { tenantId_name: { tenantId: record.tenantId, name: record.target } } });
    if (!row) throw nonRetryable(PublishErrorType.TargetNotFound, `target ${record.target} no longer exists`);
    const target: Target = { ...row, dialect: row.dialect as Dialect };
    if (!deps.secrets) {
      throw ApplicationFailure.create({ type: PublishErrorType.PublishingUnavailable, message: 'this worker has no secret store (SECRETS_KEYS); publishing waits for a worker that has one' });
    }
    const token = await deps.secrets.reveal(record.tenantId, target.tokenSecret);
    if (token === undefined) {
      throw nonRetryable(PublishErrorType.TargetTokenMissing, `target ${target.name}'s token secret ${target.tokenSecret} does not exist`);
    }
    const client = build({
      baseUrl: target.baseUrl,
      token,
      dialect: target.dialect,
      ...(deps.requestTimeoutMs ? { timeoutMs: deps.requestTimeoutMs } : {}),
      ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
      logger: logger.child({ publishId, target: target.name }),
    });
    return { record, target, client };
  }

  /**
   * Runs a DolphinScheduler step: its typed errors become Temporal failures that say whether to retry.
   * It heartbeats while it runs, so a step whose worker died is retried by another worker within the
   * heartbeat timeout (workflows/publishing/publish-queue.ts), not after the whole start-to-close timeout.
   */
  async function step<T>(publishId: string, run: (session: Session, signal: AbortSignal) => Promise<T>): Promise<T> {
    const context = Context.current();
    const beating = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      const s = await session(publishId);
      return await run(s, context.cancellationSignal);
    } catch (error) {
      if (error instanceof DolphinSchedulerError) {
        logger.warn({ publishId, err: error.toJSON() }, 'DolphinScheduler call failed');
        throw toApplicationFailure(error);
      }
      throw error;
    } finally {
      clearInterval(beating);
    }
  }

  return {
    /**
     * Marks the publish running; false when it already ended (a request delivered twice, say
     * across a continue-as-new), which the workflow then leaves alone. A retry of this activity
     * finds it running and goes on.
     */
    async publishStarted(publishId: string): Promise<boolean> {
      const { prisma } = database();
      const { count } = await prisma.publish.updateMany({
        where: { id: publishId, status: { in: ['queued', 'awaiting_approval', 'running'] } },
        data: { status: 'running' },
      });
      return count === 1;
    },

    /**
     * The approval notice, to every role that may approve a publish (PUBLISH_APPROVER_ROLES). Through the tenant's channels (those
     * subscribed to publish_approval_requested, and every channel that reaches an approver) when
     * the worker has them, otherwise the log line approval steps write.
     */
    async publishApprovalRequested(publishId: string, deadline: string): Promise<void> {
      const { prisma, records } = database();
      const record = await records.get(publishId);
      const template = await prisma.template.findUniqueOrThrow({ where: { id: record.templateId } });
      if (deps.startPublishNotice) {
        await deps.startPublishNotice({
          ...publishNoticeOf(record, template.name, 'publish_approval_requested'),
          approverRoles: [...PUBLISH_APPROVER_ROLES],
          deadline,
        });
        return;
      }
      await notifyApprovers({
        stepId: `publish:${publishId}`,
        templateName: template.name,
        templateVersion: record.templateVersion,
        startedBy: record.requestedBy,
        users: [],
        roles: [...PUBLISH_APPROVER_ROLES],
        required: 1,
        message: `publish version ${record.templateVersion} of ${template.name} to ${record.target}`,
        deadline,
      });
    },

    async publishDecided(publishId: string, decision: PublishDecision): Promise<void> {
      const { records } = database();
      const record = await records.get(publishId);
      const approvals = [...((record.approvals as unknown as PublishDecision[]) ?? []), decision];
      // The step before the status: a reader that sees `rejected` sees why.
      await records.appendStep(publishId, { step: 'approval', status: decision.decision === 'approved' ? 'succeeded' : 'failed', detail: { ...decision } });
      await records.update(publishId, {
        approvals: approvals as object[],
        ...(decision.decision === 'rejected' ? { status: 'rejected', finishedAt: new Date() } : {}),
      });
    },

    async publishEnsureProject(publishId: string): Promise<number> {
      return step(publishId, async ({ client, target }, signal) => {
        const { records } = database();
        let project = await client.findProjectByName(target.projectName, { signal });
        let created = false;
        if (!project) {
          try {
            project = await client.createProject({ name: target.projectName, description: 'Published by flowpilot' }, { signal });
            created = true;
          } catch (error) {
            // Someone created it between the lookup and the create.
            if (!(error instanceof DolphinSchedulerNameExistsError)) throw error;
            project = await client.findProjectByName(target.projectName, { signal });
            if (!project) throw error;
          }
        }
        await records.update(publishId, { projectCode: BigInt(project.code) });
        await records.appendStep(publishId, { step: 'project', status: 'succeeded', detail: { projectCode: project.code, name: project.name, created } });
        return project.code;
      });
    },

    /**
     * Creates the definition, or updates the one published before (offline first when online).
     * Task codes are kept by step id: from this publish's record when it is resumed, else from the
     * definition's tasks (named by step id), else new ones from the server, stored before use.
     */
    async publishWriteDefinition(publishId: string): Promise<{ definitionCode: number; version: number }> {
      return step(publishId, async ({ client, target, record }, signal) => {
        const { prisma, records } = database();
        const projectCode = Number(record.projectCode);
        const version = await prisma.templateVersion.findUniqueOrThrow({
          where: { templateId_number: { templateId: record.templateId, number: record.templateVersion } },
          include: { template: true },
        });
        const spec = SpecSchema.parse(version.spec);
        const problems = mappingProblems(spec);
        if (problems.length > 0) {
          throw nonRetryable(PublishErrorType.UnmappableSpec, `the spec cannot be published: ${problems.map((p) => p.message).join('; ')}`);
        }

        const existing = await findExisting(client, records, record, projectCode, version.template.name, signal);
        const codes: Record<string, number> = { ...taskCodesOf(record) };
        for (const task of existing?.tasks ?? []) codes[task.name] ??= task.code;
        const keys = taskCodeKeys(spec);
        const missing = keys.filter((key) => codes[key] === undefined);
        if (missing.length > 0) {
          const generated = await client.genTaskCodes(projectCode, missing.length, { signal });
          missing.forEach((key, i) => (codes[key] = generated[i]!));
        }
        const taskCodes = Object.fromEntries(keys.map((key) => [key, codes[key]!]));
        // Recorded once: a retry of this step finds its codes in the record and changes nothing.
        if (missing.length > 0 || !stepsOf(record).some((s) => s.step === 'task-codes')) {
          await records.update(publishId, { taskCodes });
          await records.appendStep(publishId, { step: 'task-codes', status: 'succeeded', detail: { generated: missing.length, kept: keys.length - missing.length } });
        }

        const definition: MappedDefinition = mapDefinition(
          spec,
          {
            name: version.template.name,
            description: spec.description ?? version.template.description,
            tenantCode: target.tenantCode,
            workerGroup: target.workerGroup,
          },
          taskCodes,
        );

        let written;
        if (existing) {
          const code = existing.definition.code;
          // Before anything is changed: a failure handler that compensates reads the definition from the record.
          await records.update(publishId, { definitionCode: BigInt(code) });
          const offline = lastStep(record, 'offline');
          if (existing.definition.releaseState === 'ONLINE') {
            // Recorded before the call, which takes its schedules offline too: a worker that dies
            // during it leaves which were online, for the retry to bring back and a failure to compensate.
            let detail = offline?.status === 'started' ? offline.detail : undefined;
            if (!detail) {
              const onlineSchedules = (await client.listSchedules(projectCode, code, { signal })).filter((s) => s.releaseState === 'ONLINE').map((s) => s.id);
              detail = { definitionCode: code, version: existing.definition.version, onlineSchedules };
              await records.appendStep(publishId, { step: 'offline', status: 'started', detail });
            }
            await client.releaseDefinition(projectCode, code, 'OFFLINE', { signal });
            await records.appendStep(publishId, { step: 'offline', status: 'succeeded', detail });
          } else if (offline?.status === 'started') {
            // An earlier attempt took it offline and died before recording so.
            await records.appendStep(publishId, { step: 'offline', status: 'succeeded', detail: offline.detail });
          }
          written = await client.updateDefinition(projectCode, code, definition, { signal });
        } else {
          written = await client.createDefinition(projectCode, definition, { signal });
        }
        await records.update(publishId, { definitionCode: BigInt(written.code), definitionVersion: written.version });
        await records.appendStep(publishId, {
          step: 'definition',
          status: 'succeeded',
          detail: { definitionCode: written.code, version: written.version, created: !existing, tasks: definition.tasks.length },
        });
        return { definitionCode: written.code, version: written.version };
      });
    },

    /** Brings the definition online; already online is done. */
    async publishBringOnline(publishId: string): Promise<void> {
      await step(publishId, async ({ client, record }, signal) => {
        const { records } = database();
        const projectCode = Number(record.projectCode);
        const definitionCode = Number(record.definitionCode);
        const { definition } = await client.getDefinition(projectCode, definitionCode, { signal });
        if (definition.releaseState !== 'ONLINE') await client.releaseDefinition(projectCode, definitionCode, 'ONLINE', { signal });
        // The version the server holds now: an update answers before some servers count it.
        await records.update(publishId, { definitionVersion: definition.version });
        await records.appendStep(publishId, { step: 'online', status: definition.releaseState === 'ONLINE' ? 'skipped' : 'succeeded', detail: { definitionCode, version: definition.version } });
      });
    },

    /**
     * The schedule the request gives, created or updated, then online. Without one, schedules
     * that were online before this publish took the definition offline are brought back online.
     */
    async publishWriteSchedule(publishId: string): Promise<void> {
      await step(publishId, async ({ client, record, target }, signal) => {
        const { records } = database();
        const projectCode = Number(record.projectCode);
        const definitionCode = Number(record.definitionCode);
        const existing = await client.listSchedules(projectCode, definitionCode, { signal });
        if (record.schedule === null) {
          const offlineStep = lastStep(record, 'offline');
          const wereOnline = new Set((offlineStep?.detail?.onlineSchedules as number[] | undefined) ?? []);
          const restore = existing.filter((s) => wereOnline.has(s.id) && s.releaseState !== 'ONLINE');
          for (const schedule of restore) await client.onlineSchedule(projectCode, schedule.id, { signal });
          // The record names the schedule the definition keeps, as one that wrote it would.
          const [kept] = existing;
          if (kept) await records.update(publishId, { scheduleId: kept.id });
          await records.appendStep(publishId, { step: 'schedule', status: 'skipped', detail: { restoredOnline: restore.map((s) => s.id) } });
          return;
        }
        const wanted: PublishSchedule = PublishScheduleSchema.parse(record.schedule);
        const fields: ScheduleUpdate = {
          crontab: wanted.crontab,
          startTime: wanted.startTime,
          endTime: wanted.endTime,
          timezoneId: wanted.timezoneId,
          failureStrategy: wanted.failureStrategy,
          warningType: wanted.warningType,
          workerGroup: target.workerGroup,
          tenantCode: target.tenantCode,
        };
        const [current] = existing;
        let scheduleId: number;
        if (current) {
          if (current.releaseState === 'ONLINE') await client.offlineSchedule(projectCode, current.id, { signal });
          await client.updateSchedule(projectCode, current.id, fields, { signal });
          scheduleId = current.id;
        } else {
          scheduleId = (await client.createSchedule(projectCode, { definitionCode, ...fields }, { signal })).id;
        }
        await records.update(publishId, { scheduleId });
        await records.appendStep(publishId, { step: 'schedule', status: 'succeeded', detail: { scheduleId, created: !current, crontab: wanted.crontab } });
        await client.onlineSchedule(projectCode, scheduleId, { signal });
        await records.appendStep(publishId, { step: 'schedule-online', status: 'succeeded', detail: { scheduleId } });
      });
    },

    async publishSucceeded(publishId: string): Promise<void> {
      await database().records.setStatus(publishId, 'published', { finishedAt: new Date(), error: undefined });
    },

    /**
     * Takes a published definition online (with its schedules) or offline (which takes its
     * schedules offline too), as an online / offline record asks.
     */
    async publishToggle(publishId: string, state: 'online' | 'offline'): Promise<void> {
      await step(publishId, async ({ client, record }, signal) => {
        const { records } = database();
        const binding = await records.previousBinding(record);
        if (!binding) throw nonRetryable(PublishErrorType.NeverPublished, `this template was never published to ${record.target}`);
        const projectCode = Number(binding.projectCode);
        const definitionCode = Number(binding.definitionCode);
        await records.update(publishId, { projectCode: binding.projectCode, definitionCode: binding.definitionCode, templateVersion: binding.templateVersion, taskCodes: binding.taskCodes ?? {} });
        const { definition } = await client.getDefinition(projectCode, definitionCode, { signal });
        const wanted = state === 'online' ? 'ONLINE' : 'OFFLINE';
        if (definition.releaseState !== wanted) await client.releaseDefinition(projectCode, definitionCode, wanted, { signal });
        await records.appendStep(publishId, { step: state, status: definition.releaseState === wanted ? 'skipped' : 'succeeded', detail: { definitionCode, version: definition.version } });
        if (state === 'online') {
          const schedules = await client.listSchedules(projectCode, definitionCode, { signal });
          for (const schedule of schedules.filter((s) => s.releaseState !== 'ONLINE')) await client.onlineSchedule(projectCode, schedule.id, { signal });
          const [schedule] = schedules;
          if (schedule) await records.appendStep(publishId, { step: 'schedule-online', status: 'succeeded', detail: { scheduleId: schedule.id } });
        }
        await records.setStatus(publishId, state, { definitionVersion: definition.version, finishedAt: new Date(), scheduleId: binding.scheduleId });
      });
    },

    /**
     * Ends a publish that failed, consistently: a definition this publish took offline and did not
     * change is brought back online (compensation, best effort and recorded); one it changed stays
     * offline and the record says so. The record is `failed`, never `published`. Then starts the
     * failure's notice; when that start fails the activity is retried, and the retry, finding the
     * failure recorded, neither compensates again nor records it again: it starts the notice.
     */
    async publishFailed(publishId: string, failure: PublishFailure): Promise<void> {
      const { records } = database();
      const record = await records.get(publishId);
      const left = record.status === 'failed' ? ((record.error ?? {}) as { state?: string }).state : await endFailedPublish(record, failure);
      if (!deps.startPublishNotice) return;
      const template = await database().prisma.template.findUnique({ where: { id: record.templateId }, select: { name: true } });
      await deps.startPublishNotice({
        ...publishNoticeOf(record, template?.name ?? record.templateId, 'publish_failed'),
        approverRoles: [],
        error: { message: failure.message, ...(left ? { state: left } : {}) },
      });
    },
  };

  /** Compensates what it can, records the publish failed, and answers what the failure left behind (for its notice). */
  async function endFailedPublish(record: Publish, failure: PublishFailure): Promise<string | undefined> {
    const { records } = database();
    const publishId = record.id;
    const steps = stepsOf(record);
    // Started counts: whether the call went through is unknown, so the compensation looks before it writes.
    const tookOffline = lastStep(record, 'offline');
    const changed = steps.some((s) => s.step === 'definition' && s.status === 'succeeded');
    const broughtOnline = steps.some((s) => s.step === 'online' && (s.status === 'succeeded' || s.status === 'skipped'));
    let left: string | undefined;
    if (record.action === 'publish' && tookOffline && !changed) {
      try {
        const { client } = await session(publishId);
        const projectCode = Number(record.projectCode);
        const definitionCode = Number(record.definitionCode);
        // Idempotent: this activity is retried until it is recorded, and one attempt may have done this already.
        const { definition } = await client.getDefinition(projectCode, definitionCode);
        const versionTakenOffline = tookOffline.detail?.version as number | undefined;
        if (versionTakenOffline !== undefined && definition.version !== versionTakenOffline) {
          // The update went through unrecorded (its worker died before hearing back): the previous
          // version is gone, and bringing this one online would publish what failed.
          await records.appendStep(publishId, { step: 'compensate', status: 'skipped', detail: { reason: 'the definition already holds the new version', version: definition.version } });
          left = NEW_VERSION_OFFLINE;
        } else {
          if (definition.releaseState !== 'ONLINE') await client.releaseDefinition(projectCode, definitionCode, 'ONLINE');
          const wereOnline = new Set((tookOffline.detail?.onlineSchedules as number[] | undefined) ?? []);
          const restore = (await client.listSchedules(projectCode, definitionCode)).filter((s) => wereOnline.has(s.id) && s.releaseState !== 'ONLINE');
          for (const schedule of restore) await client.onlineSchedule(projectCode, schedule.id);
          await records.appendStep(publishId, { step: 'compensate', status: 'succeeded', detail: { restoredOnline: definitionCode, schedules: [...wereOnline] } });
          left = 'the previous version is online again';
        }
      } catch (error) {
        const reason = error instanceof DolphinSchedulerError ? error.toJSON() : { message: (error as Error).message };
        await records.appendStep(publishId, { step: 'compensate', status: 'failed', detail: { reason } });
        left = 'the previous version could not be brought back online: it is offline';
      }
    } else if (record.action === 'publish' && changed) {
      left = broughtOnline ? 'the definition holds the new version and is online, without the schedule asked for; publish again to write it' : NEW_VERSION_OFFLINE;
    }
    await records.setStatus(publishId, 'failed', { finishedAt: new Date(), error: { ...failure, ...(left ? { state: left } : {}) } });
    logger.warn({ publishId, error: failure, left }, 'publish failed');
    return left;
  }
}

export type PublishActivities = ReturnType<typeof createPublishActivities>;

/** What a failed publish that wrote the new version leaves, while nothing brought it online. */
const NEW_VERSION_OFFLINE = 'the definition holds the new version and is offline; publish again to bring it online';

/** How often a DolphinScheduler step heartbeats; well inside the workflow's heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 1_000;

/** The latest record of a step: `started` when the call it announces may or may not have happened. */
function lastStep(record: Publish, name: PublishStepName): PublishStepRecord | undefined {
  return [...stepsOf(record)].reverse().find((s) => s.step === name);
}

/** Who may approve a publish that requires approval: every role granting what its approve route needs (apps/api/src/auth/policy.ts). */
export const PUBLISH_APPROVER_ROLES: readonly string[] = rolesGranting('approver');

function publishNoticeOf(record: Publish, templateName: string, kind: PublishNotice['kind']): Omit<PublishNotice, 'approverRoles'> {
  return {
    kind,
    key: `publish:${record.id}:${kind}`,
    tenantId: record.tenantId,
    publishId: record.id,
    templateId: record.templateId,
    templateName,
    templateVersion: record.templateVersion,
    target: record.target,
    requestedBy: record.requestedBy,
  };
}

async function findExisting(
  client: DolphinSchedulerClient,
  records: PublishRecords,
  record: Publish,
  projectCode: number,
  name: string,
  signal: AbortSignal,
) {
  const ownCode = record.definitionCode ?? (await records.previousBinding(record))?.definitionCode;
  if (ownCode !== null && ownCode !== undefined) {
    try {
      return await client.getDefinition(projectCode, Number(ownCode), { signal });
    } catch (error) {
      // Deleted behind flowpilot's back, or the target moved to another project: found by name or created anew.
      if (!(error instanceof DolphinSchedulerNotFoundError)) throw error;
    }
  }
  return client.findDefinitionByName(projectCode, name, { signal });
}

function nonRetryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}
