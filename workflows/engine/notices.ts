import { isCancellation, log, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { NoticeKind, RunState, StepState } from '../contract';
import { noticeKey, noticeStepSettings, STEP_NOTIFY_NOTICES, type Notice, type NoticeApproval } from '../notifications/notice';
import { startNotice } from '../notifications/start-notice';
import type { Step } from '../spec/schema';
import type { ApprovalWith } from '../spec/step-types';
import { activityIdFor } from './activity-options';
import { toStepError } from './failures';
import type { RunContext } from './run-context';
import type { ApprovalActivities } from './step-activity';

const { notifyApprovers } = proxyActivities<ApprovalActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, initialInterval: '1s', backoffCoefficient: 2 },
});

/**
 * Patch id: runs whose tenant subscribed channels to a notice send it through its own delivery
 * workflow (workflows/notifications) where runs before sent nothing, or, for approvals, called the
 * `notifyApprovers` activity. Asked only when the run's input names the notice's kind, so a run
 * without subscriptions records no marker and its history is what it always was.
 */
const CHANNEL_NOTICES = 'channel-notices';

/** The share of an approval's time after which its approvers are reminded (approval_reminder). */
const REMIND_AFTER_SHARE = 0.8;

/** How an approval left waiting: by its decisions, or by its deadline (then `onTimeout` decided). */
export type ApprovalSettlement = 'approved' | 'rejected' | 'timed_out';

/**
 * Run lifecycle notices: the moments people outside the run may need to hear of, each one call.
 * The engine calls these at exactly those moments and nowhere else.
 *
 * A notice the run's input names (RunInput.notices, from its tenant's subscriptions) is handed to
 * a delivery workflow of its own, started as an abandoned child whose id is the notice's event
 * key: delivery, its retries and any reminder happen there, and never delay or fail the run. The
 * run only waits for Temporal to record each start, and before it ends or continues as new
 * (`started`), so no notice is lost with it.
 *
 * A step whose spec asks for a notice (`notify.on`) sends it whatever the input names: its notice
 * carries the step's settings, whose channels the delivery adds to the subscribed ones.
 *
 * Replay safety: each new command is guarded by `patched(CHANNEL_NOTICES)`, asked only for runs
 * whose input names the kind or whose step asks for it (specs before `notify` never do). The
 * synchronous notices are called from step callbacks and the run's ending: they must not throw (a
 * throw there crashes the run) and must not await.
 */
export class RunNotices {
  private readonly kinds: ReadonlySet<NoticeKind>;
  /** Delivery workflows being started; awaited before the run ends or continues as new. */
  private readonly starting = new Set<Promise<void>>();

  constructor(private readonly ctx: RunContext) {
    this.kinds = new Set(ctx.input.tenantId === undefined ? [] : (ctx.input.notices ?? []));
  }

  /**
   * An approval step starts waiting for decisions: its approvers are told. The step awaits this
   * before it waits (it holds a slot while it does); a notice that cannot be sent must not keep
   * approvers from deciding, so a failure is logged and the step waits anyway.
   */
  async approvalRequested(step: Step, approval: ApprovalWith, deadline: string | undefined): Promise<void> {
    if ((this.sendsFor(step, 'approval_requested') || this.sendsFor(step, 'approval_reminder')) && patched(CHANNEL_NOTICES)) {
      await startNotice(this.notice('approval_requested', step, { approval: this.approvalOf(step, approval, deadline) }));
      return;
    }
    const { input } = this.ctx;
    try {
      await notifyApprovers.executeWithOptions(
        { activityId: `notify:${activityIdFor(step.id, this.ctx.execution(step.id))}`, summary: `notify approvers of ${step.id}` },
        [
          {
            stepId: step.id,
            templateName: input.templateName,
            templateVersion: input.templateVersion,
            startedBy: input.startedBy,
            users: approval.approvers.users,
            roles: approval.approvers.roles,
            required: approval.required,
            message: approval.message,
            deadline,
          },
        ],
      );
    } catch (error) {
      if (isCancellation(error)) throw error;
      log.warn('approval notice failed; waiting for decisions anyway', { stepId: step.id, error: toStepError(error) });
    }
  }

  /** An approval step stopped waiting; `state.approvals` holds the decisions that settled it. */
  approvalSettled(step: Step, state: StepState, settlement: ApprovalSettlement, approval: ApprovalWith): void {
    log.info('approval settled', { stepId: step.id, settlement, decisions: state.approvals?.length ?? 0, onTimeout: approval.onTimeout });
    if (!this.sendsFor(step, 'approval_settled') || !patched(CHANNEL_NOTICES)) return;
    const decisions = state.approvals ?? [];
    const deciding = settlement === 'rejected' ? decisions.filter((d) => d.decision === 'rejected') : decisions.filter((d) => d.decision === 'approved');
    const comment = deciding.find((d) => d.comment)?.comment;
    this.start(
      this.notice('approval_settled', step, {
        decision: { outcome: settlement, by: deciding.map((d) => d.by), ...(comment ? { comment } : {}) },
      }),
    );
  }

