/**
 * `npm run bench`: the engine against hand-written Temporal workflows on the same server and
 * worker, plus start throughput, approval latency, scale and pool scaling. Prints a table and
 * writes the figures to bench/results/<time>.json.
 *
 *   npm run bench                          # everything, full size
 *   npm run bench -- --quick               # fewer samples
 *   npm run bench -- --only=starts,pool    # some measures (names below)
 *   npm run bench -- --codec               # with the encryption payload codec on (PAYLOAD_CODEC_KEYS)
 *   npx tsx bench/run.ts --only=wide       # the same, without the bootstrap
 *   npx tsx bench/run.ts --only=stats      # template stats over 100,000 run summaries
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { BenchEnvironment } from './environment';
import { closeConnections } from './http';
import { measureApprovalLatency } from './scenarios/approval-latency';
import { measureNotices } from './scenarios/notices';
import { measureOverhead } from './scenarios/overhead';
import { measurePool } from './scenarios/pool';
import { measureLongRun, measureValidation, measureWaitingMemory, measureWideRun } from './scenarios/scale';
import { measureStartThroughput } from './scenarios/start-throughput';
import { measureHistorySync } from './scenarios/history-sync';
import { measureTemplateStats } from './scenarios/template-stats';
import { fanOutSpec, FOR_EACH_BENCH_CONCURRENCY, forEachNoopSpec, linearNoopSpec } from './specs';

const TARGETS = { overheadRatio: 1.15, forEachRatio: 1.1, startThroughputRatio: 0.8, historyFirstSyncSeconds: 30, historyRequestsPerNewInstance: 2, statsMs: 500, approvalNoticeP99Ms: 1000 };

interface Context {
  env: BenchEnvironment;
  /** A task queue one in-process worker with the production settings polls. */
  taskQueue: string;
  size: typeof FULL;
}

const FULL = { forEachItems: 10_000, forEachReps: 5, statsRuns: 100_000, statsReps: 20, reps: 30, fanOutReps: 80, warmups: 5, startRounds: 10, startsPerRound: 200, approvals: 40, notices: 100, longRunSteps: 2000, wideSteps: 5000, waitingRuns: 5000, poolRuns: 200 };
const QUICK: typeof FULL = { forEachItems: 10_000, forEachReps: 3, statsRuns: 100_000, statsReps: 5, reps: 8, fanOutReps: 16, warmups: 2, startRounds: 3, startsPerRound: 100, approvals: 10, notices: 30, longRunSteps: 2000, wideSteps: 5000, waitingRuns: 1000, poolRuns: 60 };

