import { patched } from '@temporalio/workflow';
import { EXPRESSION_BOUNDS, workflowTaskStepsLeft } from '../spec/expression-bounds';
import type { RunLimits } from '../contract';
import { DEFAULT_MAX_STEPS_IN_FLIGHT, MAX_STEPS_IN_FLIGHT } from './limits';

/**
 * Admission: which ready steps start now. Temporal refuses more than 2,000 pending activities per
 * workflow, and a workflow task that schedules more fails and is retried forever, so a run keeps at
 * most `limits.maxStepsInFlight` steps holding Temporal resources at once.
 *
 * What holds a slot: a step from its start until it settles, i.e. while its activity or its timer
 * (a `delay`) is pending, and an approval while its approvers are being notified (an activity).
 * An approval waiting for decisions holds none: it waits on the run's own state, and its deadline
 * is a timer, which Temporal does not count against that limit. So a run may wait on any number of
 * approvals. Ready steps beyond the cap stay pending, in dependency order, and start as slots free;
 * they are still `pending` in the run's state, so a group decided meanwhile skips them ('group'),
 * a pause or continue-as-new keeps them for later, and the run's deadline cancels them.
 */

/** Patch id: runs recorded before the cap started every ready step at once. */
export const CAP_STEPS_IN_FLIGHT = 'cap-steps-in-flight';

/** The run's cap: its input's, within Temporal's limit, or the default when it names none (or nonsense). */
export function maxStepsInFlight(limits: RunLimits | undefined): number {
  const limit = limits?.maxStepsInFlight;
  if (limit === undefined || !Number.isInteger(limit) || limit < 1) return DEFAULT_MAX_STEPS_IN_FLIGHT;
  return Math.min(limit, MAX_STEPS_IN_FLIGHT);
}

/**
 * The ready steps to start now: all of them while they fit in the free slots, otherwise the first
 * ones (`ready` is in dependency order) up to the cap.
 *
 * Replay safety: below the cap every ready step starts, exactly as before the cap existed, and
 * nothing reaches the history. `patched()` is asked only when the cap holds steps back; it records
 * its marker then, so a run recorded before the cap (whose task started them all) replays as it ran.
 */
export function admit<T>(ready: T[], slotsTaken: number, limit: number): T[] {
  const free = Math.max(limit - slotsTaken, 0);
  if (ready.length <= free || !patched(CAP_STEPS_IN_FLIGHT)) return ready;
  return ready.slice(0, free);
}

/** Patch id: runs recorded before expression costs were spread over workflow tasks evaluated every ready step at once. */
export const SPREAD_EXPRESSION_COST = 'spread-expression-cost';

/**
 * The share of a workflow task's expression budget (`EXPRESSION_BOUNDS.maxWorkflowTaskSteps`) that
 * steps may be admitted against by their least cost: the rest is headroom for loops, which cost more
 * than their nodes.
 */
const ADMISSION_SHARE = 0.5;

/**
 * Spreads the steps whose conditions and templates must be evaluated over workflow tasks, so that a
 * wide fan-out of templated steps never reaches the per-task bound on evaluation steps (the bound keeps
 * an activation inside the SDK's execution timeout; a step over it would fail). Steps are admitted by
 * their least cost (`leastEvaluationCost`) while it fits in the task's share; the first step of a task
 * always is, so a run always moves on. Those held back stay pending for the next task, and so does
 * every step with expressions once a step ran into one of the task's limits (`taskExhausted`).
 *
 * Replay safety: `patched()` is asked only when a step is held back, as for the cap above.
 */
export function admitWithinExpressionBudget<T>(
  ready: T[],
  costOf: (item: T) => number,
  taskExhausted: boolean,
): { admitted: T[]; deferred: number } {
  const { maxWorkflowTaskSteps } = EXPRESSION_BOUNDS;
  const firstOfTask = !taskExhausted && workflowTaskStepsLeft() === maxWorkflowTaskSteps;
  let left = taskExhausted ? 0 : workflowTaskStepsLeft() - maxWorkflowTaskSteps * (1 - ADMISSION_SHARE);
  const admitted: T[] = [];
  for (const [index, item] of ready.entries()) {
    const cost = costOf(item);
    if (cost > 0 && cost > left && !(firstOfTask && admitted.length === 0)) {
      if (!patched(SPREAD_EXPRESSION_COST)) return { admitted: ready, deferred: 0 };
      // Steps without expressions cost nothing and still start; the rest wait for the next task.
      const rest = ready.slice(index + 1).filter((other) => costOf(other) === 0);
      return { admitted: [...admitted, ...rest], deferred: ready.length - index - rest.length };
    }
    left -= cost;
    admitted.push(item);
  }
  return { admitted, deferred: 0 };
}
