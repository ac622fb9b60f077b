/**
 * `npm run bench`: the engine against hand-written Temporal workflows on the same server and
 * worker, plus start throughput, approval latency, scale and pool scaling. Prints a table and
 * writes the figures to bench/results/<time>.json. `npm run bench -- --quick` runs fewer samples.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { BenchEnvironment } from './environment';
import { closeConnections } from './http';
import { measureApprovalLatency } from './scenarios/approval-latency';
import { measureOverhead } from './scenarios/overhead';
import { measurePool } from './scenarios/pool';
import { measureLongRun, measureValidation, measureWaitingMemory } from './scenarios/scale';
import { measureStartThroughput } from './scenarios/start-throughput';
import { fanOutSpec, linearNoopSpec } from './specs';

const TARGETS = { overheadRatio: 1.15, startThroughputRatio: 0.8 };

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const size = quick
    ? { reps: 8, warmups: 2, startRounds: 2, startsPerRound: 100, approvals: 10, longRunSteps: 2000, waitingRuns: 1000, poolRuns: 60 }
    : { reps: 25, warmups: 5, startRounds: 4, startsPerRound: 200, approvals: 40, longRunSteps: 2000, waitingRuns: 5000, poolRuns: 200 };
  const env = await BenchEnvironment.start();
  const results: Record<string, unknown> = {
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    startedAt: new Date().toISOString(),
    quick,
  };
  try {
    const taskQueue = `bench-${randomUUID()}`;
    await env.startWorker(taskQueue);

    step('1. overhead: 20 linear noop steps');
    results.linear = await measureOverhead(env, taskQueue, {
      spec: linearNoopSpec(20), handWrittenType: 'handWrittenLinear', handWrittenArg: 20, warmups: size.warmups, repetitions: size.reps,
    });
    step('2. overhead: a 50-wide parallel group');
    results.fanOut = await measureOverhead(env, taskQueue, {
      spec: fanOutSpec(50), handWrittenType: 'handWrittenFanOut', handWrittenArg: 50, warmups: size.warmups, repetitions: size.reps,
    });
    step('3. start throughput: API against the raw client');
    results.starts = await measureStartThroughput(env, { rounds: size.startRounds, startsPerRound: size.startsPerRound, concurrency: 16 });
    step('4. approval latency');
    results.approval = await measureApprovalLatency(env, taskQueue, size.approvals);
    step('5. scale');
    results.validation = await measureValidation(1000, 5);
    results.longRun = await measureLongRun(env, taskQueue, size.longRunSteps);
    results.waitingMemory = await measureWaitingMemory(env, size.waitingRuns);
    step('6. pool scaling');
    results.pool = [await measurePool(env, 1, size.poolRuns, 10), await measurePool(env, 2, size.poolRuns, 10)];
  } finally {
    closeConnections();
    await env.stop();
  }
  results.finishedAt = new Date().toISOString();
  const dir = resolve(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, `${String(results.startedAt).replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  printTable(results);
  console.log(`\nfigures written to ${file}`);
}

function step(title: string): void {
  console.log(`[bench] ${title}`);
}

/* eslint-disable @typescript-eslint/no-explicit-any */
function printTable(r: Record<string, any>): void {
  const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');
  const rows: [string, string, string][] = [
    ['linear 20 noop: engine / hand-written median (p95) ms', `${r.linear.engine.medianMs} (${r.linear.engine.p95Ms}) / ${r.linear.handWritten.medianMs} (${r.linear.handWritten.p95Ms})`, ''],
    ['linear 20 noop: ratio median (p95)', `${r.linear.ratio.median} (${r.linear.ratio.p95})`, verdict(r.linear.ratio.median <= TARGETS.overheadRatio)],
    ['linear 20 noop: history events engine / hand-written', `${r.linear.engine.historyEvents} / ${r.linear.handWritten.historyEvents}`, ''],
    ['fan-out 50: engine / hand-written median (p95) ms', `${r.fanOut.engine.medianMs} (${r.fanOut.engine.p95Ms}) / ${r.fanOut.handWritten.medianMs} (${r.fanOut.handWritten.p95Ms})`, ''],
    ['fan-out 50: ratio median (p95)', `${r.fanOut.ratio.median} (${r.fanOut.ratio.p95})`, verdict(r.fanOut.ratio.median <= TARGETS.overheadRatio)],
    ['fan-out 50: history events engine / hand-written', `${r.fanOut.engine.historyEvents} / ${r.fanOut.handWritten.historyEvents}`, ''],
    ['starts/s API / raw client', `${r.starts.api.startsPerSecond} / ${r.starts.rawClient.startsPerSecond} (ratio ${r.starts.ratio})`, verdict(r.starts.ratio >= TARGETS.startThroughputRatio)],
    ['start latency p50 / p99 ms: API', `${r.starts.api.p50Ms} / ${r.starts.api.p99Ms}`, ''],
    ['start latency p50 / p99 ms: raw client', `${r.starts.rawClient.p50Ms} / ${r.starts.rawClient.p99Ms}`, ''],
    ['approval: answer → next step scheduled p50 / p99 ms', `${r.approval.fromAnswer.p50Ms} / ${r.approval.fromAnswer.p99Ms}`, ''],
    ['approval: request → next step scheduled p50 / p99 ms', `${r.approval.fromRequest.p50Ms} / ${r.approval.fromRequest.p99Ms}`, ''],
    ['validation of a 1,000-step spec, median ms', `${r.validation.medianMs}`, ''],
    [`run of ${r.longRun.steps} steps`, `${r.longRun.completed ? 'completed' : 'FAILED'} in ${r.longRun.wallSeconds}s, ${r.longRun.runsInChain} runs in chain, max ${r.longRun.maxEventsPerRun} events per run`, ''],
    [`worker RSS holding ${r.waitingMemory.runs} waiting runs`, `${r.waitingMemory.workerRssMbBefore} → ${r.waitingMemory.workerRssMbAfter} MB (${r.waitingMemory.perRunKb} KB per run)`, ''],
    ...r.pool.map((p: any): [string, string, string] => [`pool of ${p.workers}: ${p.runs} runs × ${p.stepsPerRun} steps`, `${p.runsPerSecond} runs/s, ${p.stepsPerSecond} steps/s`, '']),
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log('');
  for (const [label, value, note] of rows) console.log(`${label.padEnd(width)}  ${value}${note ? `   ${note}` : ''}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
