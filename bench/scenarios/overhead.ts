import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { SpecInput } from '../../workflows/spec/schema';
import type { BenchEnvironment } from '../environment';
import { historyEventSummary, runInput, timeEngineRun, timeHandWrittenRun, type EventKinds } from '../runs';
import { median, percentile, round } from '../stats';

export interface OverheadResult {
  engine: { medianMs: number; p95Ms: number; historyEvents: number; eventKinds: EventKinds };
  handWritten: { medianMs: number; p95Ms: number; historyEvents: number; eventKinds: EventKinds };
  /**
   * `median`: the median of the pairs' ratios (each engine run against the hand-written run beside
   * it), robust to the machine's drift; `ofMedians` and `p95`: engine's median or p95 over
   * hand-written's.
   */
  ratio: { median: number; ofMedians: number; p95: number };
  repetitions: number;
}

export interface OverheadCase {
  spec: SpecInput;
  handWrittenType: string;
  handWrittenArg: number;
  warmups: number;
  repetitions: number;
}

/** Fixes the order of every pair, so that two invocations make the same sequence of runs. */
const ORDER_SEED = 4;

/**
 * One run at a time, in pairs of an engine run and a hand-written run, warm-up pairs first,
 * unrecorded. Which of a pair goes first is drawn (from a fixed seed): the server and worker have
 * periodic rhythms of a few runs, and a fixed pattern such as ABBA can fall in step with one and
 * put every engine run on its slow beat.
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
  const rng = xoroshiro128plus(ORDER_SEED);
  for (let i = 0; i < c.repetitions; i++) {
    const order = uniformInt(rng, 0, 1) === 0 ? [engine, handWritten] : [handWritten, engine];
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
  const engineEvents = await historyEventSummary(env, lastEngine);
  const handEvents = await historyEventSummary(env, lastHand);
  return {
    engine: { medianMs: round(median(engineMs)), p95Ms: round(percentile(engineMs, 95)), historyEvents: engineEvents.total, eventKinds: engineEvents.kinds },
    handWritten: { medianMs: round(median(handMs)), p95Ms: round(percentile(handMs, 95)), historyEvents: handEvents.total, eventKinds: handEvents.kinds },
    ratio: {
      median: round(median(engineMs.map((ms, i) => ms / handMs[i]!)), 3),
      ofMedians: round(median(engineMs) / median(handMs), 3),
      p95: round(percentile(engineMs, 95) / percentile(handMs, 95), 3),
    },
    repetitions: c.repetitions,
  };
}
