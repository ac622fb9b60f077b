import pg from 'pg';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { writeSummaries, type RunSummaryRow, type StepSummaryRow } from '../../apps/api/src/insights/collector';
import { performance } from 'node:perf_hooks';
import type { BenchEnvironment } from '../environment';
import { getJson, postJson } from '../http';
import { median, percentile, round } from '../stats';

export interface TemplateStatsResult {
  /** Run summaries of the measured template (and of another template of the tenant, which the queries must skip). */
  runSummaries: number;
  stepSummaries: number;
  otherRunSummaries: number;
  insertSeconds: number;
  /** Run summaries (with 5 steps each) the collector's write path stored per second, in batches of 500. */
  writtenPerSecond: number;
  /** GET /stats over the whole window (every summary of the template), open runs counted by visibility. */
  stats: Latency;
  /** The same with `version=2`: a third of the runs. */
  statsOfVersion: Latency;
  /** GET /versions/2/analysis: the critical path by observed step medians. */
  analysis: Latency;
}

interface Latency {
  medianMs: number;
  p95Ms: number;
  maxMs: number;
}

/** fetch → transform → gate (approval) → publish → notify, as every summarised run went. */
const SEED = 13;

const STEPS = [
  ['fetch', 'http'],
  ['transform', 'noop'],
  ['gate', 'approval'],
  ['publish', 'http'],
  ['notify', 'noop'],
] as const;

/**
 * Template stats over many runs: `runs` run summaries (5 steps each) of one template, spread over
 * three versions and the last 30 days, written as the collector writes them, plus half as many of
 * another template; then the stats and analysis endpoints are timed, warm, one request at a time.
 */
export async function measureTemplateStats(env: BenchEnvironment, taskQueue: string, options: { runs: number; repetitions: number }): Promise<TemplateStatsResult> {
  const api = await env.startApi(taskQueue);
  const auth = { authorization: `Bearer ${await api.tokenFor('stats-reader', ['editor'])}` };
  const spec = {
    steps: STEPS.map(([id, type], index) => ({
      id,
      type,
      ...(index > 0 ? { dependsOn: [STEPS[index - 1]![0]] } : {}),
      with: type === 'http' ? { url: 'https://example.com/' } : type === 'approval' ? { approvers: { roles: ['ops'] } } : {},
    })),
  };
  const templateIds: string[] = [];
  for (const name of ['stats-bench', 'stats-bench-other']) {
    const created = await postJson(`${api.url}/api/v1/templates`, { name: `${name}-${Date.now()}`, spec }, auth);
    if (created.status !== 201) throw new Error(`creating a template failed: ${created.status} ${JSON.stringify(created.body)}`);
    const id = (created.body as { id: string }).id;
    for (const version of [2, 3]) {
      const appended = await postJson(`${api.url}/api/v1/templates/${id}/versions`, { spec: { ...spec, description: `v${version}` } }, auth);
      if (appended.status !== 201) throw new Error(`adding a version failed: ${appended.status}`);
    }
    templateIds.push(id);
  }
  const [templateId, otherId] = templateIds as [string, string];

  const inserting = performance.now();
  const writtenPerSecond = await insertSummaries(env, api.tenantId, templateId, options.runs);
  await insertSummaries(env, api.tenantId, otherId, Math.round(options.runs / 2));
  await analyse(env);
  const insertSeconds = round((performance.now() - inserting) / 1000, 1);

  const base = `${api.url}/api/v1/templates/${templateId}`;
  const stats = await time(`${base}/stats`, auth, options.repetitions, (body) => {
    const runs = (body as { runs: { byStatus: Record<string, number> } }).runs;
    const finished = runs.byStatus.succeeded! + runs.byStatus.failed! + runs.byStatus.cancelled!;
    if (finished !== options.runs) throw new Error(`the stats counted ${finished} finished runs, not ${options.runs}`);
  });
  const statsOfVersion = await time(`${base}/stats?version=2`, auth, options.repetitions);
  const analysis = await time(`${base}/versions/2/analysis`, auth, options.repetitions, (body) => {
    const basis = (body as { criticalPath: { basis: string } }).criticalPath.basis;
    if (basis !== 'observedMedians') throw new Error(`the analysis weighed steps by ${basis}`);
  });
  return {
    runSummaries: options.runs,
    stepSummaries: options.runs * STEPS.length,
    otherRunSummaries: Math.round(options.runs / 2),
    insertSeconds,
    writtenPerSecond,
    stats,
    statsOfVersion,
    analysis,
  };
}