const MEASURES: Record<string, { title: string; run: (c: Context) => Promise<unknown> }> = {
  linear: {
    title: '1. overhead: 20 linear noop steps',
    run: ({ env, taskQueue, size }) =>
      measureOverhead(env, taskQueue, { spec: linearNoopSpec(20), handWrittenType: 'handWrittenLinear', handWrittenArg: 20, warmups: size.warmups, repetitions: size.reps }),
  },
  fanOut: {
    title: '2. overhead: a 50-wide parallel group',
    run: ({ env, taskQueue, size }) =>
      measureOverhead(env, taskQueue, { spec: fanOutSpec(50), handWrittenType: 'handWrittenFanOut', handWrittenArg: 50, warmups: size.warmups, repetitions: size.fanOutReps }),
  },
  forEach: {
    title: '2b. overhead: a 10,000-item forEach of noop against the same batches by hand',
    run: ({ env, taskQueue, size }) =>
      measureOverhead(env, taskQueue, {
        spec: forEachNoopSpec(size.forEachItems, FOR_EACH_BENCH_CONCURRENCY),
        handWrittenType: 'handWrittenForEach',
        handWrittenArg: size.forEachItems,
        warmups: 1,
        repetitions: size.forEachReps,
      }),
  },
  starts: {
    title: '3. start throughput: API against the raw client',
    run: ({ env, size }) => measureStartThroughput(env, { rounds: size.startRounds, startsPerRound: size.startsPerRound, concurrency: 16 }),
  },
  approval: { title: '4. approval latency', run: ({ env, taskQueue, size }) => measureApprovalLatency(env, taskQueue, size.approvals) },
  notices: { title: '4b. notices: approval notice latency, history of runs without subscriptions', run: ({ env, size }) => measureNotices(env, size.notices) },
  validation: { title: '5. scale: validating a 1,000-step spec', run: () => measureValidation(1000, 5) },
  longRun: { title: '5. scale: a 2,000-step run', run: ({ env, taskQueue, size }) => measureLongRun(env, taskQueue, size.longRunSteps) },
  wide: { title: '5. scale: a 5,000-wide run', run: ({ env, taskQueue, size }) => measureWideRun(env, taskQueue, size.wideSteps) },
  waitingMemory: { title: '5. scale: one worker holding waiting runs', run: ({ env, size }) => measureWaitingMemory(env, size.waitingRuns) },
  history: {
    title: '7. DolphinScheduler history sync against the fake: 10,000 instances (1 and 10 definitions), then one new instance each',
    run: async ({ env }) => [await measureHistorySync(env, { definitions: 1, instances: 10_000 }), await measureHistorySync(env, { definitions: 10, instances: 10_000 })],
  },
  stats: {
    title: '8. template stats over 100,000 run summaries',
    run: ({ env, taskQueue, size }) => measureTemplateStats(env, taskQueue, { runs: size.statsRuns, repetitions: size.statsReps }),
  },
  pool: {
    title: '6. pool scaling',
    run: async ({ env, size }) => [await measurePool(env, 1, size.poolRuns, 10), await measurePool(env, 2, size.poolRuns, 10)],
  },
};

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const codec = process.argv.includes('--codec');
  const chosen = chosenMeasures();
  const env = await BenchEnvironment.start({ codec });
  const results: Record<string, unknown> = {
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    startedAt: new Date().toISOString(),
    quick,
    payloadCodec: codec,
  };
  try {
    const taskQueue = `bench-${randomUUID()}`;
    await env.startWorker(taskQueue);
    for (const name of chosen) {
      console.log(`[bench] ${MEASURES[name]!.title}`);
      results[name] = await MEASURES[name]!.run({ env, taskQueue, size: quick ? QUICK : FULL });
    }
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

function chosenMeasures(): string[] {
  const option = process.argv.find((arg) => arg.startsWith('--only='));
  if (!option) return Object.keys(MEASURES);
  const names = option.slice('--only='.length).split(',').filter(Boolean);
  const unknown = names.filter((name) => !(name in MEASURES));
  if (unknown.length > 0) throw new Error(`unknown measure ${unknown.join(', ')}; the measures are ${Object.keys(MEASURES).join(', ')}`);
  return names;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
function printTable(r: Record<string, any>): void {
  const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');
  const kinds = (k: { activity: number; workflowTask: number; other: number }) => `${k.activity}·${k.workflowTask}·${k.other}`;
  const rows: [string, string, string][] = [];
  for (const [name, label] of [['linear', 'linear 20 noop'], ['fanOut', 'fan-out 50'], ['forEach', 'forEach 10,000 noop']] as const) {
    const o = r[name];
    if (!o) continue;
    const target = name === 'forEach' ? TARGETS.forEachRatio : TARGETS.overheadRatio;
    rows.push(
      [`${label}: engine / hand-written median (p95) ms`, `${o.engine.medianMs} (${o.engine.p95Ms}) / ${o.handWritten.medianMs} (${o.handWritten.p95Ms})`, ''],
      [`${label}: ratio, median of pairs (of medians, of p95s)`, `${o.ratio.median} (${o.ratio.ofMedians}, ${o.ratio.p95})`, verdict(o.ratio.median <= target)],
      [`${label}: history events engine / hand-written`, `${o.engine.historyEvents} / ${o.handWritten.historyEvents}`, ''],
      [`${label}: events by kind (activity·workflow task·other), engine / hand-written`, `${kinds(o.engine.eventKinds)} / ${kinds(o.handWritten.eventKinds)}`, ''],
    );
  }
  if (r.starts) {
    const s = r.starts;
    rows.push(
      ['starts/s API / raw client, median of rounds', `${s.api.startsPerSecond} / ${s.rawClient.startsPerSecond}`, ''],
      ['starts: ratio, median of rounds (rounds)', `${s.ratio} (${s.roundRatios.join(', ')})`, verdict(s.ratio >= TARGETS.startThroughputRatio)],
      ['starts: bench process CPU per start, API / raw client', `${s.api.cpuMsPerStart} / ${s.rawClient.cpuMsPerStart} ms`, ''],
      ['start latency p50 / p99 ms: API', `${s.api.p50Ms} / ${s.api.p99Ms}`, ''],
      ['start latency p50 / p99 ms: raw client', `${s.rawClient.p50Ms} / ${s.rawClient.p99Ms}`, ''],
    );
  }
  if (r.approval) {
    rows.push(
      ['approval: answer → next step scheduled p50 / p99 ms', `${r.approval.fromAnswer.p50Ms} / ${r.approval.fromAnswer.p99Ms}`, ''],
      ['approval: request → next step scheduled p50 / p99 ms', `${r.approval.fromRequest.p50Ms} / ${r.approval.fromRequest.p99Ms}`, ''],
    );
  }
  if (r.notices) {
    const n = r.notices;
    rows.push(
      ['notices: step waiting → notice at receiver p50 / p99 (max) ms', `${n.approvalNotice.p50Ms} / ${n.approvalNotice.p99Ms} (${n.approvalNotice.maxMs})`, verdict(n.approvalNotice.p99Ms <= TARGETS.approvalNoticeP99Ms)],
      [
        'notices: history events before / without subscriptions / with one',
        `${n.historyEvents.before} / ${n.historyEvents.withoutSubscriptions} / ${n.historyEvents.withSubscription}`,
        verdict(n.historyEvents.before === n.historyEvents.withoutSubscriptions),
      ],
    );
  }
  if (r.validation) rows.push(['validation of a 1,000-step spec, median ms', `${r.validation.medianMs}`, '']);
  if (r.longRun) {
    const l = r.longRun;
    rows.push([`run of ${l.steps} steps`, `${l.completed ? 'completed' : 'FAILED'} in ${l.wallSeconds}s, ${l.runsInChain} runs in chain, max ${l.maxEventsPerRun} events per run`, '']);
  }
  if (r.wide) {
    const w = r.wide;
    rows.push([
      `run ${w.width} steps wide`,
      `${w.completed ? 'completed' : 'FAILED'} in ${w.wallSeconds}s, ${w.runsInChain} runs in chain, max ${w.maxEventsPerRun} events per run, at most ${w.peakPendingActivities} activities pending`,
      '',
    ]);
  }
  if (r.waitingMemory) {
    const m = r.waitingMemory;
    for (const [side, label] of [['engine', 'engine runs'], ['handWritten', 'hand-written workflows']] as const) {
      const x = m[side];
      rows.push([`worker RSS holding ${m.runs} waiting ${label}`, `${x.workerRssMbBefore} → ${x.workerRssMbAfter} MB (${x.perRunKb} KB per run)`, '']);
    }
  }
  for (const h of r.history ?? []) {
    rows.push(
      [`history: first sync of ${h.instances} instances, ${h.definitions} definition(s)`, `${h.firstSync.seconds}s, ${h.firstSync.requests} requests, ${h.firstSync.cached} cached`, verdict(h.firstSync.seconds < TARGETS.historyFirstSyncSeconds)],
      [`history: one new instance per definition, ${h.definitions} definition(s)`, `${h.incremental.seconds}s, ${h.incremental.requests} requests, at most ${h.incremental.maxRequestsPerDefinition} per definition`, verdict(h.incremental.maxRequestsPerDefinition <= TARGETS.historyRequestsPerNewInstance)],
    );
  }
  if (r.stats) {
    const s = r.stats;
    const latency = (l: { medianMs: number; p95Ms: number }) => `${l.medianMs} / ${l.p95Ms}`;
    rows.push(
      [`stats of ${s.runSummaries} runs (${s.stepSummaries} step rows): median / p95 ms`, latency(s.stats), verdict(s.stats.p95Ms < TARGETS.statsMs)],
      ['stats of one version (a third of them): median / p95 ms', latency(s.statsOfVersion), ''],
      ['analysis by observed step medians: median / p95 ms', latency(s.analysis), ''],
      ['run summaries written per second (5 steps each, with rollups)', `${s.writtenPerSecond}`, ''],
    );
  }
  for (const p of r.pool ?? []) rows.push([`pool of ${p.workers}: ${p.runs} runs × ${p.stepsPerRun} steps`, `${p.runsPerSecond} runs/s, ${p.stepsPerSecond} steps/s`, '']);
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log('');
  for (const [label, value, note] of rows) console.log(`${label.padEnd(width)}  ${value}${note ? `   ${note}` : ''}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
