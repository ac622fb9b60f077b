/**
 * Limits shared by the workflow and the activities. Activities enforce the output limit so that
 * large payloads never reach the workflow history; the workflow only keeps what it is given.
 */

/** A step output whose JSON is larger than this is replaced by `{ truncated: true, bytes }`. */
export const MAX_STEP_OUTPUT_BYTES = 64 * 1024;

/** History length at which a run continues as new unless the input lowers it (Temporal may suggest it sooner). */
export const DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS = 8_000;

/**
 * Steps a run keeps in flight at once unless the input says otherwise (see admission.ts). Temporal
 * allows 2,000 pending activities per workflow and fails every workflow task that schedules more;
 * its guidance is to stay at or under 500.
 */
export const DEFAULT_MAX_STEPS_IN_FLIGHT = 500;

/** The most a run's input may raise the cap to: Temporal's own limit on pending activities. */
export const MAX_STEPS_IN_FLIGHT = 2_000;

/** Start-to-close timeout of an activity step that names no `timeout`. */
export const DEFAULT_ACTIVITY_STEP_TIMEOUT = '5m';

/** Heartbeat timeout of HTTP steps: they heartbeat while waiting, which is how cancellation reaches them. */
export const HTTP_HEARTBEAT_TIMEOUT = '20s';

/** Retry policy of a step that names no `retry`: three attempts, 1s then 2s apart. */
export const DEFAULT_STEP_RETRY = {
  maxAttempts: 3,
  initialInterval: '1s',
  backoffCoefficient: 2,
  nonRetryableErrors: [] as string[],
} as const;

/**
 * The largest rendered `with` a step may hand its activity. Rendering can build far more than the
 * spec holds (a template may pad a string to the expression bounds' megabyte), and what a workflow
 * task schedules must fit Temporal's 2 MB payload and 4 MB message limits.
 */
export const MAX_STEP_INPUT_BYTES = 256 * 1024;

/** Rendered inputs one workflow task may schedule in all; steps past it start in the next task. */
export const MAX_TASK_INPUT_BYTES = 2 * 1024 * 1024;

/**
 * Step outputs a run carries in all (its state, its result and what continue-as-new hands on must
 * stay under Temporal's 2 MB payload limit, next to a spec of up to 1 MiB); a step whose output would
 * go past it fails as `RunOutputLimit`. Where spec, inputs and state leave less (MAX_CARRIED_BYTES,
 * carried-payload.ts), the budget shrinks to what they leave.
 */
export const MAX_RUN_OUTPUT_BYTES = 512 * 1024;

/**
 * What continue-as-new may hand on in all, as JSON: the spec and inputs, the run's state and its
 * step outputs. Temporal refuses a payload over 2 MiB; the rest is room for the payload's envelope
 * (and the codec's, when payloads are encrypted). The same bound as a start's spec and input.
 */
export const MAX_CARRIED_BYTES = 2 * 1024 * 1024 - 128 * 1024;

/** A step error's message longer than this (UTF-8) is kept cut, with a marker saying how long it was. */
export const MAX_STEP_ERROR_BYTES = 2 * 1024;

/**
 * Items of a `forEach` one batch workflow runs (engine/for-each.ts). Each item costs its batch's
 * history three activity events and its share of workflow tasks (about 1,500 events per batch at
 * worst, far under Temporal's 10,240 warning), and at most MAX_FOR_EACH_ITEM_INPUT_BYTES in and
 * MAX_STEP_OUTPUT_BYTES out: 250 × 96 KiB stays under half Temporal's 50 MB history size limit.
 * A 10,000-item list is 40 batches: 40 child workflows in the run's own history.
 */
export const FOR_EACH_BATCH_SIZE = 250;

/** The largest rendered `with` one item of a `forEach` may hand its activity (see FOR_EACH_BATCH_SIZE). */
export const MAX_FOR_EACH_ITEM_INPUT_BYTES = 32 * 1024;

/**
 * What a `forEach` hands each batch of what its expressions read (run inputs and the outputs of the
 * steps they name): every batch's start carries it in the run's history, 40 batches at most.
 */
export const MAX_FOR_EACH_CONTEXT_BYTES = 512 * 1024;

/** Item failures a `forEach` step reports in detail (the rest are counted). */
export const MAX_FOR_EACH_REPORTED_FAILURES = 10;
