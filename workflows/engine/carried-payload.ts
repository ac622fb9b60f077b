import { log, patched } from '@temporalio/workflow';
import type { StepError, StepState } from '../contract';
import { MAX_CARRIED_BYTES, MAX_RUN_OUTPUT_BYTES, MAX_STEP_ERROR_BYTES } from './limits';
import { isSettled, type RunContext } from './run-context';
import { jsonBytes } from './task-budget';

/** Patch id: runs recorded before the bound on the outputs a run carries kept every output. */
const BOUND_RUN_OUTPUTS = 'bound-run-outputs';
/** Patch id: runs recorded before step errors were cut to MAX_STEP_ERROR_BYTES kept them whole. */
const BOUND_STEP_ERRORS = 'bound-step-errors';
/**
 * Patch id: runs recorded before the outputs a run carries were bounded by what spec, inputs and
 * state leave of MAX_CARRIED_BYTES admitted outputs up to MAX_RUN_OUTPUT_BYTES whatever the rest
 * weighed, and continued as new however large that made the payload.
 */
const BOUND_CARRIED_PAYLOAD = 'bound-carried-payload';

/**
 * What a step's state may still grow by before it settles without an output: timestamps, status,
 * attempts, a skip reason, and its id in the run's `held` list.
 */
const UNSETTLED_GROWTH_BYTES = 192;
/** The rest of what continue-as-new carries beside the state's steps: run status, error, deadlines, executions. */
const ENVELOPE_BYTES = 8 * 1024;

/**
 * What continue-as-new hands on, counted as it changes: the run's input (spec and inputs, fixed for
 * a link of the chain), each step's state without its output (with room for what an unsettled step
 * may still add), and the step outputs. Outputs are admitted only while the sum stays within
 * MAX_CARRIED_BYTES, so a large spec leaves less room for outputs; step errors are cut to
 * MAX_STEP_ERROR_BYTES. Counting is per step as it settles, never over the whole state.
 */
export class CarriedPayload {
  private readonly fixedBytes: number;
  private readonly stepBytes = new Map<string, number>();
  private stateBytes = 0;
  private outputBytes = 0;
  private overLimitLogged = false;

  constructor(private readonly ctx: RunContext) {
    const { carried: _carried, ...input } = ctx.input;
    this.fixedBytes = jsonBytes(input) + ENVELOPE_BYTES + 64 * ctx.graph.groups.size;
    for (const step of Object.values(ctx.state.steps)) {
      this.stepChanged(step);
      if (step.output !== undefined) this.outputBytes += jsonBytes(step.output);
    }
  }

  /** Recounts a step whose state changed (settled, retried, decided on). */
  stepChanged(step: StepState): void {
    const bytes = jsonBytes({ ...step, output: undefined }) + step.id.length + 4 + (isSettled(step) ? 0 : UNSETTLED_GROWTH_BYTES);
    this.stateBytes += bytes - (this.stepBytes.get(step.id) ?? 0);
    this.stepBytes.set(step.id, bytes);
  }

  /** Why an output of `bytes` may not be kept, or undefined when it may (and is then counted). */
  admitOutput(stepId: string, bytes: number): string | undefined {
    if (this.outputBytes + bytes > MAX_RUN_OUTPUT_BYTES && patched(BOUND_RUN_OUTPUTS)) {
      return (
        `step ${stepId}: its output of ${bytes} bytes would take the outputs this run carries past ` +
        `${MAX_RUN_OUTPUT_BYTES} bytes; return less, or split the work over runs`
      );
    }
    const carried = this.fixedBytes + this.stateBytes + this.outputBytes;
    if (bytes > 0 && carried + bytes > MAX_CARRIED_BYTES && patched(BOUND_CARRIED_PAYLOAD)) {
      return (
        `step ${stepId}: its output of ${bytes} bytes would take what this run carries (its spec, inputs, ` +
        `state and outputs: ${carried} bytes) past ${MAX_CARRIED_BYTES} bytes; return less, or split the work over runs`
      );
    }
    this.outputBytes += bytes;
    return undefined;
  }

  /**
   * Whether continue-as-new can carry the run. Outputs never take it past the bound, but errors and
   * decisions still add to the state; a run that outgrew it keeps going in this execution (its
   * history has room to the end of most runs) rather than fail on a payload Temporal would refuse.
   */
  fitsContinueAsNew(): boolean {
    const carried = this.fixedBytes + this.stateBytes + this.outputBytes;
    if (carried <= MAX_CARRIED_BYTES || !patched(BOUND_CARRIED_PAYLOAD)) return true;
    if (!this.overLimitLogged) {
      this.overLimitLogged = true;
      log.warn('the run carries too much to continue as new; it goes on in this execution', { carried, limit: MAX_CARRIED_BYTES });
    }
    return false;
  }
}

/** A step error as the run keeps it: a message past MAX_STEP_ERROR_BYTES is cut, deterministically, with a marker. */
export function boundedStepError(error: StepError): StepError {
  const bytes = jsonBytes(error.message) - 2;
  if (bytes <= MAX_STEP_ERROR_BYTES || !patched(BOUND_STEP_ERRORS)) return error;
  const marker = ` … [cut: the message was ${bytes} bytes]`;
  return { ...error, message: utf8Prefix(error.message, MAX_STEP_ERROR_BYTES - jsonBytes(marker)) + marker };
}

/** The longest prefix of `text` whose UTF-8 (as JSON) fits in `limit` bytes, never splitting a character. */
export function utf8Prefix(text: string, limit: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = jsonBytes(char) - 2;
    if (bytes + size > limit) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}
