import { temporal } from '@temporalio/proto';
import { MAX_RUN_OUTPUT_BYTES } from '../../workflows/engine/limits';
import { useTestWorker } from '../support/worker';
import { failedRunState, failureType, json, runInput, startHttpServer, startRun, type RunHandle } from './support';

/**
 * What a run may use of a workflow task and of Temporal's payload limits: steps that find their task
 * used up wait for the next one instead of failing, a rendered input or the outputs a run carries
 * past their bounds fail the step that went past them, and no run is left failing its workflow
 * tasks or terminated by the server.
 */

const env = useTestWorker();

const { EventType } = temporal.api.enums.v1;

/** Failed workflow tasks and terminations in the run's history, read in small pages (its events are large). */
async function troubleIn(handle: RunHandle): Promise<string[]> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await env().client.workflowService.getWorkflowExecutionHistory({
      namespace: env().client.options.namespace,
      execution: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId },
      maximumPageSize: 20,
      nextPageToken,
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events
    .filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED || event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED)
    .map((event) => String(event.eventType));
}

test('templated steps whose loops cost more than their size suggests wait for the next task instead of failing', async () => {
  const steps = Array.from({ length: 30 }, (_, i) => ({
    id: `m${i}`,
    type: 'noop' as const,
    with: { output: '{{ $sum($map([1..40], function($v){ $v * 2 })) }}' },
  }));
  const handle = await startRun(env().client, env().taskQueue, runInput({ steps }));
  const result = await handle.result();
  expect(Object.values(result.steps).map((step) => [step.status, step.output])).toEqual(Array(30).fill(['succeeded', 1640]));
  expect(await troubleIn(handle)).toEqual([]);
}, 120_000);

test('a rendered `with` over the input bound fails its step clearly', async () => {
  const huge = '{{ $pad("", 900000, "x") }}';
  const spec = { steps: [{ id: 'big', type: 'noop' as const, with: { output: { k1: huge, k2: huge, k3: huge } } }] };
  const handle = await startRun(env().client, env().taskQueue, runInput(spec));
  const error = await handle.result().catch((e: unknown) => e);
  expect(failureType(error)).toBe('RunFailed');
  expect(failedRunState(error).steps.big).toMatchObject({
    status: 'failed',
    error: { type: 'InvalidStepInput', message: expect.stringMatching(/rendered `with` is \d+ bytes as JSON; the limit is 262144/) },
  });
  expect(await troubleIn(handle)).toEqual([]);
}, 60_000);

test('outputs past what a run may carry fail the steps that bring them, and the run still ends', async () => {
  const steps = Array.from({ length: 12 }, (_, i) => ({
    id: `o${i}`,
    type: 'noop' as const,
    onError: 'continue' as const,
    with: { output: '{{ $pad("", 60000, "x") }}' },
  }));
  const handle = await startRun(env().client, env().taskQueue, runInput({ steps }));
  const result = await handle.result();
  const states = Object.values(result.steps);
  expect(states.filter((step) => step.status === 'succeeded')).toHaveLength(Math.floor(MAX_RUN_OUTPUT_BYTES / 60_002));
  for (const step of states.filter((s) => s.status !== 'succeeded')) {
    expect(step).toMatchObject({ status: 'failed', error: { type: 'RunOutputLimit', message: expect.stringMatching(/past 524288 bytes/) } });
  }
  expect(await troubleIn(handle)).toEqual([]);
}, 120_000);

test('rendered inputs more than one workflow task may schedule start over several tasks', async () => {
  const receiver = await startHttpServer({ '/take': (_request, response) => json(response, 200, { ok: true }) });
  try {
    // 40 bodies of 60 KB: 2.4 MB, more than a task may schedule (and, with the commands, than a gRPC message may hold).
    const steps = Array.from({ length: 40 }, (_, i) => ({
      id: `p${i}`,
      type: 'http' as const,
      with: { method: 'POST' as const, url: receiver.url('/take'), body: { blob: '{{ $pad("", 60000, "x") }}' } },
    }));
    const handle = await startRun(env().client, env().taskQueue, runInput({ steps }));
    const result = await handle.result();
    expect(Object.values(result.steps).every((step) => step.status === 'succeeded')).toBe(true);
    expect(receiver.requests).toHaveLength(40);
    expect(await troubleIn(handle)).toEqual([]);
  } finally {
    await receiver.close();
  }
}, 120_000);