/** Summaries per write: what one visibility page of the collector writes at most. */
const BATCH = 500;

/**
 * `runs` summaries of a template and their steps, written through the collector's own write path
 * (`writeSummaries`: summaries, steps and daily rollups in one statement per batch). Runs started
 * over the last 29 days, durations skewed from 2 s to 2 min, about 5% failed and 2% cancelled,
 * 10% of steps retried once. Drawn from a fixed seed. Answers the runs written per second.
 */
async function insertSummaries(env: BenchEnvironment, tenantId: string, templateId: string, runs: number): Promise<number> {
  const rng = xoroshiro128plus(SEED);
  const random = () => uniformInt(rng, 0, 1_000_000) / 1_000_000;
  const now = Date.now();
  const started = performance.now();
  for (let first = 0; first < runs; first += BATCH) {
    const runRows: RunSummaryRow[] = [];
    const stepRows: StepSummaryRow[] = [];
    for (let index = first; index < Math.min(first + BATCH, runs); index++) {
      const startedAt = new Date(now - random() * 29 * 24 * 3_600_000);
      const durationMs = Math.round(2000 * Math.exp(random() * 4));
      const status = index % 20 === 0 ? 'failed' : index % 50 === 1 ? 'cancelled' : 'succeeded';
      const run: RunSummaryRow = {
        executionRunId: `${templateId}-${index}`,
        runId: `bench-run-${index}`,
        tenantId,
        templateId,
        templateVersion: 1 + (index % 3),
        status,
        startedAt: startedAt.toISOString(),
        closedAt: new Date(startedAt.getTime() + durationMs).toISOString(),
        durationMs,
        stepsKnown: true,
      };
      runRows.push(run);
      STEPS.forEach(([stepId, type], position) => {
        stepRows.push({
          executionRunId: run.executionRunId,
          stepId,
          tenantId,
          templateId,
          templateVersion: run.templateVersion,
          runStartedAt: run.startedAt,
          type,
          status: status === 'failed' && position === 3 ? 'failed' : status === 'failed' && position === 4 ? 'cancelled' : 'succeeded',
          attempts: random() < 0.1 ? 2 : 1,
          durationMs: Math.round(durationMs * (0.05 + random() * 0.3)),
          approvalWaitMs: type === 'approval' ? Math.round(durationMs * (0.2 + random() * 0.3)) : null,
        });
      });
    }
    await writeSummaries(env.prisma, runRows, stepRows);
  }
  return round(runs / ((performance.now() - started) / 1000), 0);
}

async function time(url: string, headers: Record<string, string>, repetitions: number, check?: (body: unknown) => void): Promise<Latency> {
  const samples: number[] = [];
  for (let i = 0; i < repetitions + 3; i++) {
    const started = performance.now();
    const answer = await getJson(url, headers);
    const ms = performance.now() - started;
    if (answer.status !== 200) throw new Error(`GET ${url} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    check?.(answer.body);
    if (i >= 3) samples.push(ms); // three warm-ups
  }
  return { medianMs: round(median(samples)), p95Ms: round(percentile(samples, 95)), maxMs: round(Math.max(...samples)) };
}

async function analyse(env: BenchEnvironment): Promise<void> {
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    await client.query('ANALYZE "RunSummary", "RunStepSummary"');
  } finally {
    await client.end();
  }
}
