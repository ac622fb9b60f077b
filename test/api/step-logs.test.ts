import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { WorkflowHandle } from '@temporalio/client';
import { Keyring } from '../../apps/common/crypto/keyring';
import { createPrismaClient } from '../../apps/common/database';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { StepLogSink } from '../../activities/step-logs/step-log';
import { ArtifactStore } from '../../apps/common/artifacts/artifact-store';
import { workerStorageOf } from '../../apps/worker/src/worker';
import type { SpecInput } from '../../workflows/spec/schema';
import type { runTemplate } from '../../workflows/run-template';
import { call, createTestTenant, createToken, startApi, uniqueName, type Api } from './harness';
import { startTestWorker, type TestWorker } from '../support/worker';
import { json, runInput, startHttpServer, startRun } from '../workflow/support';

/**
 * Step logs over the API, against a real worker writing them into the real PostgreSQL: what the
 * HTTP step sent and got, redacted (secrets, credential headers, credential query parameters),
 * filtered, searched, paged, tailed live; another tenant sees none of it; a log that cannot be
 * written leaves the step alone.
 */

const secretValue = `sk-live-${randomUUID()}`;
const secretsKeys = Keyring.parse(Keyring.generateEntry('logs'), 'SECRETS_KEYS');

let api: Api;
let worker: TestWorker;
let http: Awaited<ReturnType<typeof startHttpServer>>;
let mallory: string;
let viewer: string;

beforeAll(async () => {
  const taskQueue = `test-${randomUUID()}`;
  api = await startApi({ secretsKeys, taskQueue });
  expect((await call(api, 'PUT', '/api/v1/secrets/API_KEY', { json: { value: secretValue } })).status).toBe(201);
  const other = await createTestTenant(api.prisma);
  mallory = await createToken(api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin'] });
  viewer = await createToken(api.prisma, { tenantId: api.tenant.id, name: 'vera', roles: ['viewer'] });
  http = await startHttpServer({
    '/orders': (request, response) =>
      response
        .writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'session=abc123', 'x-request-id': 'req-42' })
        .end(JSON.stringify({ ok: true, echoed: request.headers.authorization, note: 'needle-in-the-body' })),
    '/flaky': (_request, response, hits) => (hits === 1 ? json(response, 503, { error: 'warming up' }) : json(response, 200, { ok: true })),
    '/slow': (_request, response) => setTimeout(() => json(response, 200, { slow: true }), 1_500),
  });
  worker = await startTestWorker(taskQueue, { secrets: new SecretStore(api.prisma, secretsKeys), storage: workerStorageOf(api.prisma, pino({ level: 'silent' })) });
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await http?.close();
  await api?.prisma.secret.deleteMany({ where: { tenantId: api.tenant.id } });
  await api?.close();
});

async function runThroughApi(spec: SpecInput): Promise<{ runId: string; handle: WorkflowHandle<typeof runTemplate> }> {
  const template = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('logs'), spec } });
  expect(template.status).toBe(201);
  const run = await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.body.id } });
  expect(run.status).toBe(201);
  return { runId: run.body.runId, handle: worker.client.workflow.getHandle<typeof runTemplate>(run.body.runId) };
}

