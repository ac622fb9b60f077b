import { createHash, randomUUID } from 'node:crypto';
import { text } from 'node:stream/consumers';
import pino from 'pino';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ArtifactStore, type ArtifactReference } from '../../apps/common/artifacts/artifact-store';
import { S3ContentBackend, type ContentBackend } from '../../apps/common/artifacts/content-backends';
import { workerStorageOf } from '../../apps/worker/src/worker';
import type { SpecInput } from '../../workflows/spec/schema';
import type { runTemplate } from '../../workflows/run-template';
import { call, createTestTenant, createToken, startApi, uniqueName, type Api } from './harness';
import { startTestWorker, type TestWorker } from '../support/worker';
import { startS3Server, type TestS3Server } from '../support/s3-server';
import { startHttpServer } from '../workflow/support';

/**
 * Artifacts: outputs over the inline limit are stored (PostgreSQL by default, an S3-compatible
 * server when configured: a real one, s3rver, here), the run's history holds only their reference,
 * a later step passes the reference on, and the API serves the bytes to the run's tenant only.
 */

const csv = `id,name\n${Array.from({ length: 8_000 }, (_, i) => `${i},item-${i}`).join('\n')}\n`;
const csvBytes = Buffer.from(csv, 'utf8');

let api: Api;
let worker: TestWorker;
let s3: TestS3Server;
let s3Api: Api;
let s3Worker: TestWorker;
let http: Awaited<ReturnType<typeof startHttpServer>>;
let mallory: string;

beforeAll(async () => {
  http = await startHttpServer({
    '/export.csv': (_request, response) => response.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' }).end(csv),
  });
  const taskQueue = `test-${randomUUID()}`;
  api = await startApi({ taskQueue });
  worker = await startTestWorker(taskQueue, { storage: workerStorageOf(api.prisma, pino({ level: 'silent' })) });
  mallory = await createToken(api.prisma, { tenantId: (await createTestTenant(api.prisma)).id, name: 'mallory', roles: ['admin'] });

  s3 = await startS3Server();
  const s3Queue = `test-${randomUUID()}`;
  const objectStore = new S3ContentBackend(s3.settings);
  s3Api = await startApi({ taskQueue: s3Queue, artifacts: new ArtifactStore(api.prisma, objectStore) });
  s3Worker = await startTestWorker(s3Queue, { storage: workerStorageOf(s3Api.prisma, pino({ level: 'silent' }), objectStore) });
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await s3Worker?.shutdown();
  await api?.close();
  await s3Api?.close();
  await s3?.close();
  await http?.close();
});

async function run(via: Api, on: TestWorker, spec: SpecInput) {
  const template = await call(via, 'POST', '/api/v1/templates', { json: { name: uniqueName('artifacts'), spec } });
  expect(template.status).toBe(201);
  const started = await call(via, 'POST', '/api/v1/runs', { json: { templateId: template.body.id } });
  expect(started.status).toBe(201);
  const result = await on.client.workflow.getHandle<typeof runTemplate>(started.body.runId).result();
  return { runId: started.body.runId as string, result };
}

const exportThenPassOn: SpecInput = {
  steps: [
    { id: 'export', type: 'http', with: { url: '' } },
    { id: 'handOver', type: 'noop', with: { output: { file: '{{ steps.export.output.body }}' } }, dependsOn: ['export'] },
  ],
};

function specFor(url: string): SpecInput {
  return { steps: exportThenPassOn.steps.map((step) => (step.id === 'export' ? { ...step, with: { url } } : step)) };
}

