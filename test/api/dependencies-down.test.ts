import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/lib/free-port';
import { startDedicatedPostgres, type DedicatedPostgres } from '../support/dedicated-postgres';
import { call, createTemplate, sampleSpec, startApi, uniqueName, type Answer, type Api } from './harness';

/**
 * Dependencies down or hung: every endpoint answers within a bound, with a 503 problem that names
 * the dependency and says when to retry; none hangs, none answers 500. The dependencies are real:
 * a Temporal address where nothing listens, a server that accepts connections and never answers,
 * and a PostgreSQL of this file's own that is frozen (SIGSTOP), thawed, then stopped.
 */

/** The defaults: 5 s per Temporal call; 5 s to connect to PostgreSQL, 6 s for a statement that gets no answer. */
const BOUND_MS = 10_000;

interface Timed {
  answer: Answer;
  elapsedMs: number;
}

async function timed(api: Api, method: string, path: string, json?: unknown): Promise<Timed> {
  const startedAt = Date.now();
  const answer = await call(api, method, path, json === undefined ? {} : { json });
  return { answer, elapsedMs: Date.now() - startedAt };
}

function expectUnavailable({ answer, elapsedMs }: Timed, dependency: 'database' | 'temporal'): void {
  expect({ status: answer.status, contentType: answer.contentType, dependency: answer.body.dependency }).toEqual({
    status: 503,
    contentType: expect.stringContaining('application/problem+json'),
    dependency,
  });
  expect(answer.headers.get('retry-after')).toBe('5');
  expect(elapsedMs).toBeLessThan(BOUND_MS);
}

/** Accepts TCP connections and never says a word: a server that hangs. */
async function startSilentServer(): Promise<{ address: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('Temporal', () => {
  const runsEndpoints = async (api: Api) => {
    const template = await createTemplate(api);
    const runId = `run-${randomUUID()}`;
    return Promise.all([
      timed(api, 'POST', '/api/v1/runs', { templateId: template.id }),
      timed(api, 'GET', '/api/v1/runs'),
      timed(api, 'GET', `/api/v1/runs/${runId}`),
      timed(api, 'GET', `/api/v1/runs/${runId}/events`),
      timed(api, 'POST', `/api/v1/runs/${runId}/cancel`),
      timed(api, 'POST', `/api/v1/runs/${runId}/pause`),
      timed(api, 'DELETE', `/api/v1/templates/${template.id}`),
      timed(api, 'GET', '/readyz'),
    ]);
  };

  test.each([
    ['where nothing listens', async () => ({ address: `127.0.0.1:${await freePort()}`, close: () => undefined })],
    ['that accepts connections and never answers', startSilentServer],
  ])('%s: runs endpoints and readiness answer 503 naming temporal; templates still work', async (_, startTemporal) => {
    const temporal = await startTemporal();
    const api = await startApi({ temporalAddress: temporal.address });
    try {
      const answers = await runsEndpoints(api);
      for (const answer of answers) expectUnavailable(answer, 'temporal');
      expect(answers.at(-1)!.answer.body).toMatchObject({ checks: { database: 'up', temporal: expect.stringMatching(/down|timeout/) } });
      expect((await call(api, 'GET', '/api/v1/templates?limit=1')).status).toBe(200);
    } finally {
      await api.close();
      temporal.close();
    }
  }, 60_000);
});

describe('PostgreSQL', () => {
  let runDir: string;
  let database: DedicatedPostgres;
  let api: Api;
  let frozen: number[] = [];

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), 'flowpilot-outage-'));
    chmodSync(runDir, 0o755); // the server may run as another user (see startEmbeddedPostgres)
    database = await startDedicatedPostgres(join(runDir, 'postgres'));
    api = await startApi({ databaseUrl: database.url });
  }, 120_000);

  afterAll(async () => {
    thaw();
    await api?.close();
    await database?.stop();
    rmSync(runDir, { recursive: true, force: true });
  });

  /** The postmaster and its backends: every process that could answer. */
  function freeze(): void {
    const postmaster = database.postmasterPid();
    const backends = execFileSync('pgrep', ['-P', String(postmaster)]).toString().trim().split(/\s+/).map(Number);
    frozen = [postmaster, ...backends];
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
  }

  function thaw(): void {
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    frozen = [];
  }

  const templateEndpoints = (templateId: string) =>
    Promise.all([
      timed(api, 'GET', '/api/v1/templates'),
      timed(api, 'GET', `/api/v1/templates/${templateId}`),
      timed(api, 'POST', '/api/v1/templates', { name: uniqueName(), spec: sampleSpec() }),
      timed(api, 'POST', `/api/v1/templates/${templateId}/versions`, { spec: sampleSpec({ duration: '7m' }) }),
      timed(api, 'PATCH', `/api/v1/templates/${templateId}`, { description: 'changed' }),
      // Its head was never cached: the start reads it from the database.
      timed(api, 'POST', '/api/v1/runs', { templateId }),
      timed(api, 'GET', '/readyz'),
    ]);

  test('hung (frozen), every template endpoint and run start answers 503 naming the database, and all is well once it thaws', async () => {
    const template = await createTemplate(api);
    freeze();
    try {
      const answers = await templateEndpoints(template.id);
      for (const answer of answers) expectUnavailable(answer, 'database');
      expect(answers.at(-1)!.answer.body).toMatchObject({ checks: { database: 'timeout', temporal: 'up' } });
    } finally {
      thaw();
    }
    expect((await call(api, 'GET', `/api/v1/templates/${template.id}`)).status).toBe(200);
    expect((await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.id } })).status).toBe(201);
  }, 60_000);

  test('down (stopped), every template endpoint and run start answers 503 naming the database', async () => {
    const template = await createTemplate(api);
    await database.stop();
    // The change feed notices, and the template cache stops serving what it may no longer know.
    while (api.templateChanges.live) await new Promise((resolve) => setTimeout(resolve, 50));
    const answers = await templateEndpoints(template.id);
    for (const answer of answers) expectUnavailable(answer, 'database');
    expect(answers.at(-1)!.answer.body).toMatchObject({ checks: { database: 'down', temporal: 'up' } });
  }, 60_000);
});

test('an API started while PostgreSQL is hung starts, and answers 503 naming the database', async () => {
  const silent = await startSilentServer();
  const startedAt = Date.now();
  const api = await startApi({
    databaseUrl: `postgresql://nobody:nothing@${silent.address}/none`,
    templateChangesUrl: `postgresql://nobody:nothing@${silent.address}/none`,
    unreachableDatabase: true,
  });
  try {
    expect(Date.now() - startedAt).toBeLessThan(BOUND_MS);
    const answers = await Promise.all([
      timed(api, 'GET', '/api/v1/templates'),
      timed(api, 'POST', '/api/v1/templates', { name: uniqueName(), spec: sampleSpec() }),
      timed(api, 'POST', '/api/v1/runs', { templateId: randomUUID() }),
      timed(api, 'GET', '/readyz'),
    ]);
    for (const answer of answers) expectUnavailable(answer, 'database');
  } finally {
    await api.close();
    silent.close();
  }
}, 60_000);
