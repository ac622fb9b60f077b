import { randomUUID } from 'node:crypto';
import {
  ScheduleNotFoundError,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleOverlapPolicy,
  type ScheduleUpdateOptions,
  type Workflow,
} from '@temporalio/client';
import ms from 'ms';
import {
  SCHEDULED_RUN_WORKFLOW_TYPE,
  isScheduleId,
  scheduleStarter,
  scheduledRunId,
  type ScheduledRunInput,
} from '../../../../workflows/scheduled-start';
import { parseDuration } from '../../../../workflows/spec/duration';
import { StartedByKey, TemplateIdKey, TenantIdKey } from '../../../../workflows/search-attributes';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import type { Principal } from '../http/principal';
import { InputValidators } from '../../../common/inputs/input-validation';
import { DEFAULT_RUN_INPUT_MAX_BYTES } from '../runs/start';
import { SpecSchema } from '../../../../workflows/spec/schema';
import type { CreateScheduleBody, ScheduleResource, UpdateScheduleBody } from './schemas';
import { OVERLAP_POLICIES, clockProblems } from './schemas';

/**
 * A template's schedules are Temporal Schedules, and nothing else: Temporal keeps them across
 * every restart, fires them, and shows them in its Web UI; the API keeps no copy. What a
 * schedule is for (tenant, template, creator) is its memo, set once; what may change (description,
 * cron, who changed it) is its action's memo, which an update replaces whole; tenant and template
 * are also its search attributes, which lists query. Each firing starts the `scheduledRun` launcher
 * (workflows/scheduled-run.ts), which resolves the version and runs the run as its child.
 */

type Overlap = (typeof OVERLAP_POLICIES)[number];

const TEMPORAL_OVERLAP: Record<Overlap, ScheduleOverlapPolicy> = {
  skip: 'SKIP',
  bufferOne: 'BUFFER_ONE',
  bufferAll: 'BUFFER_ALL',
  cancelOther: 'CANCEL_OTHER',
  terminateOther: 'TERMINATE_OTHER',
  allowAll: 'ALLOW_ALL',
};
const OVERLAP_OF = Object.fromEntries(Object.entries(TEMPORAL_OVERLAP).map(([ours, theirs]) => [theirs, ours])) as Record<string, Overlap>;

/** The schedule's own memo: who made it for which tenant and template. Never changes. */
interface ScheduleMemo {
  tenantId: string;
  templateId: string;
  createdBy: string;
}

/** The action's memo: what may change, replaced whole by each update. */
interface ActionMemo {
  scheduleDescription: string;
  cron: string[];
  updatedBy: string;
}

/** A tenant's template's schedules list at most this many (one visibility page). */
const MAX_LISTED = 200;
/** gRPC's INVALID_ARGUMENT: Temporal refused the spec (a cron field, a time zone). */
const GRPC_INVALID_ARGUMENT = 3;

export interface ScheduleContext {
  principal: Principal;
  templateId: string;
  templateName: string;
  latestVersion: number;
}

export class Schedules {
  private readonly inputValidators = new InputValidators();

  constructor(private readonly deps: ApiDependencies) {}

  async create(context: ScheduleContext, body: CreateScheduleBody): Promise<ScheduleResource> {
    const { principal, templateId } = context;
    await this.checkRunnable(context, body);
    const scheduleId = `schedule-${randomUUID()}`;
    const memo: ScheduleMemo = { tenantId: principal.tenantId, templateId, createdBy: principal.subject };
    try {
      await this.deps.temporal.schedule.create({
        scheduleId,
        spec: specOf(body),
        action: this.actionOf(context, scheduleId, body),
        policies: { overlap: TEMPORAL_OVERLAP[body.overlap], catchupWindow: millisOf(body.catchupWindow) },
        state: { paused: body.paused, ...(body.note ? { note: body.note } : {}) },
        memo: { ...memo },
        typedSearchAttributes: [
          { key: TenantIdKey, value: principal.tenantId },
          { key: TemplateIdKey, value: templateId },
        ],
      });
    } catch (error) {
      throw refusedSpec(error) ?? error;
    }
    return this.view(context, scheduleId);
  }