async function download(via: Api, runId: string, artifactId: string, token?: string) {
  const response = await fetch(`${via.baseUrl}/api/v1/runs/${runId}/artifacts/${artifactId}`, { headers: { authorization: `Bearer ${token ?? via.token}` } });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

test('a response body over the inline limit becomes an artifact; a later step passes its reference on; the API serves its bytes', async () => {
  const { runId, result } = await run(api, worker, specFor(http.url('/export.csv')));
  const reference = (result.steps.export!.output as { body: ArtifactReference }).body;
  expect(reference).toEqual({
    $artifact: { id: expect.any(String), sha256: createHash('sha256').update(csvBytes).digest('hex'), size: csvBytes.length, mediaType: 'text/csv; charset=utf-8' },
  });
  expect(result.steps.handOver!.output).toEqual({ file: reference });

  const { response, bytes } = await download(api, runId, reference.$artifact.id);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  expect(response.headers.get('etag')).toBe(`"sha256-${reference.$artifact.sha256}"`);
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(bytes.equals(csvBytes)).toBe(true);

  // Another tenant, another run, an unknown or malformed id: 404 alike.
  const theirs = await download(api, runId, reference.$artifact.id, mallory);
  expect(theirs.response.status).toBe(404);
  expect((await download(api, runId, randomUUID())).response.status).toBe(404);
  expect((await download(api, runId, 'not-an-id')).response.status).toBe(404);
  const { runId: otherRun } = await run(api, worker, { steps: [{ id: 'nothing', type: 'noop' }] });
  expect((await download(api, otherRun, reference.$artifact.id)).response.status).toBe(404);
}, 60_000);

test('the same bytes twice are stored once per tenant, as two artifacts', async () => {
  const first = await run(api, worker, specFor(http.url('/export.csv')));
  const second = await run(api, worker, specFor(http.url('/export.csv')));
  const ids = [first, second].map(({ result }) => (result.steps.export!.output as { body: ArtifactReference }).body.$artifact);
  expect(ids[0]!.id).not.toBe(ids[1]!.id);
  expect(ids[0]!.sha256).toBe(ids[1]!.sha256);
  expect(await api.prisma.artifactContent.count({ where: { tenantId: api.tenant.id, sha256: ids[0]!.sha256 } })).toBe(1);
  expect(await api.prisma.artifact.count({ where: { tenantId: api.tenant.id, sha256: ids[0]!.sha256, runId: { in: [first.runId, second.runId] } } })).toBe(2);
}, 60_000);

test('any step’s output over the inline limit is stored as a JSON artifact', async () => {
  const { runId, result } = await run(api, worker, { steps: [{ id: 'big', type: 'noop', with: { output: { rows: '{{ $pad("", 100000, "y") }}' } } }] });
  const reference = result.steps.big!.output as ArtifactReference;
  expect(reference.$artifact).toMatchObject({ mediaType: 'application/json', size: expect.any(Number) });
  const { response, bytes } = await download(api, runId, reference.$artifact.id);
  expect(response.headers.get('content-type')).toContain('application/json');
  expect(JSON.parse(bytes.toString('utf8'))).toEqual({ rows: 'y'.repeat(100_000) });
}, 60_000);

test('with an object store configured, the bytes go to the S3-compatible server and come back through the API', async () => {
  const { runId, result } = await run(s3Api, s3Worker, specFor(http.url('/export.csv')));
  const reference = (result.steps.export!.output as { body: ArtifactReference }).body;
  const stored = await s3Api.prisma.artifactContent.findUnique({ where: { tenantId_sha256: { tenantId: s3Api.tenant.id, sha256: reference.$artifact.sha256 } } });
  expect(stored).toMatchObject({ storage: 's3', content: null });

  const client = new S3Client({ region: 'us-east-1', endpoint: s3.settings.endpoint, forcePathStyle: true, credentials: s3.settings.credentials! });
  const object = await client.send(new GetObjectCommand({ Bucket: s3.settings.bucket, Key: `artifacts/${s3Api.tenant.id}/${reference.$artifact.sha256}` }));
  expect(await object.Body!.transformToString()).toBe(csv);
  client.destroy();

  const { response, bytes } = await download(s3Api, runId, reference.$artifact.id);
  expect([response.status, response.headers.get('content-type')]).toEqual([200, 'text/csv; charset=utf-8']);
  expect(bytes.equals(csvBytes)).toBe(true);
}, 60_000);

/** What every content backend must do, whatever it stores into. */
describe.each([
  ['PostgreSQL', () => undefined],
  ['S3-compatible (s3rver)', () => new S3ContentBackend(s3.settings)],
] as [string, () => ContentBackend | undefined][])('the artifact store over %s', (_name, backend) => {
  test('saves, opens, deduplicates by hash per tenant, and removes', async () => {
    const store = new ArtifactStore(api.prisma, backend());
    const tenantA = (await createTestTenant(api.prisma)).id;
    const tenantB = (await createTestTenant(api.prisma)).id;
    const bytes = Buffer.from(`contract ${randomUUID()}`.repeat(1_000));
    const origin = { runId: `run-${randomUUID()}`, stepId: 'make', attempt: 1 };
    const a1 = await store.save({ ...origin, tenantId: tenantA }, bytes, 'text/plain');
    const a2 = await store.save({ ...origin, tenantId: tenantA, attempt: 2 }, bytes, 'text/plain');
    const b1 = await store.save({ ...origin, tenantId: tenantB }, bytes, 'text/plain');
    expect(await api.prisma.artifactContent.count({ where: { sha256: a1.$artifact.sha256, tenantId: { in: [tenantA, tenantB] } } })).toBe(2);

    const opened = await store.open(tenantA, origin.runId, a2.$artifact.id);
    expect(opened).toMatchObject({ size: bytes.length, mediaType: 'text/plain', stepId: 'make' });
    expect(await text(opened!.content)).toBe(bytes.toString('utf8'));
    // Another tenant's id, or the right id under another run, opens nothing.
    expect(await store.open(tenantB, origin.runId, a1.$artifact.id)).toBeUndefined();
    expect(await store.open(tenantA, `run-${randomUUID()}`, a1.$artifact.id)).toBeUndefined();

    const content = await api.prisma.artifactContent.findUniqueOrThrow({ where: { tenantId_sha256: { tenantId: tenantB, sha256: b1.$artifact.sha256 } } });
    await api.prisma.artifactContent.delete({ where: { tenantId_sha256: { tenantId: tenantB, sha256: b1.$artifact.sha256 } } });
    await store.removeContent(tenantB, b1.$artifact.sha256, content.storage);
    expect(await store.open(tenantB, origin.runId, b1.$artifact.id)).toBeUndefined();
    // Tenant A's copy of the same bytes is untouched.
    expect(await text((await store.open(tenantA, origin.runId, a1.$artifact.id))!.content)).toBe(bytes.toString('utf8'));
  });
});
