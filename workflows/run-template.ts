import type { RunInput, RunResult } from './contract';
import { RunEngine } from './engine/run-engine';

/**
 * Runs one version of a template: schedules its steps as a DAG, waits for approvals, takes
 * operator control through updates, and returns the final state of every step.
 * A failed or timed-out run fails the workflow (types RunFailed / RunTimedOut, details = state);
 * a cancelled run ends Canceled.
 */
export async function runTemplate(input: RunInput): Promise<RunResult> {
  const engine = new RunEngine(input);
  engine.installHandlers();
  return engine.execute();
}
