import { WorkflowFailedError } from '@temporalio/client';
import { pauseUpdate, resumeUpdate, retryStepUpdate } from '../../workflows/contract';
import { forEachBatchId } from '../../workflows/engine/for-each';
import { FOR_EACH_BATCH_SIZE } from '../../workflows/engine/limits';
import { startTestWorker, type TestWorker } from '../support/worker';
import { failedRunState, json, runInput, startHttpServer, startRun, waitForState } from './support';

let env: TestWorker;
let http: Awaited<ReturnType<typeof startHttpServer>>;
/** Requests to /slow in flight right now, and the most there ever were at once. */
let slowInFlight = 0;
let slowPeak = 0;
/** Whether /two-fails-once has failed its item 2 yet. */
let twoFailed = false;
/** /held answers only once the test lets it. */
const heldResponses: (() => void)[] = [];

beforeAll(async () => {
  env = await startTestWorker();
  http = await startHttpServer({
    '/slow': (request, response) => {
      slowInFlight++;
      slowPeak = Math.max(slowPeak, slowInFlight);
      setTimeout(() => {
        slowInFlight--;
        json(response, 200, JSON.parse(request.body || 'null'));
      }, 150);
    },
    '/odd-fails': (request, response) => {
      const { n } = JSON.parse(request.body) as { n: number };
      if (n % 2 === 1) json(response, 422, { error: `odd ${n}` });
      else json(response, 200, { n });
    },
    '/two-fails-once': (request, response) => {
      const { n } = JSON.parse(request.body) as { n: number };
      if (n === 2 && !twoFailed) {
        twoFailed = true;
        json(response, 422, { error: 'not yet' });
      } else json(response, 200, { n });
    },
    '/held': (request, response) => heldResponses.push(() => json(response, 200, JSON.parse(request.body || 'null'))),
  });
});
afterAll(async () => {
  await env?.shutdown();
  await http?.close();
});

test('a forEach runs its step once per item, with item and index in its with and when, outputs in order', async () => {
  const handle = await startSpec(
    {
      steps: [
        { id: 'base', type: 'noop', with: { output: 100 } },
        {
          id: 'each',
          type: 'noop',
          dependsOn: ['base'],
          forEach: { items: 'inputs.numbers' },
          when: 'item != 3',
          with: { output: '{{ {"index": index, "value": item + steps.base.output} }}' },
        },
        { id: 'after', type: 'noop', dependsOn: ['each'], with: { output: '{{ $count(steps.each.output) }}' } },
      ],
    },
    { inputs: { numbers: [1, 2, 3, 4] } },
  );
  const result = await handle.result();
  expect(result.status).toBe('succeeded');
  expect(result.steps.each!.output).toEqual([{ index: 0, value: 101 }, { index: 1, value: 102 }, null, { index: 3, value: 104 }]);
  expect(result.steps.each!.forEach).toEqual({ total: 4, succeeded: 3, failed: 0, skipped: 1 });
  expect(result.steps.after!.output).toBe(4);
});

test('an empty list succeeds at once with no outputs; a list expression yielding no list fails the step', async () => {
  const handle = await startSpec(
    {
      steps: [
        { id: 'none', type: 'noop', forEach: { items: 'inputs.missing' } },
        { id: 'scalar', type: 'noop', forEach: { items: 'inputs.word' }, onError: 'continue' },
      ],
    },
    { inputs: { word: 'hello' } },
  );
  const result = await handle.result();
  expect(result.steps.none).toMatchObject({ status: 'succeeded', output: [] });
  expect(result.steps.scalar!.status).toBe('failed');
  expect(result.steps.scalar!.error).toEqual({
    type: 'InvalidStepInput',
    message: 'step scalar: forEach.items yielded string, not a list; wrap the expression in [ ] to always get one',
  });
});

