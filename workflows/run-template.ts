import type { RunInput, RunResult } from './contract';
import { crashedBeforeStart } from './engine/crash-guard';
import { RunEngine } from './engine/run-engine';

/**
 * Runs one version of a template: schedules its steps as a DAG, waits for approvals, takes
 * operator control through updates, and returns the final state of every step.
 * A failed or timed-out run fails the workflow (types RunFailed / RunTimedOut, details = state);
 * a run whose spec or input made the engine itself throw fails as RunCrashed (details = state) rather
 * than failing its workflow task forever (engine/crash-guard.ts); a cancelled run ends Canceled.
 */
export async function runTemplate(input: RunInput): Promise<RunResult> {
  let engine: RunEngine;
  try {
    engine = new RunEngine(input);
  } catch (error) {
    throw crashedBeforeStart(error, input);
  }
  engine.installHandlers();
  return engine.execute();
}
