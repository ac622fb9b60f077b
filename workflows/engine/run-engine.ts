import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  approveUpdate,
  decisionRefusal,
  pauseUpdate,
  rejectUpdate,
  resumeUpdate,
  retryStepUpdate,
  skipStepUpdate,
  stateQuery,
  type ApprovalCommand,
  type ApprovalDecision,
  type ControlCommand,
  type RunInput,
  type RunResult,
  type RunState,
  type RunStatus,
  type StepCommand,
  type StepError,
  type StepState,
} from '../contract';
import { RunStatusKey } from '../search-attributes';
import { parseDuration } from '../spec/duration';
import { evaluateCondition, findExpressions, leastEvaluationCost, renderTemplate } from '../spec/expressions';
import type { Group, Step } from '../spec/schema';
import { secretReferencePaths } from '../spec/secret-references';
import { stepTypes, type ApprovalWith, type DelayWith } from '../spec/step-types';
import { activityIdFor, stepActivityOptions } from './activity-options';
import { admit, admitWithinExpressionBudget, maxStepsInFlight } from './admission';
import { isWorkflowTaskBreach, jsonBytes, WorkflowTaskBudget } from './task-budget';
import { approvalOutcome, approverRuleOf, recordDecision, refusal } from './approvals';
import { CrashGuard } from './crash-guard';
import { failedAttempts, FailureType, stepFailure, toStepError } from './failures';
import { dependenciesVerdict, groupOutcome, RunGraph } from './graph';
import { DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS, MAX_RUN_OUTPUT_BYTES, MAX_STEP_INPUT_BYTES } from './limits';
import type { ApprovalActivities, StepActivity, StepActivityResult, StepRunContext } from './step-activity';

const stepActivities = proxyActivities<Record<string, StepActivity>>({ startToCloseTimeout: '5m' });
const { notifyApprovers } = proxyActivities<ApprovalActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, initialInterval: '1s', backoffCoefficient: 2 },
});

/** How a run ends early: a step failed with onError "fail", a deadline passed, it was cancelled, or the engine crashed on it. */
interface Ending {
  status: 'failed' | 'timed_out' | 'cancelled';
  error?: StepError;
  crashed?: boolean;
}

type Outcome = 'finished' | 'continue-as-new';

/** Patch id: approve and reject answer once the step they settle has left waiting_approval. */
const ANSWER_WITH_SETTLED_STEP = 'answer-with-settled-step';
/**
 * Patch id: runs recorded before expressions of the common shapes were evaluated without JSONata
 * (spec/synchronous-evaluation.ts). Their values are the same, but a step evaluated without JSONata's
 * promises reaches its activity sooner, so steps started together could schedule in another order.
 * Asked at each evaluation, so only runs that evaluate expressions record the marker.
 */
const SYNCHRONOUS_EXPRESSIONS = 'synchronous-expressions';
/**
 * Patch id: runs recorded before steps with expressions were prepared (condition, rendering) one at
 * a time, before they start, evaluated them side by side, so their activities were scheduled in the
 * order their evaluations happened to finish. Asked only for steps with expressions.
 */
const PREPARE_IN_TURN = 'prepare-in-turn';
/** Patch id: runs recorded before the bound on the outputs a run carries kept every output. */
const BOUND_RUN_OUTPUTS = 'bound-run-outputs';

/** What preparing a step with expressions decided. */
type Preparation = { readonly params: unknown } | 'skip' | 'next-task';
/** Thrown inside preparation when the workflow task ran out: the step waits for the next one. */
const NEXT_TASK = Symbol('next workflow task');

const now = (): string => new Date().toISOString();
const afterMs = (duration: string): string => new Date(Date.now() + (parseDuration(duration) ?? 0)).toISOString();

function ignoreCancellation(error: unknown): void {
  if (!isCancellation(error)) throw error;
}

/**
 * Interprets one run of a spec. All bookkeeping is plain memory: the only commands a step costs are
 * its own activity or timer, so the engine stays close to a hand-written workflow.
 *
 * Replay safety: the order of commands depends only on the input, the results in history and the
 * order of updates. Any change that alters that order for histories already recorded must be
 * guarded with `patched()` (test/replay keeps recorded histories that catch it).
 */