  /** The template's schedules, from visibility (a schedule made a moment ago may not be listed yet). */
  async list(context: ScheduleContext): Promise<ScheduleResource[]> {
    const query = `TenantId = ${quote(context.principal.tenantId)} AND TemplateId = ${quote(context.templateId)}`;
    const ids: string[] = [];
    for await (const summary of this.deps.temporal.schedule.list({ query, pageSize: MAX_LISTED })) {
      ids.push(summary.scheduleId);
      if (ids.length >= MAX_LISTED) break;
    }
    const views = await Promise.all(ids.map((id) => this.view(context, id).catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)))));
    return views.filter((view): view is ScheduleResource => view !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async view(context: ScheduleContext, scheduleId: string): Promise<ScheduleResource> {
    const { description } = await this.describe(context, scheduleId);
    return viewOf(description);
  }

  async update(context: ScheduleContext, scheduleId: string, body: UpdateScheduleBody): Promise<ScheduleResource> {
    const { handle, description } = await this.describe(context, scheduleId);
    const current = viewOf(description);
    const merged: CreateScheduleBody = {
      description: body.description ?? current.description,
      cron: body.cron ?? current.cron,
      timeZone: body.timeZone ?? current.timeZone,
      version: body.version ?? current.version,
      input: body.input ?? current.input,
      overlap: body.overlap ?? current.overlap,
      catchupWindow: body.catchupWindow ?? current.catchupWindow,
      paused: current.paused,
    };
    // null removes the jitter; left out, it keeps the current one.
    const jitter = body.jitter === null ? undefined : (body.jitter ?? current.jitter ?? undefined);
    if (jitter) merged.jitter = jitter;
    await this.checkRunnable(context, merged);
    try {
      await handle.update((previous): ScheduleUpdateOptions => {
        // Temporal hands the schedule as it is now: one changed by another request meanwhile still belongs here.
        assertOwned(previous, context, scheduleId);
        return {
          spec: specOf(merged),
          action: this.actionOf(context, scheduleId, merged),
          policies: { ...previous.policies, overlap: TEMPORAL_OVERLAP[merged.overlap], catchupWindow: millisOf(merged.catchupWindow) },
          state: { paused: previous.state.paused, ...(previous.state.note ? { note: previous.state.note } : {}) },
        };
      });
    } catch (error) {
      throw refusedSpec(error) ?? notFoundOr(error, scheduleId);
    }
    return this.view(context, scheduleId);
  }

  async delete(context: ScheduleContext, scheduleId: string): Promise<void> {
    const { handle } = await this.describe(context, scheduleId);
    await handle.delete().catch((error: unknown) => Promise.reject(notFoundOr(error, scheduleId)));
  }

  async pause(context: ScheduleContext, scheduleId: string, paused: boolean, note: string | undefined): Promise<ScheduleResource> {
    const { handle } = await this.describe(context, scheduleId);
    const why = note ?? `${paused ? 'paused' : 'resumed'} by ${context.principal.subject}`;
    await (paused ? handle.pause(why) : handle.unpause(why)).catch((error: unknown) => Promise.reject(notFoundOr(error, scheduleId)));
    return this.view(context, scheduleId);
  }

  /**
   * Pauses every schedule of the template that still fires, with `note` as the reason; answers the
   * ids it paused and those it could not. Listed from visibility, so a schedule made a moment before
   * may be missed: its firings still start no run (the launcher refuses an archived template).
   */
  async pauseAll(context: ScheduleContext, note: string): Promise<{ paused: string[]; failed: string[] }> {
    const firing = (await this.list(context)).filter((schedule) => !schedule.paused).map((schedule) => schedule.id);
    const outcomes = await Promise.allSettled(firing.map((scheduleId) => this.deps.temporal.schedule.getHandle(scheduleId).pause(note)));
    return {
      paused: firing.filter((_, index) => outcomes[index]!.status === 'fulfilled'),
      failed: firing.filter((_, index) => outcomes[index]!.status === 'rejected'),
    };
  }

  async trigger(context: ScheduleContext, scheduleId: string, overlap: Overlap | undefined): Promise<void> {
    const { handle, description } = await this.describe(context, scheduleId);
    // The SDK's default for a trigger is ALLOW_ALL, under which Temporal neither applies the
    // schedule's policy nor tracks the run; the schedule's own policy is what a caller expects.
    const policy = overlap ? TEMPORAL_OVERLAP[overlap] : description.policies.overlap;
    await handle.trigger(policy).catch((error: unknown) => Promise.reject(notFoundOr(error, scheduleId)));
  }

  async backfill(context: ScheduleContext, scheduleId: string, range: { start: string; end: string; overlap: Overlap }): Promise<void> {
    const { handle } = await this.describe(context, scheduleId);
    await handle
      .backfill({ start: new Date(range.start), end: new Date(range.end), overlap: TEMPORAL_OVERLAP[range.overlap] })
      .catch((error: unknown) => Promise.reject(notFoundOr(error, scheduleId)));
  }

  /**
   * What a firing would meet, checked now with clear 422s: the cron expressions and time zone (Temporal
   * checks the fields again), a pinned version that exists, and the input against the `inputs` schema
   * of the version a firing would run now (a later version of a `latest` schedule may refuse it: that
   * firing then fails as InputInvalid, visible in the Temporal Web UI).
   */
  private async checkRunnable(context: ScheduleContext, body: Pick<CreateScheduleBody, 'cron' | 'timeZone' | 'version' | 'input'>): Promise<void> {
    const clock = clockProblems(body);
    if (clock.length > 0) throw problems.unprocessable('the schedule’s cron expressions or time zone are invalid', clock);
    const inputBytes = Buffer.byteLength(JSON.stringify(body.input));
    const inputLimit = this.deps.runInputMaxBytes ?? DEFAULT_RUN_INPUT_MAX_BYTES;
    if (inputBytes > inputLimit) throw problems.payloadTooLarge(`input is ${inputBytes} bytes as JSON; a run's input may be at most ${inputLimit} bytes (RUN_INPUT_MAX_BYTES)`);
    const number = body.version === 'latest' ? context.latestVersion : body.version;
    const version = await this.deps.prisma.templateVersion.findUnique({
      where: { templateId_number: { templateId: context.templateId, number } },
      select: { id: true, spec: true },
    });
    if (!version) throw problems.unprocessable(`template ${context.templateName} has no version ${number}`, [{ path: ['version'], message: 'no such version' }]);
    const spec = SpecSchema.parse(version.spec);
    const invalid = this.inputValidators.check(version.id, spec.inputs, body.input);
    if (invalid.length > 0) throw problems.unprocessable(`input does not match the input schema of version ${number}`, invalid);
  }

  /** The schedule, if it is one of this template's in the caller's tenant; a 404 otherwise, as if it did not exist. */
  private async describe(context: ScheduleContext, scheduleId: string): Promise<{ handle: ScheduleHandle; description: ScheduleDescription }> {
    if (!isScheduleId(scheduleId)) throw scheduleNotFound(scheduleId);
    const handle = this.deps.temporal.schedule.getHandle(scheduleId);
    let description: ScheduleDescription;
    try {
      description = await handle.describe();
    } catch (error) {
      throw notFoundOr(error, scheduleId);
    }
    assertOwned(description, context, scheduleId);
    return { handle, description };
  }

  private actionOf(context: ScheduleContext, scheduleId: string, body: CreateScheduleBody): ScheduleOptionsStartWorkflowAction<Workflow> {
    const { principal, templateId, templateName } = context;
    const input: ScheduledRunInput = {
      scheduleId,
      tenantId: principal.tenantId,
      templateId,
      version: body.version,
      inputs: body.input,
      ...(this.deps.runLimits ? { limits: this.deps.runLimits } : {}),
    };
    const memo: ActionMemo = { scheduleDescription: body.description, cron: body.cron, updatedBy: principal.subject };
    return {
      type: 'startWorkflow',
      workflowType: SCHEDULED_RUN_WORKFLOW_TYPE,
      // Temporal appends the firing's time: `schedule-<uuid>-2026-12-02T09:00:00Z`.
      workflowId: scheduleId,
      taskQueue: this.deps.taskQueue,
      args: [input],
      memo: { ...memo },
      staticSummary: `${templateName} ${body.version === 'latest' ? 'latest' : `v${body.version}`} by ${scheduleStarter(scheduleId)}`.slice(0, 200),
      typedSearchAttributes: [
        { key: TenantIdKey, value: principal.tenantId },
        { key: TemplateIdKey, value: templateId },
        { key: StartedByKey, value: scheduleStarter(scheduleId) },
      ],
    };
  }
}