test('at most `concurrency` items run at once', async () => {
  slowPeak = 0;
  const handle = await startSpec({ steps: [postEachItem('/slow', { items: '[1..12]', concurrency: 3 })] });
  const result = await handle.result();
  expect(result.status).toBe('succeeded');
  expect((result.steps.calls!.output as { body: { n: number } }[]).map((output) => output.body.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  expect(slowPeak).toBe(3);
});

test('onError continue runs every item; the step fails with the others\' outputs and the run goes on', async () => {
  const handle = await startSpec({
    steps: [
      postEachItem('/odd-fails', { items: '[0..5]', concurrency: 2 }, { onError: 'continue' }),
      { id: 'independent', type: 'noop', with: { output: 'ran' } },
    ],
  });
  const result = await handle.result();
  expect(result.status).toBe('succeeded');
  const calls = result.steps.calls!;
  expect(calls.status).toBe('failed');
  expect(calls.forEach).toEqual({ total: 6, succeeded: 3, failed: 3, skipped: 0 });
  expect((calls.output as ({ body: { n: number } } | null)[]).map((output) => output?.body.n ?? null)).toEqual([0, null, 2, null, 4, null]);
  expect(calls.error!.type).toBe('ForEachItemsFailed');
  expect(calls.error!.message).toMatch(/^step calls: 3 of 6 items failed \(item 1: HttpClientError: .*item 3: .*item 5: /);
  expect(result.steps.independent!.output).toBe('ran');
});

test('onError fail stops at the first failed item and fails the run', async () => {
  const handle = await startSpec({ steps: [postEachItem('/odd-fails', { items: '[0..9]', concurrency: 1 })] });
  const error = await handle.result().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const state = failedRunState(error);
  expect(state.status).toBe('failed');
  expect(state.steps.calls!.forEach).toEqual({ total: 10, succeeded: 1, failed: 1, skipped: 0 });
  expect(state.error!.type).toBe('ForEachItemsFailed');
});

test('onError pause holds the step at the first failed item; an operator\'s retry runs every item again', async () => {
  const operator = { subject: 'olga', roles: ['ops'] };
  const handle = await startSpec({ steps: [postEachItem('/two-fails-once', { items: '[1..3]', concurrency: 1 }, { onError: 'pause', retry: { maxAttempts: 1 } })] });
  const held = await waitForState(handle, (state) => state.status === 'held');
  expect(held.steps.calls).toMatchObject({ status: 'failed', forEach: { total: 3, succeeded: 1, failed: 1, skipped: 0 } });
  expect((held.steps.calls!.output as unknown[])[2]).toBeNull();
  await handle.executeUpdate(retryStepUpdate, { args: [{ stepId: 'calls', actor: operator }] });
  const result = await handle.result();
  expect(result.steps.calls!.status).toBe('succeeded');
  expect((result.steps.calls!.output as { body: { n: number } }[]).map((output) => output.body.n)).toEqual([1, 2, 3]);
  // The retry ran in batch workflows of its own (execution 2).
  const retried = await env.client.workflow.getHandle(forEachBatchId(handle.firstExecutionRunId, 'calls', 2, 0)).describe();
  expect(retried.status.name).toBe('COMPLETED');
});

test(`a list longer than one batch (${FOR_EACH_BATCH_SIZE} items) runs in batch workflows, outputs in order`, async () => {
  const count = FOR_EACH_BATCH_SIZE * 2 + 17;
  const handle = await startSpec({ steps: [{ id: 'many', type: 'noop', forEach: { items: `[0..${count - 1}]`, concurrency: 50 }, with: { output: '{{ index }}' } }] });
  const result = await handle.result();
  expect(result.status).toBe('succeeded');
  expect(result.steps.many!.output).toEqual(Array.from({ length: count }, (_, i) => i));
  const children: string[] = [];
  for await (const execution of env.client.workflow.list({ query: `WorkflowType = 'forEachBatch' AND WorkflowId STARTS_WITH '${handle.firstExecutionRunId}/'` })) {
    children.push(execution.workflowId);
  }
  expect(children.sort()).toEqual([0, 1, 2].map((batch) => forEachBatchId(handle.firstExecutionRunId, 'many', 1, batch)));
  // A full batch's history: three activity events per item and the workflow tasks between them,
  // far under Temporal's 10,240-event warning; the run's own history holds a few events per batch.
  const batchEvents = (await env.client.workflow.getHandle(children[0]!).fetchHistory()).events!.length;
  expect(batchEvents).toBeGreaterThan(FOR_EACH_BATCH_SIZE * 3);
  expect(batchEvents).toBeLessThan(FOR_EACH_BATCH_SIZE * 6);
  const runEvents = (await handle.fetchHistory()).events!.length;
  expect(runEvents).toBeLessThan(60);
});

test('cancelling the run cancels the batch and its items in flight', async () => {
  heldResponses.length = 0;
  const handle = await startSpec({ steps: [postEachItem('/held', { items: '[1..4]', concurrency: 2 })] });
  await waitFor(() => heldResponses.length === 2);
  await handle.cancel();
  const error = await handle.result().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const batch = await env.client.workflow.getHandle(forEachBatchId(handle.firstExecutionRunId, 'calls', 1, 0)).describe();
  expect(batch.status.name).toBe('CANCELLED');
  const held = http.requests.filter((request) => request.path === '/held');
  expect(held).toHaveLength(2);
  expect(held.every((request) => request.aborted)).toBe(true);
});

test('a paused run starts no further batch until it is resumed', async () => {
  heldResponses.length = 0;
  const operator = { actor: { subject: 'olga', roles: ['ops'] } };
  const handle = await startSpec({ steps: [postEachItem('/held', { items: `[1..${FOR_EACH_BATCH_SIZE + 1}]`, concurrency: 100 }, { when: `item > ${FOR_EACH_BATCH_SIZE - 1}` })] });
  // The first batch's last item waits for the test; every other item of it is skipped.
  await waitFor(() => heldResponses.length === 1);
  await handle.executeUpdate(pauseUpdate, { args: [operator] });
  heldResponses.shift()!();
  await waitForState(handle, (state) => state.steps.calls!.forEach?.skipped === FOR_EACH_BATCH_SIZE - 1 && state.steps.calls!.forEach.succeeded === 1);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect(heldResponses).toHaveLength(0);
  await expect(env.client.workflow.getHandle(forEachBatchId(handle.firstExecutionRunId, 'calls', 1, 1)).describe()).rejects.toThrow();
  await handle.executeUpdate(resumeUpdate, { args: [operator] });
  await waitFor(() => heldResponses.length === 1);
  heldResponses.shift()!();
  const result = await handle.result();
  expect(result.steps.calls!.forEach).toEqual({ total: FOR_EACH_BATCH_SIZE + 1, succeeded: 2, failed: 0, skipped: FOR_EACH_BATCH_SIZE - 1 });
});

function startSpec(spec: Parameters<typeof runInput>[0], extra?: Parameters<typeof runInput>[1]) {
  return startRun(env.client, env.taskQueue, runInput(spec, extra));
}

/** The `calls` step: an HTTP POST of each item, as `{ n: item }`, to a path of the test server. */
function postEachItem(path: string, forEach: { items: string; concurrency: number }, options: Record<string, unknown> = {}) {
  return { id: 'calls', type: 'http' as const, ...options, forEach, with: { method: 'POST', url: http.url(path), body: { n: '{{ item }}' } } };
}

async function waitFor(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