export class RunEngine {
  private readonly graph: RunGraph;
  private readonly state: RunState;
  /** Pending steps in dependency order: the only ones the scheduler looks at. */
  private pending: string[];
  /** Steps whose execution is under way, and the promises of those executions (awaited when the run ends). */
  private readonly inFlight = new Set<string>();
  private readonly tasks = new Map<string, Promise<void>>();
  /** Steps whose `with` holds `{{ }}` templates; the others skip rendering (it costs promises, see `startAll`). */
  private readonly templated: ReadonlySet<string>;
  /** The least evaluation cost of each step with a condition or templates (admission.ts). */
  private readonly expressionCosts: ReadonlyMap<string, number>;
  private wakeArmed = false;
  private readonly taskBudget = new WorkflowTaskBudget();
  /** The end of the line of steps being prepared one at a time (see `prepareInTurn`). */
  private preparations: Promise<unknown> = Promise.resolve();
  /** Bytes of the step outputs the run carries (MAX_RUN_OUTPUT_BYTES). */
  private outputBytes = 0;
  private readonly awaitingDecision = new Set<string>();
  private readonly approvals = new Map<string, ApprovalWith>();
  /** Where each step's `with` holds secret references, found once per step. */
  private readonly secretPaths = new Map<string, (string | number)[][]>();
  private readonly executions: Map<string, number>;
  private readonly groupScopes = new Map<string, CancellationScope>();
  private readonly groupTimers = new Map<string, CancellationScope>();
  private readonly groupDeadlines: Map<string, string>;
  private readonly closedGroups = new Set<string>();
  /** Why a running step is being cancelled, when it is not the run ending (e.g. a group timeout). */
  private readonly cancelReasons = new Map<string, StepError>();
  private readonly stepsContext: Record<string, { status: string; output: unknown }> = {};
  private readonly runDeadline?: string;
  private readonly runScope = new CancellationScope();
  private readonly guard = new CrashGuard((error) => this.end({ status: 'failed', error, crashed: true }));
  private readonly maxStepsInFlight: number;
  private ending?: Ending;
  private draining = false;
  private changed = false;
  private publishedStatus: RunStatus;

  constructor(private readonly input: RunInput) {
    this.graph = new RunGraph(input.spec);
    this.templated = new Set(input.spec.steps.filter((step) => findExpressions(step.with).length > 0).map((step) => step.id));
    this.expressionCosts = new Map(
      input.spec.steps.filter((step) => step.when !== undefined || this.templated.has(step.id)).map((step) => [step.id, expressionCost(step)]),
    );
    const carried = input.carried;
    this.state = carried?.state ?? {
      status: 'running',
      paused: false,
      held: [],
      startedAt: now(),
      steps: Object.fromEntries(
        input.spec.steps.map((step) => [step.id, { id: step.id, type: step.type, status: 'pending', attempts: 0 }]),
      ),
    };
    this.publishedStatus = this.state.status;
    this.maxStepsInFlight = maxStepsInFlight(input.limits);
    this.runDeadline = carried ? carried.runDeadline : input.spec.timeout && afterMs(input.spec.timeout);
    this.groupDeadlines = new Map(Object.entries(carried?.groupDeadlines ?? {}));
    this.executions = new Map(Object.entries(carried?.executions ?? {}));
    this.pending = this.graph.order.filter((id) => this.step(id).status === 'pending');
    for (const step of Object.values(this.state.steps)) {
      this.stepsContext[step.id] = { status: step.status, output: step.output };
      if (step.output !== undefined) this.outputBytes += jsonBytes(step.output);
    }
  }

  /** Handlers are installed before the first await so that updates in the first task are not lost. */
  installHandlers(): void {
    setHandler(stateQuery, () => this.state);
    setHandler(pauseUpdate, (command) => this.guard.update('pause', () => this.setPaused(true, command)), {
      validator: (_command: ControlCommand) => this.validateControl(true),
    });
    setHandler(resumeUpdate, (command) => this.guard.update('resume', () => this.setPaused(false, command)), {
      validator: (_command: ControlCommand) => this.validateControl(false),
    });
    setHandler(retryStepUpdate, (command) => this.guard.update('retryStep', () => this.retryHeld(command)), {
      validator: (command) => this.validateHeld(command),
    });
    setHandler(skipStepUpdate, (command) => this.guard.update('skipStep', () => this.skipHeld(command)), {
      validator: (command) => this.validateHeld(command),
    });
  }

  /**
   * Decisions are validated against the approval's rendered `with`. Updates that reach a continued
   * run in its first task are buffered by the SDK until their handler exists, so the handlers are
   * installed once the carried approvals are rendered (still within that first task).
   */
  private async installDecisionHandlers(): Promise<void> {
    for (const step of this.input.spec.steps) {
      if (this.step(step.id).status === 'waiting_approval') this.approvals.set(step.id, (await this.renderWith(step)) as ApprovalWith);
    }
    setHandler(approveUpdate, (command) => this.decide('approved', command), {
      validator: (command) => this.validateDecision('approved', command),
    });
    setHandler(rejectUpdate, (command) => this.decide('rejected', command), {
      validator: (command) => this.validateDecision('rejected', command),
    });
  }

  /** Runs the run to its end; an error of the engine's own on this run's data ends it crashed (crash-guard.ts). */
  async execute(): Promise<RunResult> {
    let outcome: Outcome = 'finished';
    try {
      await this.installDecisionHandlers();
      outcome = await this.runScope.run(() => this.schedule());
    } catch (error) {
      if (isCancellation(error)) this.end({ status: 'cancelled', error: { type: FailureType.Cancelled, message: 'run cancelled' } });
      else this.guard.crashed(error, 'while scheduling');
    }
    try {
      return await CancellationScope.nonCancellable(() => this.finish(outcome));
    } catch (error) {
      throw this.guard.finishFailure(error, this.state);
    }
  }

  // ── Scheduling ────────────────────────────────────────────────────────────────────────────────

