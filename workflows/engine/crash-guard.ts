import { ApplicationFailure, ContinueAsNew, IllegalStateError, isCancellation, log, TemporalFailure, WorkflowError } from '@temporalio/workflow';
import type { RunInput, RunState, StepError } from '../contract';
import { FailureType } from './failures';

/**
 * The crash guard: whatever a run's own spec or input makes the engine throw ends that run failed,
 * with the failure type RunCrashed and the run's state in the failure's details like any failed run,
 * instead of failing its workflow task.
 *
 * Why: the SDK fails the workflow execution only for a TemporalFailure (ApplicationFailure…). Any
 * other error thrown by workflow code (a TypeError, a RangeError), and any unhandled rejection,
 * fails the workflow TASK, which Temporal retries forever: the run would be wedged, answering
 * nothing, until someone terminates it. The SDK's own escape hatch (`workflowFailureErrorTypes` on
 * the worker, `failureExceptionTypes` on the workflow, both experimental in 1.24) would fail the
 * workflow on chosen error types, but from wherever the error escaped: without the run's state and
 * without cancelling what still runs. Catching where the engine runs lets a crashed run finish like
 * any failed one.
 *
 * What the guard leaves to the SDK: its own errors (WorkflowError, e.g. DeterminismViolationError;
 * IllegalStateError) and nondeterminism, which the SDK's core detects without ever throwing into
 * workflow code. Those are bugs in code, not in a run's data: a failing task, which a fixed
 * deployment resumes, is the right answer for them. Cancellation and continue-as-new travel as
 * errors too and pass untouched.
 */

/** Errors the guard hands on as they are: the SDK's own, and the control flow it expresses as errors. */
function isForTheSdk(error: unknown): boolean {
  return error instanceof WorkflowError || error instanceof IllegalStateError || error instanceof ContinueAsNew || isCancellation(error);
}

/** The run's error after a crash: what was thrown, and what the engine was doing. */
function crashError(error: unknown, where: string): StepError {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { type: FailureType.RunCrashed, message: `the engine failed ${where}: ${what}` };
}

function crashFailure(error: StepError, state?: RunState): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.RunCrashed, message: error.message, nonRetryable: true, details: state ? [state] : undefined });
}

/**
 * Guards one run's engine. `onCrash` ends the run with the crash as its error; the engine then
 * finishes it as it finishes any failed run.
 */
export class CrashGuard {
  constructor(private readonly onCrash: (error: StepError) => void) {}

  /**
   * Records a crash caught where nothing waits for the error (the scheduler, a step's callbacks, a
   * timer's): the run ends crashed. Errors meant for the SDK are thrown on.
   */
  crashed(error: unknown, where: string): void {
    if (isForTheSdk(error)) throw error;
    const crash = crashError(error, where);
    log.error('run crashed', { error: crash });
    this.onCrash(crash);
  }

  /** Runs engine code that a promise nobody awaits calls: a throw would be an unhandled rejection, which fails the task. */
  run(where: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.crashed(error, where);
    }
  }

  /**
   * What an update handler throws: the SDK fails only the update on a TemporalFailure but fails the
   * task on anything else, so such an error ends the run crashed and fails the update with the same
   * RunCrashed failure.
   */
  updateFailure(error: unknown, update: string): unknown {
    if (isForTheSdk(error) || error instanceof TemporalFailure) return error;
    const crash = crashError(error, `in the ${update} update`);
    log.error('run crashed', { error: crash });
    this.onCrash(crash);
    return crashFailure(crash);
  }

  /** A synchronous update handler, guarded as `updateFailure` says. */
  update<T>(update: string, handle: () => T): T {
    try {
      return handle();
    } catch (error) {
      throw this.updateFailure(error, update);
    }
  }

  /**
   * What finishing the run throws: its own RunFailed, RunTimedOut, cancellation or continue-as-new
   * as they are; an error of the engine's own becomes RunCrashed with the state as far as it got.
   */
  finishFailure(error: unknown, state: RunState): unknown {
    if (isForTheSdk(error) || error instanceof TemporalFailure) return error;
    const crash = crashError(error, 'while finishing the run');
    log.error('run crashed', { error: crash });
    return crashFailure(crash, { ...state, status: 'failed', error: crash });
  }
}

/**
 * What a run whose engine could not even be built (its spec or input made the constructor throw)
 * fails with. Its state lists the spec's steps, none of which ran, as cancelled, which is how a
 * finished run shows steps it never settled; a spec too broken to list gives no state.
 */
export function crashedBeforeStart(error: unknown, input: RunInput): unknown {
  if (isForTheSdk(error)) return error;
  const crash = crashError(error, "while reading the run's spec and input");
  log.error('run crashed', { error: crash });
  return crashFailure(crash, unstartedState(input, crash));
}

function unstartedState(input: RunInput, error: StepError): RunState | undefined {
  try {
    const at = new Date().toISOString();
    const steps = input.spec.steps.map((step) => [step.id, { id: step.id, type: step.type, status: 'cancelled', attempts: 0, finishedAt: at }] as const);
    return { status: 'failed', paused: false, held: [], startedAt: at, finishedAt: at, error, steps: Object.fromEntries(steps) };
  } catch {
    return undefined;
  }
}
