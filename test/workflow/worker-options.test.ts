import { useTestWorker } from '../support/worker';

/** Options the run worker depends on that the SDK's public types do not cover. */

const env = useTestWorker();

test('a workflow activation may run 60 s of wall-clock time before the SDK stops it', () => {
  // The SDK's 5 s default kills the worker when a starved machine stretches a bounded activation past it.
  expect(env().worker.options.isolateExecutionTimeoutMs).toBe(60_000);
});
