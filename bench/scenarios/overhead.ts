import type { SpecInput } from '../../workflows/spec/schema';
import type { BenchEnvironment } from '../environment';
import { historyEventCounts, runInput, timeEngineRun, timeHandWrittenRun } from '../runs';
import { median, percentile, round } from '../stats';

export interface OverheadResult {
  engine: { medianMs: number; p95Ms: number; historyEvents: number };
  handWritten: { medianMs: number; p95Ms: number; historyEvents: number };
  ratio: { median: number; p95: number };
  repetitions: number;
}

export interface OverheadCase {
  spec: SpecInput;
  handWrittenType: string;
  handWrittenArg: number;
  warmups: number;
  repetitions: number;
}

/**
 * One run at a time, engine and hand-written alternating (ABBA…) so drift in the machine's load
 * falls on both alike; warm-up runs first, unrecorded.
 */
export async function measureOverhead(env: BenchEnvironment, taskQueue: string, c: OverheadCase): Promise<OverheadResult> {
  const input = runInput(c.spec);
  const engine = () => timeEngineRun(env, input, taskQueue);
  const handWritten = () => timeHandWrittenRun(env, c.handWrittenType, c.handWrittenArg, taskQueue);
  for (let i = 0; i < c.warmups; i++) {
    await engine();
    await handWritten();
  }
  const engineMs: number[] = [];
  const handMs: number[] = [];
  let lastEngine = '';
  let lastHand = '';
  for (let i = 0; i < c.repetitions; i++) {
    const order = i % 2 === 0 ? [engine, handWritten] : [handWritten, engine];
    for (const run of order) {
      const { ms, handle } = await run();
      if (run === engine) {
        engineMs.push(ms);
        lastEngine = handle.workflowId;
      } else {
        handMs.push(ms);
        lastHand = handle.workflowId;
      }
    }
  }
  const engineEvents = (await historyEventCounts(env, lastEngine)).reduce((a, b) => a + b, 0);
  const handEvents = (await historyEventCounts(env, lastHand)).reduce((a, b) => a + b, 0);
  return {
    engine: { medianMs: round(median(engineMs)), p95Ms: round(percentile(engineMs, 95)), historyEvents: engineEvents },
    handWritten: { medianMs: round(median(handMs)), p95Ms: round(percentile(handMs, 95)), historyEvents: handEvents },
    ratio: { median: round(median(engineMs) / median(handMs), 3), p95: round(percentile(engineMs, 95) / percentile(handMs, 95), 3) },
    repetitions: c.repetitions,
  };
}
