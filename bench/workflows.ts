/**
 * The bundle the benchmark's worker runs: the engine's workflow beside hand-written workflows that
 * call the same activities with the same options, so the two can be compared run for run.
 */
import { condition, defineUpdate, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { RunStatusKey } from '../workflows/search-attributes';
import type { NoopWith } from '../workflows/spec/step-types';

export { runTemplate, sendNotice, syncDolphinSchedulerHistory, testChannel } from '../workflows';

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
