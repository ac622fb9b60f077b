import { temporal } from '@temporalio/proto';
import { EXPRESSION_BOUNDS } from '../../workflows/spec/expression-bounds';
import { leastEvaluationCost } from '../../workflows/spec/expressions';
import { useTestWorker } from '../support/worker';
import { runInput, startRun } from './support';

/**
 * Wide fan-outs of steps with conditions and templates (workflows/engine/admission.ts): the engine
 * spreads their evaluation over workflow tasks, so no step fails on the per-task bound of evaluation
 * steps, however wide the fan-out.
 */

const env = useTestWorker();

const { EventType } = temporal.api.enums.v1;
const width = 300;
const template = '{{ $uppercase(inputs.service) & "-" & $string(run.templateVersion) & "-" & $join(["a", "b", "c"], ".") }}';

test('the fan-out is wider than one workflow task can evaluate', () => {
  expect(width * leastEvaluationCost(undefined, { output: template })).toBeGreaterThan(EXPRESSION_BOUNDS.maxWorkflowTaskSteps);
});

test('a wide fan-out of templated steps runs every step, over several workflow tasks', async () => {
  const steps = Array.from({ length: width }, (_, i) => ({ id: `t${i}`, type: 'noop' as const, with: { output: template } }));
  const handle = await startRun(env().client, env().taskQueue, runInput({ steps }, { inputs: { service: 'billing' } }));
  const result = await handle.result();

  expect(Object.values(result.steps).map((step) => step.status)).toEqual(Array(width).fill('succeeded'));
  expect(result.steps.t0!.output).toBe('BILLING-1-a.b.c');
  const events = (await handle.fetchHistory()).events ?? [];
  const completedTasks = events.filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  expect(completedTasks.length).toBeGreaterThan(1);
}, 120_000);

test('a wide fan-out of steps whose conditions are false skips them all, waking itself between tasks', async () => {
  const when = '$uppercase(inputs.service) = "NONE" and $length($join(["a", "b", "c"], ".")) > 3';
  const steps = Array.from({ length: width }, (_, i) => ({ id: `s${i}`, type: 'noop' as const, when }));
  const handle = await startRun(env().client, env().taskQueue, runInput({ steps }, { inputs: { service: 'billing' } }));
  const result = await handle.result();

  expect(Object.values(result.steps).every((step) => step.status === 'skipped' && step.skipReason === 'condition')).toBe(true);
  const events = (await handle.fetchHistory()).events ?? [];
  // No activity runs, so timers bring the later tasks.
  expect(events.some((event) => event.eventType === EventType.EVENT_TYPE_TIMER_FIRED)).toBe(true);
}, 120_000);
