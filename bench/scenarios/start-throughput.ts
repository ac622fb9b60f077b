import { randomUUID } from 'node:crypto';
import type { BenchEnvironment } from '../environment';
import { postJson } from '../http';
import { runInput } from '../runs';
import { linearNoopSpec } from '../specs';
import { mapConcurrently, median, percentile, round } from '../stats';
import { runStartOptions } from '../../apps/common/run-start-options';

export interface StartSide {
  /** Median over rounds. */
  startsPerSecond: number;
  /** CPU this process (load, API and client) spent per start. */
  cpuMsPerStart: number;
  p50Ms: number;
  p99Ms: number;
}

export interface StartThroughputResult {
  api: StartSide;
  rawClient: StartSide;
  /** Median of the rounds' ratios: each API round is compared with the raw round right after it. */
  ratio: number;
  roundRatios: number[];
  starts: number;
  concurrency: number;
}

interface Round {
  startsPerSecond: number;
  cpuMs: number;
}

/**
 * Starts through `POST /api/v1/runs` against the raw client's `workflow.start`, on a task queue no
 * worker polls so that only starting is measured. Rounds alternate between the two sides, so a
 * machine that slows down for a while slows both.
 */
export async function measureStartThroughput(env: BenchEnvironment, options: { rounds: number; startsPerRound: number; concurrency: number }): Promise<StartThroughputResult> {
  const idleQueue = `bench-idle-${randomUUID()}`;
  const api = await env.startApi(idleQueue);
  const apiUrl = api.url;
  const auth = { authorization: `Bearer ${await api.tokenFor('bench', ['editor', 'operator'])}` };
  const spec = linearNoopSpec(1);
  const template = await createTemplate(apiUrl, spec, auth);
  const input = runInput(spec);
  const started: string[] = [];

  const viaApi = async (): Promise<void> => {
    const answer = await postJson(`${apiUrl}/api/v1/runs`, { templateId: template, input: {} }, auth);
    if (answer.status !== 201) throw new Error(`start answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    started.push((answer.body as { workflowId: string }).workflowId);
  };
  const viaClient = async (): Promise<void> => {
    const handle = await env.client.workflow.start('runTemplate', runStartOptions(input, { workflowId: `run-${randomUUID()}`, taskQueue: idleQueue, tenantId: api.tenantId }));
    started.push(handle.workflowId);
  };

  const latencies = { api: [] as number[], rawClient: [] as number[] };
  const rounds = { api: [] as Round[], rawClient: [] as Round[] };
  await measureRound(viaApi, 20, options.concurrency, []); // warm-up: connection pools, JIT, caches
  await measureRound(viaClient, 20, options.concurrency, []);
  for (let i = 0; i < options.rounds; i++) {
    rounds.api.push(await measureRound(viaApi, options.startsPerRound, options.concurrency, latencies.api));
    rounds.rawClient.push(await measureRound(viaClient, options.startsPerRound, options.concurrency, latencies.rawClient));
  }
  await mapConcurrently(started, 32, (workflowId) => env.client.workflow.getHandle(workflowId).terminate('benchmark done').catch(() => undefined));

  const side = (sideRounds: Round[], samples: number[]): StartSide => ({
    startsPerSecond: round(median(sideRounds.map((r) => r.startsPerSecond)), 1),
    cpuMsPerStart: round(sideRounds.reduce((sum, r) => sum + r.cpuMs, 0) / samples.length),
    p50Ms: round(percentile(samples, 50)),
    p99Ms: round(percentile(samples, 99)),
  });
  const roundRatios = rounds.api.map((r, i) => round(r.startsPerSecond / rounds.rawClient[i]!.startsPerSecond, 3));
  return {
    api: side(rounds.api, latencies.api),
    rawClient: side(rounds.rawClient, latencies.rawClient),
    ratio: round(median(roundRatios), 3),
    roundRatios,
    starts: latencies.api.length,
    concurrency: options.concurrency,
  };
}

async function measureRound(start: () => Promise<void>, count: number, concurrency: number, latencies: number[]): Promise<Round> {
  const begin = performance.now();
  const cpuBefore = process.cpuUsage();
  await mapConcurrently(Array.from({ length: count }), concurrency, async () => {
    const t = performance.now();
    await start();
    latencies.push(performance.now() - t);
  });
  const cpu = process.cpuUsage(cpuBefore);
  return { startsPerSecond: (count / (performance.now() - begin)) * 1000, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function createTemplate(apiUrl: string, spec: unknown, auth: Record<string, string>): Promise<string> {
  const answer = await postJson(`${apiUrl}/api/v1/templates`, { name: `bench-${randomUUID()}`, spec }, auth);
  if (answer.status !== 201) throw new Error(`template create answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return (answer.body as { id: string }).id;
}