function specOf(body: Pick<CreateScheduleBody, 'cron' | 'timeZone' | 'jitter'>) {
  return { cronExpressions: body.cron, timezone: body.timeZone, ...(body.jitter ? { jitter: millisOf(body.jitter) } : {}) };
}

/** Durations were validated by the schema; Temporal takes milliseconds. */
function millisOf(duration: string): number {
  return parseDuration(duration) ?? 0;
}

function assertOwned(description: Pick<ScheduleDescription, 'memo' | 'action'>, context: ScheduleContext, scheduleId: string): void {
  const memo = description.memo as Partial<ScheduleMemo> | undefined;
  const owned =
    description.action.workflowType === SCHEDULED_RUN_WORKFLOW_TYPE &&
    memo?.tenantId === context.principal.tenantId &&
    memo.templateId === context.templateId;
  if (!owned) throw scheduleNotFound(scheduleId);
}

function viewOf(description: ScheduleDescription): ScheduleResource {
  const memo = (description.memo ?? {}) as Partial<ScheduleMemo>;
  const action = description.action;
  const actionMemo = (action.memo ?? {}) as Partial<ActionMemo>;
  const [input] = action.args as [ScheduledRunInput];
  const info = description.info;
  return {
    id: description.scheduleId,
    templateId: memo.templateId ?? '',
    description: actionMemo.scheduleDescription ?? '',
    cron: actionMemo.cron ?? [],
    timeZone: description.spec.timezone ?? 'UTC',
    version: input.version,
    input: input.inputs,
    overlap: (description.policies.overlap && OVERLAP_OF[description.policies.overlap]) || 'skip',
    jitter: description.spec.jitter ? ms(description.spec.jitter) : null,
    catchupWindow: ms(description.policies.catchupWindow),
    paused: description.state.paused,
    note: description.state.note ?? '',
    createdBy: memo.createdBy ?? '',
    createdAt: info.createdAt.toISOString(),
    updatedBy: actionMemo.updatedBy ?? memo.createdBy ?? '',
    updatedAt: (info.lastUpdatedAt ?? info.createdAt).toISOString(),
    // Temporal computes them paused or not; a paused schedule fires at none of them.
    nextRunTimes: description.state.paused ? [] : info.nextActionTimes.slice(0, 5).map((time) => time.toISOString()),
    recentRuns: info.recentActions.map((action) => ({
      runId: scheduledRunId(action.action.workflow.firstExecutionRunId) ?? null,
      scheduledAt: action.scheduledAt.toISOString(),
      startedAt: action.takenAt.toISOString(),
    })),
    runningRuns: info.runningActions.map((action) => scheduledRunId(action.workflow.firstExecutionRunId) ?? action.workflow.workflowId),
    firings: info.numActionsTaken,
  };
}

