/**
 * The bundle the benchmark's worker runs: the engine's workflow beside hand-written workflows that
 * call the same activities with the same options, so the two can be compared run for run.
 */
import { condition, defineUpdate, executeChild, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { FOR_EACH_BATCH_SIZE } from '../workflows/engine/limits';
import { FOR_EACH_BENCH_CONCURRENCY } from './specs';
import { RunStatusKey } from '../workflows/search-attributes';
import type { NoopWith } from '../workflows/spec/step-types';

export { forEachBatch, runTemplate, sendNotice, syncDolphinSchedulerHistory, testChannel } from '../workflows';

// The same timeout and retry policy the engine gives a step with no `timeout` or `retry` of its own.
const { noop } = proxyActivities<{ noop(input: NoopWith): Promise<unknown> }>({
  startToCloseTimeout: '5m',
  retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2 },
});

export async function handWrittenLinear(steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) await noop({});
}

export async function handWrittenFanOut(width: number): Promise<void> {
  await Promise.all(Array.from({ length: width }, () => noop({})));
}

export const approveHandWritten = defineUpdate<void>('approve');

/** Waits for one approval, and says so in visibility the way the engine does. */
export async function handWrittenApproval(): Promise<void> {
  let approved = false;
  setHandler(approveHandWritten, () => {
    approved = true;
  });
  upsertSearchAttributes([{ key: RunStatusKey, value: 'waiting_approval' }]);
  await condition(() => approved);
}


/**
 * What a `forEach` of `count` noop items does, by hand: the same batches of FOR_EACH_BATCH_SIZE, one
 * child workflow each, one after the other, each running its items FOR_EACH_BENCH_CONCURRENCY at a
 * time and returning their outputs in order.
 */
export async function handWrittenForEach(count: number): Promise<unknown[]> {
  const outputs: unknown[] = [];
  for (let offset = 0; offset < count; offset += FOR_EACH_BATCH_SIZE) {
    const size = Math.min(FOR_EACH_BATCH_SIZE, count - offset);
    outputs.push(...(await executeChild(handWrittenForEachBatch, { workflowId: `${workflowInfo().workflowId}/${offset}`, args: [offset, size] })));
  }
  return outputs;
}

export async function handWrittenForEachBatch(offset: number, size: number): Promise<unknown[]> {
  const outputs: unknown[] = new Array(size).fill(null);
  let next = 0;
  const lane = async () => {
    while (next < size) {
      const position = next++;
      outputs[position] = await noop({ output: offset + position });
    }
  };
  await Promise.all(Array.from({ length: Math.min(FOR_EACH_BENCH_CONCURRENCY, size) }, lane));
  return outputs;
}
