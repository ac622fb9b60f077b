import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { RunInput, RunState, StepError, StepState } from '../contract';
import { maxStepsInFlight } from './admission';
import { carriedOver } from './continuation';
import { CrashGuard } from './crash-guard';
import { RunGraph } from './graph';
import { TransitionJournal } from './transitions';

/** How a run ends early: a step failed with onError "fail", a deadline passed, it was cancelled, or the engine crashed on it. */
export interface Ending {
  status: 'failed' | 'timed_out' | 'cancelled';
  error?: StepError;
  crashed?: boolean;
}

export function ignoreCancellation(error: unknown): void {
  if (!isCancellation(error)) throw error;
}

export function isSettled(step: StepState): boolean {
  return step.status !== 'pending' && step.status !== 'running' && step.status !== 'waiting_approval';
}

/**
 * What the systems of one run's engine share: the run's input, graph and state, and the plain-memory
 * bookkeeping the scheduler reads (which steps wait, which run, whether anything changed). Each
 * system (scheduler.ts, step-execution.ts, groups.ts…) owns its own concern and reads or writes only
 * this; none issues a Temporal command on another's behalf.
 */
export class RunContext {
  readonly graph: RunGraph;
  readonly state: RunState;
  /** Pending steps in dependency order: the only ones the scheduler looks at. */
  pending: string[];
  /** Steps whose execution is under way, and the promises of those executions (awaited when the run ends). */
  readonly inFlight = new Set<string>();
  readonly tasks = new Map<string, Promise<void>>();
  /** Approval steps waiting for decisions: they hold no Temporal resource (admission.ts). */
  readonly awaitingDecision = new Set<string>();
  /** How many times operators re-ran each step (retryStep), so activity ids stay unique. */
  readonly executions: Map<string, number>;
  /** What expressions see of the steps: `steps.<id>.status` and `.output`. */
  readonly stepsContext: Record<string, { status: string; output: unknown }> = {};
  readonly runDeadline?: string;
  /** Deadlines of the groups that started before this link of the chain (groups.ts owns them from here). */
  readonly carriedGroupDeadlines: ReadonlyMap<string, string>;
  readonly runScope = new CancellationScope();
  readonly guard = new CrashGuard((error) => this.end({ status: 'failed', error, crashed: true }));
  readonly maxStepsInFlight: number;
  /** Transitions on their way to the run's event stream (transitions.ts). */
  readonly transitions = new TransitionJournal();
  ending?: Ending;
  /** Set once continue-as-new is due: nothing new starts, and the run continues once only approvals wait. */
  draining = false;
  /** Set by whatever the scheduler should look at again; it clears it when it does. */
  changed = false;

  constructor(readonly input: RunInput) {
    this.graph = new RunGraph(input.spec);
    const carried = carriedOver(input);
    this.state = carried.state;
    this.maxStepsInFlight = maxStepsInFlight(input.limits);
    this.runDeadline = carried.runDeadline;
    this.executions = carried.executions;
    this.carriedGroupDeadlines = carried.groupDeadlines;
    this.pending = this.graph.order.filter((id) => this.step(id).status === 'pending');
    for (const step of Object.values(this.state.steps)) this.stepsContext[step.id] = { status: step.status, output: step.output };
  }

  step(id: string): StepState {
    return this.state.steps[id]!;
  }

  execution(id: string): number {
    return this.executions.get(id) ?? 1;
  }

  /** The first ending wins: a run that failed and then timed out stays failed. */
  end(ending: Ending): void {
    this.ending ??= ending;
  }

  /** Puts a step back among the pending ones, in dependency order. */
  requeue(id: string): void {
    this.pending = this.graph.order.filter((pendingId) => pendingId === id || this.pending.includes(pendingId));
  }

  removePending(id: string): void {
    this.pending = this.pending.filter((pendingId) => pendingId !== id);
  }
}