/**
 * Temporal refused the spec it was given (a cron field out of range, a time zone its runtime does
 * not know): the caller's to fix. The SDK's schedule client turns the server's INVALID_ARGUMENT
 * for a schedule spec into a TypeError carrying the server's reason ("Minute is not in range [0-59]").
 */
function refusedSpec(error: unknown) {
  const reason = error instanceof TypeError ? error.message : grpcErrorOf(error)?.code === GRPC_INVALID_ARGUMENT ? String(grpcErrorOf(error)?.details) : undefined;
  if (reason === undefined) return undefined;
  return problems.unprocessable(`Temporal refused the schedule: ${reason}`, [{ path: ['cron'], message: reason }]);
}

function grpcErrorOf(error: unknown): { code?: number; details?: string } | undefined {
  for (let current = error; typeof current === 'object' && current !== null; current = (current as { cause?: unknown }).cause) {
    if (typeof (current as { code?: unknown }).code === 'number') return current as { code?: number; details?: string };
  }
  return undefined;
}

function isNotFound(error: unknown): boolean {
  return error instanceof ScheduleNotFoundError || (error as { status?: number } | undefined)?.status === 404;
}

function notFoundOr(error: unknown, scheduleId: string): unknown {
  return error instanceof ScheduleNotFoundError ? scheduleNotFound(scheduleId) : error;
}

function scheduleNotFound(scheduleId: string) {
  return problems.notFound(`schedule ${scheduleId} does not exist`);
}

/** A visibility query string literal. Tenant and template ids are UUIDs; quotes are escaped all the same. */
function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