  private async schedule(): Promise<Outcome> {
    this.armRunTimer();
    this.resumeCarriedWork();
    for (;;) {
      // An ending run starts and skips nothing more: what is left is cancelled by `finish`.
      if (this.ending) return 'finished';
      this.advance();
      this.publishStatus();
      if (this.inFlight.size === 0 && this.pending.length === 0 && this.state.held.length === 0) return 'finished';
      this.draining ||= this.continueAsNewDue();
      if (this.draining && [...this.inFlight].every((id) => this.awaitingDecision.has(id))) return 'continue-as-new';
      await condition(() => this.changed || this.ending !== undefined);
      this.changed = false;
    }
  }

  /**
   * Starts every ready step and skips every step an upstream failure ruled out. Pending steps are in
   * dependency order, so a skip is seen by the dependants later in the same pass.
   */
  private advance(): void {
    const ready: Step[] = [];
    for (const id of [...this.pending]) {
      // A group decided earlier in this pass may have skipped a step still in the copy.
      if (this.step(id).status !== 'pending') continue;
      const step = this.graph.steps.get(id)!;
      const verdict = dependenciesVerdict(step, this.graph, this.state);
      if (verdict === 'blocked') this.skip(id, 'upstream');
      else if (verdict === 'satisfied' && !this.state.paused && !this.draining && !this.ending) ready.push(step);
    }
    const { admitted, deferred } = admitWithinExpressionBudget(
      admit(ready, this.slotsTaken(), this.maxStepsInFlight),
      (step) => this.expressionCosts.get(step.id) ?? 0,
      this.taskBudget.isExhausted(),
    );
    this.startAll(admitted, false);
    if (deferred > 0 && this.slotsTaken() === 0) this.wakeInNextTask();
  }

  /**
   * Steps held back for the expression budget start in a later workflow task. One comes with any
   * activity or timer that completes; when none is pending, a one-millisecond timer brings it.
   */
  private wakeInNextTask(): void {
    if (this.wakeArmed) return;
    this.wakeArmed = true;
    sleep(1, { summary: 'expression budget' }).then(() => {
      this.wakeArmed = false;
      this.changed = true;
    }, ignoreCancellation);
  }

  /** Steps holding a Temporal activity or timer: those in flight, less approvals waiting for decisions (admission.ts). */
  private slotsTaken(): number {
    return this.inFlight.size - this.awaitingDecision.size;
  }

  /**
   * Starts steps. The scheduler itself runs in the run scope; members of a group start inside their
   * group's scope, all at once. Every promise a workflow creates costs a captured stack trace (the
   * SDK's stack-trace query), so steps get no wrappers of their own: one `scope.run` per group.
   */
  private startAll(steps: readonly Step[], resumed: boolean): void {
    const byGroup = new Map<Group, Step[]>();
    for (const step of steps) {
      const group = this.graph.groupOf(step.id);
      if (group && !this.closedGroups.has(group.id)) byGroup.set(group, [...(byGroup.get(group) ?? []), step]);
      else this.start(step, resumed);
    }
    for (const [group, members] of byGroup) {
      void this.groupScope(group).run(async () => {
        for (const step of members) this.start(step, resumed);
      });
    }
  }

  private start(step: Step, resumed: boolean): void {
    this.pending = this.pending.filter((id) => id !== step.id);
    this.inFlight.add(step.id);
    const task = this.executeStep(step, resumed);
    // A step can settle before its first await (e.g. skipped by a closed group): then it is already gone.
    if (this.inFlight.has(step.id)) this.tasks.set(step.id, task);
  }

  private resumeCarriedWork(): void {
    for (const [groupId, deadline] of this.groupDeadlines) this.armGroupTimer(this.graph.groups.get(groupId)!, deadline);
    const waiting = this.input.spec.steps.filter((step) => this.step(step.id).status === 'waiting_approval');
    this.startAll(waiting, true);
  }

  private continueAsNewDue(): boolean {
    const info = workflowInfo();
    const limit = this.input.limits?.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS;
    return info.continueAsNewSuggested || info.historyLength >= limit;
  }