  /** A step failed with `onError: pause`: the run is held until an operator retries or skips it. */
  stepHeld(step: Step, state: StepState): void {
    log.info('step held for an operator', { stepId: step.id, error: state.error });
    if (!this.sendsFor(step, 'run_held') || !patched(CHANNEL_NOTICES)) return;
    this.start(this.notice('run_held', step, state.error ? { error: state.error } : {}));
  }

  /** A step failed (whatever its `onError` makes of it): told only when the step asks for it. */
  stepFailed(step: Step, state: StepState): void {
    if (!this.asks(step, 'step_failed') || !patched(CHANNEL_NOTICES)) return;
    this.start(this.notice('step_failed', step, state.error ? { error: state.error } : {}));
  }

  /** A step succeeded: told only when the step asks for it. */
  stepSucceeded(step: Step): void {
    if (!this.asks(step, 'step_succeeded') || !patched(CHANNEL_NOTICES)) return;
    this.start(this.notice('step_succeeded', step, {}));
  }

  /** The run finished: `state.status` says how (succeeded, failed, timed_out, cancelled), `state.error` why. */
  runFinished(state: RunState, crashed: boolean): void {
    switch (state.status) {
      case 'succeeded':
        return this.runSucceeded(state);
      case 'timed_out':
        return this.runTimedOut(state);
      case 'cancelled':
        return this.runCancelled(state);
      default:
        return this.runFailed(state, crashed);
    }
  }

  runSucceeded(state: RunState): void {
    log.info('run finished', { status: state.status });
    this.runNotice('run_succeeded', state);
  }

  /** The run failed: a step with `onError: fail`, a group's timeout, or the engine crashed on the run (`crashed`). */
  runFailed(state: RunState, crashed: boolean): void {
    log.info('run finished', { status: state.status, crashed, error: state.error });
    this.runNotice('run_failed', state);
  }

  runTimedOut(state: RunState): void {
    log.info('run finished', { status: state.status, error: state.error });
    this.runNotice('run_timed_out', state);
  }

  runCancelled(state: RunState): void {
    log.info('run finished', { status: state.status });
  }

  /**
   * Resolves once Temporal recorded the start of every notice's delivery: a run awaits it before it
   * ends or continues as new. Without any, it issues no command.
   */
  async started(): Promise<void> {
    while (this.starting.size > 0) await Promise.all([...this.starting]);
  }

  private sends(kind: NoticeKind): boolean {
    return this.kinds.has(kind);
  }

  /** Whether the step's own `notify` asks for this kind (runs of no tenant send nothing). */
  private asks(step: Step, kind: NoticeKind): boolean {
    if (this.ctx.input.tenantId === undefined || step.notify === undefined) return false;
    return step.notify.on.some((event) => STEP_NOTIFY_NOTICES[event] === kind);
  }

  private sendsFor(step: Step, kind: NoticeKind): boolean {
    return this.sends(kind) || this.asks(step, kind);
  }

  private runNotice(kind: NoticeKind, state: RunState): void {
    if (!this.sends(kind) || !patched(CHANNEL_NOTICES)) return;
    this.start(this.notice(kind, undefined, state.error ? { error: state.error } : {}));
  }

  private start(notice: Notice): void {
    const started = startNotice(notice).finally(() => this.starting.delete(started));
    this.starting.add(started);
  }

  private notice(kind: NoticeKind, step: Step | undefined, details: Pick<Notice, 'approval' | 'decision' | 'error'>): Notice {
    const { input } = this.ctx;
    const runId = workflowInfo().workflowId;
    const execution = step && activityIdFor(step.id, this.ctx.execution(step.id));
    return {
      key: noticeKey(runId, kind, execution),
      kind,
      tenantId: input.tenantId!,
      at: new Date().toISOString(),
      run: { id: runId, templateId: input.templateId, templateName: input.templateName, templateVersion: input.templateVersion, startedBy: input.startedBy },
      ...(step ? { step: { id: step.id, ...(step.name ? { name: step.name } : {}) } } : {}),
      ...(step?.notify ? { notify: noticeStepSettings(step.notify) } : {}),
      ...details,
    };
  }

  private approvalOf(step: Step, approval: ApprovalWith, deadline: string | undefined): NoticeApproval {
    const remindAt =
      deadline !== undefined && this.sendsFor(step, 'approval_reminder')
        ? new Date(Date.now() + REMIND_AFTER_SHARE * (Date.parse(deadline) - Date.now())).toISOString()
        : undefined;
    return {
      users: approval.approvers.users,
      roles: approval.approvers.roles,
      required: approval.required,
      ...(approval.message ? { message: approval.message } : {}),
      ...(deadline ? { deadline } : {}),
      ...(remindAt ? { remindAt } : {}),
    };
  }
}
