import pg from 'pg';
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
const STEPS = [
  ['fetch', 'http'],
  ['transform', 'noop'],
  ['gate', 'approval'],
  ['publish', 'http'],
  ['notify', 'noop'],
] as const;

/**
 * Template stats over many runs: `runs` run summaries (5 steps each) of one template, spread over
 * three versions and the last 30 days, as the collector writes them, plus half as many of another
 * template; then the stats and analysis endpoints are timed, warm, one request at a time.
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
  await insertSummaries(env, api.tenantId, templateId, options.runs);
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
    stats,
    statsOfVersion,
    analysis,
  };
}

/**
 * `runs` summaries of a template and their steps, as the collector would have written them, in one
 * transaction of a connection of its own: the inserts take longer than the API's statement timeout.
 */
async function insertSummaries(env: BenchEnvironment, tenantId: string, templateId: string, runs: number): Promise<void> {
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT setseed(0.42)');
    // Durations: a few seconds to minutes, skewed; about 5% failed and 2% cancelled.
    await client.query(
      `INSERT INTO "RunSummary" ("executionRunId", "runId", "tenantId", "templateId", "templateVersion", status, "startedAt", "closedAt", "durationMs", "stepsKnown")
       SELECT $2 || '-' || g, 'bench-run-' || g, $1::uuid, $2::uuid, 1 + g % 3,
         CASE WHEN g % 20 = 0 THEN 'failed' WHEN g % 50 = 1 THEN 'cancelled' ELSE 'succeeded' END,
         started, started + duration * interval '1 millisecond', duration, true
       FROM (SELECT g, now() - random() * interval '29 days' AS started, round(2000 * exp(random() * 4)) AS duration
             FROM generate_series(1, $3::int) AS g) AS drawn`,
      [tenantId, templateId, runs],
    );
    await client.query(
      `INSERT INTO "RunStepSummary" ("executionRunId", "stepId", "tenantId", "templateId", "templateVersion", "runStartedAt", type, status, attempts, "durationMs", "approvalWaitMs")
       SELECT run."executionRunId", step.id, run."tenantId", run."templateId", run."templateVersion", run."startedAt", step.type,
         CASE WHEN run.status = 'failed' AND step.n = 4 THEN 'failed' WHEN run.status = 'failed' AND step.n = 5 THEN 'cancelled' ELSE 'succeeded' END,
         CASE WHEN random() < 0.1 THEN 2 ELSE 1 END,
         round(run."durationMs" * (0.05 + random() * 0.3)),
         CASE WHEN step.type = 'approval' THEN round(run."durationMs" * (0.2 + random() * 0.3)) END
       FROM "RunSummary" AS run
       CROSS JOIN jsonb_to_recordset($2::jsonb) AS step(n int, id text, type text)
       WHERE run."templateId" = $1::uuid`,
      [templateId, JSON.stringify(STEPS.map(([id, type], index) => ({ n: index + 1, id, type })))],
    );
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
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