  // ── One step ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Runs one step to its end. Plain activity steps (no `when`, no templates: most steps, e.g. every
   * member of a fan-out) take a path without an async function: the SDK captures a stack trace for
   * every promise a workflow creates (its stack-trace query, ≈0.1 ms each), and an async wrapper
   * plus its `await` cost two promises per step where one `.then` costs one, as in a hand-written
   * `Promise.all` over activities (a 50-wide fan-out: 259 workflow promises before, 199 now, 158 by hand).
   *
   * Replay safety: both paths run the same code in the same microtask. The prologue runs
   * synchronously inside `start()` as the async function's body did up to its first await, and
   * `.then` on the activity's promise continues one microtask after it settles, exactly as `await`
   * on a native promise does. So commands come in the same order as before (test/replay checks it).
   */
  private executeStep(step: Step, resumed: boolean): Promise<void> {
    const plainActivity = stepTypes[step.type].kind === 'activity' && step.when === undefined && !this.templated.has(step.id);
    return plainActivity ? this.executeActivityStep(step) : this.executeAnyStep(step, resumed);
  }

  private executeActivityStep(step: Step): Promise<void> {
    const state = this.step(step.id);
    let activity: Promise<StepActivityResult>;
    try {
      if (!this.beginStep(step, state, false)) return this.endNow(step, () => undefined);
      const params = this.validateWith(step, step.with);
      activity = stepActivities[step.type]!.executeWithOptions(stepActivityOptions(step, this.execution(step.id)), this.activityArgs(step, params));
    } catch (error) {
      return this.endNow(step, () => this.stepThrew(step, state, error));
    }
    return activity.then(
      (result) => {
        try {
          state.attempts = result.attempt;
          this.succeed(step, state, result.output);
        } catch (error) {
          this.stepThrew(step, state, error);
        } finally {
          this.stepDone(step);
        }
      },
      (error: unknown) => {
        try {
          this.stepThrew(step, state, error);
        } finally {
          this.stepDone(step);
        }
      },
    );
  }

  private async executeAnyStep(step: Step, resumed: boolean): Promise<void> {
    if (!resumed && this.expressionCosts.has(step.id) && patched(PREPARE_IN_TURN)) return this.executeExpressionStep(step);
    const state = this.step(step.id);
    try {
      if (!resumed && step.when !== undefined && !(await this.conditionHolds(step))) {
        this.settleSkipped(step.id, 'condition');
        return;
      }
      if (!this.beginStep(step, state, resumed)) return;
      const params = this.templated.has(step.id) ? await this.renderWith(step) : this.validateWith(step, step.with);
      let output: unknown;
      if (stepTypes[step.type].kind === 'activity') {
        const result = await stepActivities[step.type]!.executeWithOptions(stepActivityOptions(step, this.execution(step.id)), this.activityArgs(step, params));
        state.attempts = result.attempt;
        output = result.output;
      } else {
        output = await this.waitForStep(step, state, params, resumed);
      }
      this.succeed(step, state, output);
    } catch (error) {
      this.stepThrew(step, state, error);
    } finally {
      this.stepDone(step);
    }
  }

  /**
   * A step with a condition or templates: prepared in turn with the other such steps (evaluated and
   * rendered before it starts), then run like any step. One that its workflow task had no room
   * left for goes back to pending and is prepared again in the next task.
   */
  private async executeExpressionStep(step: Step): Promise<void> {
    const state = this.step(step.id);
    try {
      const prepared = await this.prepareInTurn(step);
      if (prepared === 'next-task') return this.requeue(step);
      if (prepared === 'skip') return this.settleSkipped(step.id, 'condition');
      if (!this.beginStep(step, state, false)) return;
      let output: unknown;
      if (stepTypes[step.type].kind === 'activity') {
        const options = stepActivityOptions(step, this.execution(step.id));
        const result = await stepActivities[step.type]!.executeWithOptions(options, this.activityArgs(step, prepared.params));
        state.attempts = result.attempt;
        output = result.output;
      } else {
        output = await this.waitForStep(step, state, prepared.params, false);
      }
      this.succeed(step, state, output);
    } catch (error) {
      this.stepThrew(step, state, error);
    } finally {
      this.stepDone(step);
    }
  }

  /**
   * Steps with expressions are prepared one after the other, in the order they were started, so
   * each evaluation has the task's budget to itself until it ends, and activities are scheduled in
   * start order whatever their expressions cost.
   */
  private prepareInTurn(step: Step): Promise<Preparation> {
    const turn = this.preparations.then(() => this.prepare(step));
    this.preparations = turn.catch(() => undefined);
    return turn;
  }

  private async prepare(step: Step): Promise<Preparation> {
    if (this.taskBudget.isExhausted()) return 'next-task';
    const alone = this.taskBudget.untouched();
    try {
      if (step.when !== undefined && !(await this.conditionHolds(step, !alone))) return 'skip';
      if (!this.templated.has(step.id)) return { params: this.validateWith(step, step.with) };
      const params = await this.renderWith(step, !alone);
      const bytes = jsonBytes(params);
      if (bytes > MAX_STEP_INPUT_BYTES) {
        throw stepFailure(
          FailureType.InvalidStepInput,
          `step ${step.id}: its rendered \`with\` is ${bytes} bytes as JSON; the limit is ${MAX_STEP_INPUT_BYTES}`,
        );
      }
      return this.taskBudget.takeInput(bytes) ? { params } : 'next-task';
    } catch (error) {
      if (error === NEXT_TASK) return 'next-task';
      throw error;
    }
  }

  /** Puts a step that was not prepared back among the pending ones, in dependency order. */
  private requeue(step: Step): void {
    this.pending = this.graph.order.filter((id) => id === step.id || this.pending.includes(id));
    this.changed = true;
  }

  /**
   * Settles a step that succeeded, unless its output would take what the run carries past
   * MAX_RUN_OUTPUT_BYTES: then it fails, so the run's state, result and continue-as-new input stay
   * within Temporal's payload limit instead of failing every workflow task that would carry them.
   */
  private succeed(step: Step, state: StepState, output: unknown): void {
    const bytes = output === undefined ? 0 : jsonBytes(output);
    if (this.outputBytes + bytes > MAX_RUN_OUTPUT_BYTES && patched(BOUND_RUN_OUTPUTS)) {
      const message =
        `step ${step.id}: its output of ${bytes} bytes would take the outputs this run carries past ` +
        `${MAX_RUN_OUTPUT_BYTES} bytes; return less, or split the work over runs`;
      this.settle(state, 'failed', undefined, { type: FailureType.RunOutputLimit, message });
      this.applyOnError(step);
      return;
    }
    this.outputBytes += bytes;
    this.settle(state, 'succeeded', output);
  }

  /** Marks a step running, or skips it when its group was decided meanwhile (then answers false). */
  private beginStep(step: Step, state: StepState, resumed: boolean): boolean {
    const group = this.graph.groupOf(step.id);
    if (group && this.closedGroups.has(group.id)) {
      this.settleSkipped(step.id, 'group');
      return false;
    }
    if (!resumed) {
      state.status = 'running';
      state.startedAt = now();
      if (group) this.groupStarted(group);
    }
    return true;
  }

  /** Called from a step's own promise, which nobody awaits: hence the crash guard. */
  private stepThrew(step: Step, state: StepState, error: unknown): void {
    this.guard.run(`settling step ${step.id}`, () => {
      if (isCancellation(error)) {
        this.settle(state, 'cancelled', undefined, this.cancelReasons.get(step.id));
      } else {
        state.attempts ||= failedAttempts(error) ?? 1;
        this.settle(state, 'failed', undefined, toStepError(error));
        this.applyOnError(step);
      }
    });
  }

  /** Ends a step that never reached its activity; like an async function, a throw becomes a rejection. */
  private endNow(step: Step, end: () => void): Promise<void> {
    try {
      try {
        end();
      } finally {
        this.stepDone(step);
      }
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private stepDone(step: Step): void {
    this.inFlight.delete(step.id);
    this.tasks.delete(step.id);
    this.changed = true;
  }

  /** Steps that wait in the workflow itself: durable timers and human decisions. */
  private waitForStep(step: Step, state: StepState, params: unknown, resumed: boolean): Promise<unknown> {
    state.attempts = 1;
    return stepTypes[step.type].kind === 'timer'
      ? this.delay(step, params as DelayWith)
      : this.awaitApproval(step, state, params as ApprovalWith, resumed);
  }

  /** With `deferrable`, a workflow task that runs out throws NEXT_TASK instead of failing the step. */
  private async conditionHolds(step: Step, deferrable = false): Promise<boolean> {
    try {
      return await evaluateCondition(step.when!, this.expressionContext(), { synchronous: patched(SYNCHRONOUS_EXPRESSIONS) });
    } catch (error) {
      if (deferrable && isWorkflowTaskBreach(error)) throw this.taskRanOut();
      throw stepFailure(FailureType.ExpressionError, `step ${step.id}: \`when\` failed: ${(error as Error).message}`);
    }
  }

  private taskRanOut(): typeof NEXT_TASK {
    this.taskBudget.markExhausted();
    return NEXT_TASK;
  }

  /** Renders `{{ }}` templates in `with` and checks the result against the step type's schema. */
  private async renderWith(step: Step, deferrable = false): Promise<unknown> {
    let rendered: unknown;
    try {
      rendered = await renderTemplate(step.with, this.expressionContext(), { synchronous: patched(SYNCHRONOUS_EXPRESSIONS) });
    } catch (error) {
      if (deferrable && isWorkflowTaskBreach(error)) throw this.taskRanOut();
      throw stepFailure(FailureType.ExpressionError, `step ${step.id}: \`with\` failed to render: ${(error as Error).message}`);
    }
    return this.validateWith(step, rendered);
  }

  private validateWith(step: Step, rendered: unknown): unknown {
    const parsed = stepTypes[step.type].withSchema.safeParse(rendered);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues
      .map((issue) => `with.${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw stepFailure(FailureType.InvalidStepInput, `step ${step.id} has an invalid \`with\`: ${problems}`);
  }

  private async delay(step: Step, params: DelayWith): Promise<undefined> {
    const duration = parseDuration(params.duration)!;
    const timeout = step.timeout ? parseDuration(step.timeout)! : Infinity;
    if (timeout < duration) {
      await sleep(timeout, { summary: step.id });
      throw stepFailure(FailureType.StepTimeout, `step ${step.id} timed out after ${step.timeout}`);
    }
    await sleep(duration, { summary: step.id });
    return undefined;
  }

  private async awaitApproval(step: Step, state: StepState, approval: ApprovalWith, resumed: boolean): Promise<unknown> {
    this.approvals.set(step.id, approval);
    // Reported in the state query, which the API reads to judge decisions before sending them.
    // Set again on replay and when a continued run resumes the wait: state is not history, so
    // recorded histories replay unchanged (runs recorded before it report it too once replayed).
    state.approvers = approverRuleOf(approval);
    if (!resumed) {
      state.status = 'waiting_approval';
      state.approvals = [];
      state.deadline = approvalDeadline(step, approval);
      this.changed = true;
      await this.notifyApprovers(step, approval, state.deadline);
    }
    const decided = () => approvalOutcome(state.approvals ?? [], approval.required) !== undefined;
    this.awaitingDecision.add(step.id);
    this.changed = true;
    try {
      if (state.deadline === undefined) await condition(decided);
      else {
        const remaining = Date.parse(state.deadline) - Date.now();
        if (remaining > 0) await condition(decided, remaining);
      }
    } finally {
      this.awaitingDecision.delete(step.id);
      this.approvals.delete(step.id);
    }
    const decisions = state.approvals ?? [];
    const approvedBy = decisions.filter((d) => d.decision === 'approved').map((d) => d.by);
    switch (approvalOutcome(decisions, approval.required)) {
      case 'approved':
        return { approved: true, approvedBy };
      case 'rejected': {
        const rejection = decisions.find((d) => d.decision === 'rejected')!;
        const reason = rejection.comment ? `: ${rejection.comment}` : '';
        throw stepFailure(FailureType.Rejected, `step ${step.id} rejected by ${rejection.by}${reason}`);
      }
      default:
        return this.approvalTimedOut(step, approval, approvedBy);
    }
  }

  private approvalTimedOut(step: Step, approval: ApprovalWith, approvedBy: string[]): unknown {
    log.info('approval timed out', { stepId: step.id, onTimeout: approval.onTimeout });
    switch (approval.onTimeout) {
      case 'approve':
        return { approved: true, approvedBy, timedOut: true };
      case 'reject':
        throw stepFailure(FailureType.Rejected, `step ${step.id} was not approved in time and is rejected`);
      case 'fail':
        throw stepFailure(FailureType.ApprovalTimeout, `step ${step.id} was not approved in time`);
    }
  }

  /** The approval notice; a notice that cannot be sent must not keep approvers from deciding. */
  private async notifyApprovers(step: Step, approval: ApprovalWith, deadline: string | undefined): Promise<void> {
    try {
      await notifyApprovers.executeWithOptions(
        { activityId: `notify:${activityIdFor(step.id, this.execution(step.id))}`, summary: `notify approvers of ${step.id}` },
        [
          {
            stepId: step.id,
            templateName: this.input.templateName,
            templateVersion: this.input.templateVersion,
            startedBy: this.input.startedBy,
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

  private applyOnError(step: Step): void {
    const error = this.step(step.id).error!;
    log.warn('step failed', { stepId: step.id, onError: step.onError, error });
    switch (step.onError) {
      case 'fail':
        this.end({ status: 'failed', error: { type: error.type, message: `step ${step.id} failed: ${error.message}` } });
        break;
      case 'pause':
        this.state.held.push(step.id);
        break;
      case 'continue':
        break;
    }
  }

  // ── Settling ──────────────────────────────────────────────────────────────────────────────────

  private settle(state: StepState, status: StepState['status'], output?: unknown, error?: StepError): void {
    state.status = status;
    state.finishedAt = now();
    if (output !== undefined) state.output = output;
    if (error) state.error = error;
    this.stepsContext[state.id] = { status, output: state.output };
    const group = this.graph.groupOf(state.id);
    if (group) this.checkGroup(group);
  }

  private settleSkipped(id: string, reason: NonNullable<StepState['skipReason']>): void {
    this.step(id).skipReason = reason;
    this.settle(this.step(id), 'skipped');
  }

  private skip(id: string, reason: NonNullable<StepState['skipReason']>): void {
    this.pending = this.pending.filter((pendingId) => pendingId !== id);
    this.settleSkipped(id, reason);
    this.changed = true;
  }

  // ── Groups ────────────────────────────────────────────────────────────────────────────────────

  private groupScope(group: Group): CancellationScope {
    let scope = this.groupScopes.get(group.id);
    if (!scope) {
      scope = new CancellationScope({ cancellable: true, parent: this.runScope });
      this.groupScopes.set(group.id, scope);
    }
    return scope;
  }

  private groupStarted(group: Group): void {
    if (!group.timeout || this.groupDeadlines.has(group.id)) return;
    const deadline = afterMs(group.timeout);
    this.groupDeadlines.set(group.id, deadline);
    this.armGroupTimer(group, deadline);
  }

  private armGroupTimer(group: Group, deadline: string): void {
    const timer = new CancellationScope({ cancellable: true, parent: this.runScope });
    this.groupTimers.set(group.id, timer);
    const remaining = Math.max(Date.parse(deadline) - Date.now(), 1);
    timer
      .run(() => sleep(remaining, { summary: `group ${group.id} timeout` }))
      .then(() => this.guard.run(`timing out group ${group.id}`, () => this.groupTimedOut(group)), ignoreCancellation);
  }

  private groupTimedOut(group: Group): void {
    const error = { type: FailureType.GroupTimeout, message: `group ${group.id} timed out after ${group.timeout}` };
    this.closeGroup(group, error);
    this.end({ status: 'failed', error });
  }

  /** Decides a group once its join policy allows, cancelling what the decision makes pointless. */
  private checkGroup(group: Group): void {
    if (this.closedGroups.has(group.id)) return;
    const outcome = groupOutcome(group, this.state);
    if (outcome === undefined) return;
    const unsettled = group.steps.filter((id) => !isSettled(this.step(id)));
    if (unsettled.length === 0) {
      this.closedGroups.add(group.id);
      this.stopGroupTimer(group);
    } else if (group.join === 'any') {
      this.closeGroup(group, { type: FailureType.GroupAny, message: `group ${group.id} already succeeded` });
    } else {
      this.closeGroup(group, { type: FailureType.GroupFailFast, message: `a step of group ${group.id} failed` });
    }
  }

  /** Cancels the group's running members and skips those that have not started. */
  private closeGroup(group: Group, reason: StepError): void {
    this.closedGroups.add(group.id);
    this.stopGroupTimer(group);
    for (const id of group.steps) {
      const member = this.step(id);
      if (member.status === 'pending' && !this.inFlight.has(id)) this.skip(id, 'group');
      else if (!isSettled(member)) this.cancelReasons.set(id, reason);
    }
    this.groupScopes.get(group.id)?.cancel();
    this.changed = true;
  }

  private stopGroupTimer(group: Group): void {
    this.groupTimers.get(group.id)?.cancel();
    this.groupTimers.delete(group.id);
    this.groupDeadlines.delete(group.id);
  }

  // ── Run deadline and ending ───────────────────────────────────────────────────────────────────

  private armRunTimer(): void {
    if (!this.runDeadline) return;
    const remaining = Math.max(Date.parse(this.runDeadline) - Date.now(), 1);
    sleep(remaining, { summary: 'run timeout' }).then(
      () => this.end({ status: 'timed_out', error: { type: FailureType.RunTimeout, message: `run timed out after ${this.input.spec.timeout}` } }),
      ignoreCancellation,
    );
  }

  private end(ending: Ending): void {
    this.ending ??= ending;
  }

  private async finish(outcome: Outcome): Promise<RunResult> {
    if (this.ending) {
      this.runScope.cancel();
      await Promise.all(this.tasks.values());
    } else if (outcome === 'continue-as-new') {
      return this.continueAsNew();
    }
    for (const step of Object.values(this.state.steps)) {
      if (!isSettled(step)) {
        step.status = 'cancelled';
        step.finishedAt = now();
      }
    }
    this.state.held = [];
    this.state.finishedAt = now();
    if (this.ending?.error) this.state.error = this.ending.error;
    this.publishStatus();
    await condition(allHandlersFinished);
    log.info('run finished', { status: this.state.status });
    switch (this.state.status) {
      case 'succeeded':
        return this.state;
      case 'cancelled':
        throw new CancelledFailure('run cancelled');
      case 'timed_out':
        throw ApplicationFailure.create({
          type: FailureType.RunTimedOut,
          message: this.state.error?.message ?? 'run timed out',
          nonRetryable: true,
          details: [this.state],
        });
      default:
        throw ApplicationFailure.create({
          type: this.ending?.crashed ? FailureType.RunCrashed : FailureType.RunFailed,
          message: this.state.error?.message ?? 'run failed',
          nonRetryable: true,
          details: [this.state],
        });
    }
  }

  private async continueAsNew(): Promise<never> {
    this.publishStatus();
    await condition(allHandlersFinished);
    log.info('continuing as new', { historyLength: workflowInfo().historyLength });
    const executions = Object.fromEntries(this.executions);
    return continueAsNew<(input: RunInput) => Promise<RunResult>>({
      ...this.input,
      carried: {
        state: this.state,
        runDeadline: this.runDeadline,
        groupDeadlines: Object.fromEntries(this.groupDeadlines),
        executions,
      },
    });
  }

  // ── Status ────────────────────────────────────────────────────────────────────────────────────

  private currentStatus(): RunStatus {
    if (this.ending && this.state.finishedAt) return this.ending.status;
    if (this.state.finishedAt) return 'succeeded';
    if (this.state.paused) return 'paused';
    if (this.state.held.length > 0) return 'held';
    const inFlight = [...this.inFlight];
    if (inFlight.length > 0 && inFlight.every((id) => this.awaitingDecision.has(id))) return 'waiting_approval';
    return 'running';
  }

  /** The RunStatus search attribute changes with the run's status, never per step. */
  private publishStatus(): void {
    const status = this.currentStatus();
    this.state.status = status;
    if (status === this.publishedStatus) return;
    this.publishedStatus = status;
    upsertSearchAttributes([{ key: RunStatusKey, value: status }]);
  }

  // ── Messages ──────────────────────────────────────────────────────────────────────────────────

  private validateDecision(decision: ApprovalDecision['decision'], command: ApprovalCommand): void {
    const step = this.state.steps[command.stepId];
    if (!step) throw refusal('NotFound', `no step ${command.stepId}`);
    const approval = this.approvals.get(command.stepId);
    if (step.status !== 'waiting_approval' || !approval) {
      throw refusal('Conflict', `step ${command.stepId} is not waiting for approval (it is ${step.status})`);
    }
    const refused = decisionRefusal(decision, command, approverRuleOf(approval), this.input.startedBy);
    if (refused) throw refusal(refused.type, refused.message);
  }

  private async decide(decision: ApprovalDecision['decision'], command: ApprovalCommand): Promise<StepState> {
    try {
      const step = this.step(command.stepId);
      const { required } = this.approvals.get(step.id)!;
      recordDecision(step, { decision, by: command.actor.subject, at: now(), comment: command.comment });
      log.info('approval decision', { stepId: step.id, decision, by: command.actor.subject });
      this.changed = true;
      // The decision that settles the approval is answered with the step as the run leaves it
      // (succeeded, failed, held), not as it was while waiting. Runs recorded before answered at once.
      if (approvalOutcome(step.approvals ?? [], required) !== undefined && patched(ANSWER_WITH_SETTLED_STEP)) {
        await condition(() => step.status !== 'waiting_approval');
      }
      return step;
    } catch (error) {
      throw this.guard.updateFailure(error, decision === 'approved' ? 'approve' : 'reject');
    }
  }

  private validateControl(pause: boolean): void {
    if (this.ending || this.state.finishedAt) throw refusal('Conflict', 'the run has finished');
    if (pause && this.state.paused) throw refusal('Conflict', 'the run is already paused');
    if (!pause && !this.state.paused) throw refusal('Conflict', 'the run is not paused');
  }

  private setPaused(paused: boolean, command: ControlCommand): RunState {
    this.state.paused = paused;
    log.info(paused ? 'run paused' : 'run resumed', { by: command.actor.subject, reason: command.reason });
    this.changed = true;
    this.publishStatus();
    return this.state;
  }

  private validateHeld(command: StepCommand): void {
    const step = this.state.steps[command.stepId];
    if (!step) throw refusal('NotFound', `no step ${command.stepId}`);
    if (this.ending || this.state.finishedAt) throw refusal('Conflict', 'the run has finished');
    if (!this.state.held.includes(command.stepId)) {
      throw refusal('Conflict', `step ${command.stepId} is not held (it is ${step.status})`);
    }
  }

  private retryHeld(command: StepCommand): StepState {
    const step = this.step(command.stepId);
    this.release(step.id);
    this.executions.set(step.id, this.execution(step.id) + 1);
    Object.assign(step, { status: 'pending', attempts: 0 });
    for (const field of ['startedAt', 'finishedAt', 'output', 'error'] as const) delete step[field];
    this.stepsContext[step.id] = { status: 'pending', output: undefined };
    this.pending = this.graph.order.filter((id) => id === step.id || this.pending.includes(id));
    log.info('held step retried', { stepId: step.id, by: command.actor.subject });
    return step;
  }

  private skipHeld(command: StepCommand): StepState {
    const step = this.step(command.stepId);
    this.release(step.id);
    this.settleSkipped(step.id, 'operator');
    log.info('held step skipped', { stepId: step.id, by: command.actor.subject });
    return step;
  }

  private release(id: string): void {
    this.state.held = this.state.held.filter((heldId) => heldId !== id);
    this.changed = true;
  }

  // ── Helpers ───────────────────────────────────────────────────────────────────────────────────

  private step(id: string): StepState {
    return this.state.steps[id]!;
  }

  private execution(id: string): number {
    return this.executions.get(id) ?? 1;
  }

  /**
   * A step activity's arguments: its `with`, then the run's tenant and where `with` holds secret
   * references, read from the spec (never from rendered values, which run inputs and step outputs
   * feed). Runs without a tenant (started before tenants existed) pass `with` alone, as they did.
   * Only the activity's input changes, never which commands the workflow issues: replay-safe.
   */
  private activityArgs(step: Step, params: unknown): [unknown] | [unknown, StepRunContext] {
    const { tenantId } = this.input;
    let secretPaths = this.secretPaths.get(step.id);
    if (secretPaths === undefined) {
      secretPaths = secretReferencePaths(step.with).map((path) => [...path]);
      this.secretPaths.set(step.id, secretPaths);
    }
    if (tenantId === undefined && secretPaths.length === 0) return [params];
    return [params, { ...(tenantId === undefined ? {} : { tenantId }), ...(secretPaths.length > 0 ? { secretPaths } : {}) }];
  }

  private expressionContext() {
    const info = workflowInfo();
    return {
      inputs: this.input.inputs,
      steps: this.stepsContext,
      run: {
        id: info.firstExecutionRunId,
        workflowId: info.workflowId,
        templateId: this.input.templateId,
        templateVersion: this.input.templateVersion,
      },
    };
  }
}

function isSettled(step: StepState): boolean {
  return step.status !== 'pending' && step.status !== 'running' && step.status !== 'waiting_approval';
}

/** The earlier of the approval's own timeout and the step's timeout, as an absolute time. */
function approvalDeadline(step: Step, approval: ApprovalWith): string | undefined {
  const limits = [approval.timeout, step.timeout].flatMap((d) => (d ? [parseDuration(d)!] : []));
  return limits.length === 0 ? undefined : new Date(Date.now() + Math.min(...limits)).toISOString();
}

/** A step's least expression cost; an expression that does not compile costs nothing here and fails the step when evaluated. */
function expressionCost(step: Step): number {
  try {
    return leastEvaluationCost(step.when, step.with);
  } catch {
    return 0;
  }
}
