import { randomUUID } from 'node:crypto';
import type { BenchEnvironment } from '../environment';
import { runInput } from '../runs';
import { linearNoopSpec } from '../specs';
import { mapConcurrently, percentile, round } from '../stats';
import { runStartOptions } from '../../apps/common/run-start-options';

export interface StartSide {
  startsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface StartThroughputResult {
  api: StartSide;
  rawClient: StartSide;
  ratio: number;
  starts: number;
  concurrency: number;
}

/**
 * Starts through `POST /api/v1/runs` against the raw client's `workflow.start`, on a task queue no
 * worker polls so that only starting is measured. Rounds alternate between the two sides.
 */
export async function measureStartThroughput(env: BenchEnvironment, options: { rounds: number; startsPerRound: number; concurrency: number }): Promise<StartThroughputResult> {
  const idleQueue = `bench-idle-${randomUUID()}`;
  const apiUrl = await env.startApi(idleQueue);
  const spec = linearNoopSpec(1);
  const template = await createTemplate(apiUrl, spec);
  const input = runInput(spec);
  const started: string[] = [];

  const viaApi = async (): Promise<void> => {
    const response = await fetch(`${apiUrl}/api/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user': 'bench' },
      body: JSON.stringify({ templateId: template, input: {} }),
    });
    if (response.status !== 201) throw new Error(`start answered ${response.status}: ${await response.text()}`);
    started.push(((await response.json()) as { workflowId: string }).workflowId);
  };
  const viaClient = async (): Promise<void> => {
    const handle = await env.client.workflow.start('runTemplate', runStartOptions(input, { workflowId: `run-${randomUUID()}`, taskQueue: idleQueue }));
    started.push(handle.workflowId);
  };

  const apiSamples: number[] = [];
  const clientSamples: number[] = [];
  let apiElapsed = 0;
  let clientElapsed = 0;
  await measureSide(viaApi, 20, options.concurrency, []); // warm-up: connection pools, JIT, caches
  await measureSide(viaClient, 20, options.concurrency, []);
  for (let round = 0; round < options.rounds; round++) {
    apiElapsed += await measureSide(viaApi, options.startsPerRound, options.concurrency, apiSamples);
    clientElapsed += await measureSide(viaClient, options.startsPerRound, options.concurrency, clientSamples);
  }
  await mapConcurrently(started, 32, (workflowId) => env.client.workflow.getHandle(workflowId).terminate('benchmark done').catch(() => undefined));

  const side = (samples: number[], elapsedMs: number): StartSide => ({
    startsPerSecond: round((samples.length / elapsedMs) * 1000, 1),
    p50Ms: round(percentile(samples, 50)),
    p99Ms: round(percentile(samples, 99)),
  });
  const api = side(apiSamples, apiElapsed);
  const rawClient = side(clientSamples, clientElapsed);
  return { api, rawClient, ratio: round(api.startsPerSecond / rawClient.startsPerSecond, 3), starts: apiSamples.length, concurrency: options.concurrency };
}

async function measureSide(start: () => Promise<void>, count: number, concurrency: number, samples: number[]): Promise<number> {
  const begin = performance.now();
  await mapConcurrently(Array.from({ length: count }), concurrency, async () => {
    const t = performance.now();
    await start();
    samples.push(performance.now() - t);
  });
  return performance.now() - begin;
}

async function createTemplate(apiUrl: string, spec: unknown): Promise<string> {
  const response = await fetch(`${apiUrl}/api/v1/templates`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user': 'bench' },
    body: JSON.stringify({ name: `bench-${randomUUID()}`, spec }),
  });
  if (response.status !== 201) throw new Error(`template create answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}
