import { randomUUID } from 'node:crypto';
import type { BenchEnvironment } from '../environment';
import { runInput, startEngineRun } from '../runs';
import { linearNoopSpec } from '../specs';
import { mapConcurrently, round } from '../stats';

export interface PoolResult {
  workers: number;
  runs: number;
  stepsPerRun: number;
  runsPerSecond: number;
  stepsPerSecond: number;
}

/** The same load (runs started at once) on a fresh queue served by `workers` worker processes. */
export async function measurePool(env: BenchEnvironment, workers: number, runs: number, stepsPerRun: number): Promise<PoolResult> {
  const taskQueue = `bench-pool-${randomUUID()}`;
  for (let i = 0; i < workers; i++) await env.startWorkerProcess(taskQueue);
  const input = runInput(linearNoopSpec(stepsPerRun));
  const begin = performance.now();
  const handles = await mapConcurrently(Array.from({ length: runs }), 32, () => startEngineRun(env, input, taskQueue));
  await Promise.all(handles.map((handle) => handle.result()));
  const seconds = (performance.now() - begin) / 1000;
  return { workers, runs, stepsPerRun, runsPerSecond: round(runs / seconds, 1), stepsPerSecond: round((runs * stepsPerRun) / seconds, 1) };
}