test('the HTTP step logs what it sent and got, with secrets and credentials redacted', async () => {
  const { runId, handle } = await runThroughApi({
    steps: [
      {
        id: 'call',
        type: 'http',
        with: {
          url: `${http.url('/orders')}?access_token={{ secrets.API_KEY }}&page=2`,
          method: 'POST',
          headers: {
            authorization: 'Bearer {{ secrets.API_KEY }}',
            cookie: 'theme=dark',
            'x-api-key': 'written-into-the-spec',
            'x-trace': 'trace-7',
            'x-echo': '{{ secrets.API_KEY }}',
          },
          body: { order: 42, key: '{{ secrets.API_KEY }}' },
        },
      },
    ],
  });
  await handle.result();

  const logs = await call(api, 'GET', `/api/v1/runs/${runId}/logs`, { token: viewer });
  expect(logs.status).toBe(200);
  const [sent, got] = logs.body.items;
  expect(logs.body.items).toHaveLength(2);
  expect(sent).toMatchObject({
    stepId: 'call',
    attempt: 1,
    activityId: 'call',
    level: 'info',
    data: {
      request: {
        method: 'POST',
        url: expect.stringContaining('access_token=%5Bredacted%5D&page=2'),
        headers: { authorization: '[redacted]', cookie: '[redacted]', 'x-api-key': '[redacted]', 'x-trace': 'trace-7', 'x-echo': '[secret]', 'idempotency-key': expect.stringContaining(runId) },
        body: { bytes: expect.any(Number), text: expect.stringContaining('"key":"[secret]"'), truncated: false },
      },
    },
  });
  expect(got).toMatchObject({
    message: expect.stringMatching(/^200 from POST /),
    data: {
      response: {
        status: 200,
        headers: { 'set-cookie': '[redacted]', 'x-request-id': 'req-42', 'content-type': 'application/json' },
        body: { text: expect.stringContaining('"echoed":"Bearer [secret]"'), truncated: false },
        durationMs: expect.any(Number),
      },
    },
  });
  // Nothing in the table holds the value, whatever its encoding.
  const rows = await api.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM step_logs WHERE "runId" = ${runId} AND (message LIKE ${`%${secretValue}%`} OR data::text LIKE ${`%${secretValue}%`})`;
  expect(Number(rows[0]!.n)).toBe(0);
  expect(JSON.stringify(logs.body)).not.toContain(secretValue);

  // Search: in the data, case-insensitively; LIKE's wildcards are plain text.
  const found = await call(api, 'GET', `/api/v1/runs/${runId}/logs?q=NEEDLE-in-the`);
  expect(found.body.items.map((item: { id: string }) => item.id)).toEqual([got.id]);
  expect((await call(api, 'GET', `/api/v1/runs/${runId}/logs?q=needle_in`)).body.items).toEqual([]);
}, 60_000);

test('entries of each attempt, filtered by step and attempt, paged by cursor', async () => {
  const { runId, handle } = await runThroughApi({
    steps: [
      { id: 'flaky', type: 'http', with: { url: http.url('/flaky') }, retry: { maxAttempts: 3, initialInterval: '100ms' } },
      { id: 'after', type: 'http', with: { url: http.url('/orders') }, dependsOn: ['flaky'] },
    ],
  });
  await handle.result();
  const all = await call(api, 'GET', `/api/v1/runs/${runId}/logs`);
  expect(all.body.items.map((item: { stepId: string; attempt: number; level: string }) => [item.stepId, item.attempt, item.level])).toEqual([
    ['flaky', 1, 'info'],
    ['flaky', 1, 'info'],
    ['flaky', 2, 'info'],
    ['flaky', 2, 'info'],
    ['after', 1, 'info'],
    ['after', 1, 'info'],
  ]);
  expect(all.body.items[1].data.response.status).toBe(503);

  const second = await call(api, 'GET', `/api/v1/runs/${runId}/logs?step=flaky&attempt=2`);
  expect(second.body.items.map((item: { data: { response?: { status: number } } }) => item.data.response?.status ?? null)).toEqual([null, 200]);

  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await call(
      api,
      'GET',
      `/api/v1/runs/${runId}/logs?limit=4${cursor ? `&cursor=${cursor}` : ''}`,
    );
    pages.push(page.body.items.map((item) => item.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  expect(pages.map((page) => page.length)).toEqual([4, 2]);
  expect(pages.flat()).toEqual(all.body.items.map((item: { id: string }) => item.id));

  const badCursor = await call(api, 'GET', `/api/v1/runs/${runId}/logs?cursor=bm90LWEtY3Vyc29y`);
  expect([badCursor.status, badCursor.contentType]).toEqual([400, expect.stringContaining('problem+json')]);
  const badAttempt = await call(api, 'GET', `/api/v1/runs/${runId}/logs?attempt=zero`);
  expect(badAttempt.status).toBe(400);
  const unknownParameter = await call(api, 'GET', `/api/v1/runs/${runId}/logs?level=debug`);
  expect(unknownParameter.status).toBe(400);
  // Ids past PostgreSQL's bigint are refused as input, not left for the database to fail on.
  const pastBigint = Buffer.from(JSON.stringify({ id: '9999999999999999999' })).toString('base64url');
  const outOfRange = await call(api, 'GET', `/api/v1/runs/${runId}/logs?cursor=${pastBigint}`);
  expect([outOfRange.status, outOfRange.contentType]).toEqual([400, expect.stringContaining('problem+json')]);
}, 60_000);

test('another tenant’s run is a 404 for its logs and their tail, and an unknown run too', async () => {
  const { runId, handle } = await runThroughApi({ steps: [{ id: 'call', type: 'http', with: { url: http.url('/orders') } }] });
  await handle.result();
  for (const path of [`/api/v1/runs/${runId}/logs`, `/api/v1/runs/${runId}/logs/stream`]) {
    const answer = await call(api, 'GET', path, { token: mallory });
    expect([answer.status, answer.contentType]).toEqual([404, expect.stringContaining('problem+json')]);
  }
  expect((await call(api, 'GET', `/api/v1/runs/run-${randomUUID()}/logs`)).status).toBe(404);
  expect((await call(api, 'GET', `/api/v1/runs/not-a-run/logs`)).status).toBe(404);
}, 60_000);

test('the live tail streams entries as steps write them, and resumes after Last-Event-ID', async () => {
  const { runId, handle } = await runThroughApi({
    steps: [
      { id: 'slow', type: 'http', with: { url: http.url('/slow') } },
      { id: 'then', type: 'http', with: { url: http.url('/orders') }, dependsOn: ['slow'] },
    ],
  });
  const controller = new AbortController();
  const response = await fetch(`${api.baseUrl}/api/v1/runs/${runId}/logs/stream`, {
    headers: { authorization: `Bearer ${api.token}` },
    signal: controller.signal,
  });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const frames: { id: string; event: string; data: { stepId: string; message: string } }[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  while (frames.length < 4) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(frame.split('\n').filter((line) => !line.startsWith(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
      if (fields.event) frames.push({ id: fields.id!, event: fields.event, data: JSON.parse(fields.data!) });
    }
  }
  controller.abort();
  await handle.result();
  expect(frames.map((frame) => [frame.event, frame.data.stepId])).toEqual([
    ['log', 'slow'],
    ['log', 'slow'],
    ['log', 'then'],
    ['log', 'then'],
  ]);
  expect(frames.map((frame) => frame.id)).toEqual([...frames.map((frame) => frame.id)].sort((a, b) => Number(a) - Number(b)));

  // Resuming after the second entry gives the third first.
  const resumed = new AbortController();
  const again = await fetch(`${api.baseUrl}/api/v1/runs/${runId}/logs/stream`, {
    headers: { authorization: `Bearer ${api.token}`, 'last-event-id': frames[1]!.id },
    signal: resumed.signal,
  });
  const first = await again.body!.pipeThrough(new TextDecoderStream()).getReader().read();
  resumed.abort();
  expect(first.value).toContain(`id: ${frames[2]!.id}\n`);

  const badResume = await call(api, 'GET', `/api/v1/runs/${runId}/logs/stream?after=abc`);
  expect(badResume.status).toBe(400);
  const resumePastBigint = await call(api, 'GET', `/api/v1/runs/${runId}/logs/stream?after=9999999999999999999`);
  expect(resumePastBigint.status).toBe(400);
}, 60_000);

test('the live tail ends by itself once the run has ended and its last entry is sent', async () => {
  const { runId, handle } = await runThroughApi({ steps: [{ id: 'slow', type: 'http', with: { url: http.url('/slow') } }] });
  const response = await fetch(`${api.baseUrl}/api/v1/runs/${runId}/logs/stream`, { headers: { authorization: `Bearer ${api.token}` } });
  // The body completes only when the server closes the stream.
  const frames = (await response.text())
    .split('\n\n')
    .map((frame) => Object.fromEntries(frame.split('\n').filter((line) => line && !line.startsWith(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)])))
    .filter((fields) => fields.event);
  expect(frames.map((fields) => fields.event)).toEqual(['log', 'log', 'end']);
  expect(JSON.parse(frames[2]!.data!)).toEqual({ status: 'COMPLETED' });
  expect(frames[2]!.id).toBe(frames[1]!.id);
  expect((await handle.result()).steps.slow!.status).toBe('succeeded');

  // A tail opened after the end sends what there is, then ends at once.
  const late = await (await fetch(`${api.baseUrl}/api/v1/runs/${runId}/logs/stream?after=${frames[0]!.id}`, { headers: { authorization: `Bearer ${api.token}` } })).text();
  expect([...late.matchAll(/^event: (\w+)$/gm)].map((match) => match[1])).toEqual(['log', 'end']);
  // An EventSource reconnecting after the end, with nothing after its id, is told to stop.
  const reconnected = await fetch(`${api.baseUrl}/api/v1/runs/${runId}/logs/stream`, { headers: { authorization: `Bearer ${api.token}`, 'last-event-id': frames[2]!.id! } });
  expect([reconnected.status, await reconnected.text()]).toEqual([204, '']);
}, 60_000);

test('a step log that cannot be written leaves the step succeeding, and says so in the worker’s log', async () => {
  const warnings: string[] = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        warnings.push(chunk.toString());
        done();
      },
    }),
  );
  // A database nobody listens on: every batch insert fails.
  const unreachable = createPrismaClient('postgresql://flowpilot@127.0.0.1:1/nowhere', {
    DATABASE_CONNECT_TIMEOUT_MS: 500,
    DATABASE_STATEMENT_TIMEOUT_MS: 500,
    DATABASE_TRANSACTION_TIMEOUT_MS: 500,
  });
  const brokenLogs = await startTestWorker(undefined, {
    logger,
    storage: { prisma: api.prisma, stepLogs: new StepLogSink(unreachable, logger), artifacts: new ArtifactStore(api.prisma) },
  });
  try {
    const tenant = api.tenant.id;
    const input = runInput({ steps: [{ id: 'call', type: 'http', with: { url: http.url('/orders') } }] }, { tenantId: tenant });
    const handle = await startRun(brokenLogs.client, brokenLogs.taskQueue, input, tenant);
    const result = await handle.result();
    expect(result.steps.call!.status).toBe('succeeded');
    expect(warnings.some((line) => line.includes('step log entries could not be written'))).toBe(true);
    expect(await api.prisma.stepLogEntry.count({ where: { runId: handle.workflowId } })).toBe(0);
  } finally {
    await brokenLogs.shutdown();
    await unreachable.$disconnect();
  }
}, 60_000);

test('a call that fails records an error entry after its request', async () => {
  const { runId, handle } = await runThroughApi({
    steps: [{ id: 'down', type: 'http', with: { url: 'http://127.0.0.1:1/nothing-listens' }, retry: { maxAttempts: 1 }, onError: 'continue' }],
  });
  await handle.result();
  const logs = await call(api, 'GET', `/api/v1/runs/${runId}/logs?step=down`);
  expect(logs.body.items.map((item: { level: string; message: string; data: { error?: { type: string } } }) => [item.level, item.data.error?.type ?? null])).toEqual([
    ['info', null],
    ['error', 'HttpNetworkError'],
  ]);
  expect(logs.body.items[1].message).toMatch(/^request failed: GET http:\/\/127\.0\.0\.1:1\/nothing-listens failed/);
}, 60_000);
