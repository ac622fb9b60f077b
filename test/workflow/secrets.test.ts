import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { WorkflowHandle } from '@temporalio/client';
import { METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { Keyring } from '../../apps/common/crypto/keyring';
import { ENCRYPTED_ENCODING, EncryptionCodec } from '../../apps/common/crypto/payload-codec';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { stateQuery, type RunState } from '../../workflows/contract';
import type { SpecInput } from '../../workflows/spec/schema';
import type { runTemplate } from '../../workflows/run-template';
import { call, createTestTenant, expectProblem, startApi, tokenFor, uniqueName, type Api } from '../api/harness';
import { startTestWorker, type TestWorker } from '../support/worker';
import { json, runInput, startHttpServer, startRun } from './support';

/**
 * A secret used by a run leaves no trace outside the activity that sends it: not in the run's
 * history (every event, every payload decoded), its state, its events over the API, nor the
 * worker's logs. With the payload codec on, the history holds only ciphertext, and the API (with
 * the same codec) still shows the run. Secrets are written and runs started through the API, with
 * real tokens, so a run's tenant is its starter's; another tenant's run naming the same secret
 * does not get it.
 */

const value = `sk-live-${randomUUID()}`;
const secretsKeys = Keyring.parse(Keyring.generateEntry('w1'), 'SECRETS_KEYS');
const codec = new EncryptionCodec(Keyring.parse(Keyring.generateEntry('p1'), 'PAYLOAD_CODEC_KEYS'));

type Handle = WorkflowHandle<typeof runTemplate>;

let http: Awaited<ReturnType<typeof startHttpServer>>;
let plain: TestWorker;
let encrypted: TestWorker;
/** Tenant A: its admin wrote API_KEY; its runs go to the plain worker. */
let api: Api;
/** Tenant A again, its runs going to the worker with the payload codec. */
let encryptedApi: Api;
/** Tenant A's id, and an operator and editor of it (starts runs, makes templates). */
let tenantId: string;
let operator: string;
const logLines: string[] = [];

beforeAll(async () => {
  const plainQueue = `test-${randomUUID()}`;
  api = await startApi({ secretsKeys, taskQueue: plainQueue });
  tenantId = api.tenant.id;
  operator = await tokenFor(api, 'olga', ['operator', 'editor']);
  // Written by the tenant's admin (the API's own token); the workers read it through their store.
  const written = await call(api, 'PUT', '/api/v1/secrets/API_KEY', { json: { value } });
  expect(written.status).toBe(201);
  const store = new SecretStore(api.prisma, secretsKeys);
  http = await startHttpServer({
    // Checks the credential, and echoes it back as a careless server might.
    '/check': (request, response) =>
      request.headers.authorization === `Bearer ${value}`
        ? json(response, 200, { ok: true, echoed: request.headers.authorization })
        : json(response, 401, { error: 'unauthorised' }),
    '/fail': (request, response) => json(response, 500, { error: `cannot serve ${String(request.headers['x-api-key'])}` }),
  });
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  );
  plain = await startTestWorker(plainQueue, { secrets: store, logger });
  encrypted = await startTestWorker(undefined, { secrets: store, logger, payloadCodecs: [codec] });
  encryptedApi = await startApi({ payloadCodecs: [codec], tenant: api.tenant, taskQueue: encrypted.taskQueue });
}, 60_000);
afterAll(async () => {
  await plain?.shutdown();
  await encrypted?.shutdown();
  await api?.prisma.secret.deleteMany({ where: { tenantId } });
  await api?.close();
  await encryptedApi?.close();
  await http?.close();
});

/**
 * Makes a template of `spec` and starts it through `via` with `token`, onto `worker`'s queue (the
 * API given decides the queue): the run's tenant is the token's. Answers the run's handle.
 */
async function startThroughApi(via: Api, token: string, worker: TestWorker, spec: SpecInput): Promise<Handle> {
  const template = await call(via, 'POST', '/api/v1/templates', { token, json: { name: uniqueName('secrets'), spec } });
  expect(template.status).toBe(201);
  const run = await call(via, 'POST', '/api/v1/runs', { token, json: { templateId: template.body.id } });
  expect(run.status).toBe(201);
  return worker.client.workflow.getHandle<typeof runTemplate>(run.body.runId);
}

function checkedCall(id: string) {
  return { id, type: 'http' as const, with: { url: http.url('/check'), headers: { authorization: 'Bearer {{ secrets.API_KEY }}' } } };
}

test('a step sends its secret, and the value appears nowhere: history, state, events, API answers, logs', async () => {
  const handle = await startThroughApi(api, operator, plain, {
    steps: [
      checkedCall('call'),
      {
        id: 'leaky',
        type: 'http',
        with: { url: `${http.url('/fail')}?key={{ secrets.API_KEY }}`, headers: { 'x-api-key': '{{ secrets.API_KEY }}' } },
        retry: { maxAttempts: 1 },
        onError: 'continue',
      },
      {
        id: 'missing',
        type: 'http',
        with: { url: http.url('/check'), headers: { authorization: 'Bearer {{ secrets.NOT_THERE }}' } },
        retry: { maxAttempts: 3, initialInterval: '100ms' },
        onError: 'continue',
      },
    ],
  });
  const result = await handle.result();
  expect(result.steps.call).toMatchObject({ status: 'succeeded', output: { status: 200, body: { ok: true, echoed: 'Bearer [secret]' } } });
  expect(result.steps.leaky).toMatchObject({ status: 'failed', error: { type: 'HttpServerError', message: expect.stringContaining('?key=[secret] answered 500') } });
  expect(result.steps.missing).toMatchObject({
    status: 'failed',
    attempts: 1,
    error: { type: 'SecretNotFound', message: 'secret NOT_THERE does not exist' },
  });
  expect(http.requests.filter((request) => request.path === '/check')).toHaveLength(1);

  const payloads = await expectNoTrace(handle, [], plain);
  // What the workflow scheduled is the reference itself, resolved only inside the activity.
  expect(payloads.some(({ payload }) => Buffer.from(payload.data!).includes('Bearer {{ secrets.API_KEY }}'))).toBe(true);
  const runView = await call(api, 'GET', `/api/v1/runs/${handle.workflowId}`);
  expect(runView.status).toBe(200);
  const events = await call(api, 'GET', `/api/v1/runs/${handle.workflowId}/events?limit=500`);
  expect(events.status).toBe(200);
  expect(JSON.stringify(events.body)).toContain('?key=[secret] answered 500');
  for (const answer of [runView, events]) expect(JSON.stringify(answer.body)).not.toContain(value);
  expect(logLines.join('')).toContain('[secret]');
  expect(logLines.join('')).not.toContain(value);
});

test('another tenant sees none of this tenant’s secrets, and its run naming the same secret fails as SecretNotFound', async () => {
  const other = await startApi({ secretsKeys, tenant: await createTestTenant(api.prisma), taskQueue: plain.taskQueue });
  try {
    // Its admin: the secret is a 404 like one that does not exist, absent from the list, and not deletable.
    expectProblem(await call(other, 'GET', '/api/v1/secrets/API_KEY'), 404);
    expectProblem(await call(other, 'DELETE', '/api/v1/secrets/API_KEY'), 404);
    expect((await call(other, 'GET', '/api/v1/secrets')).body.items).toEqual([]);

    const checks = http.requests.filter((request) => request.path === '/check').length;
    const otherOperator = await tokenFor(other, 'oscar', ['operator', 'editor']);
    const handle = await startThroughApi(other, otherOperator, plain, {
      steps: [{ ...checkedCall('call'), retry: { maxAttempts: 3, initialInterval: '100ms' }, onError: 'continue' }],
    });
    const { steps } = await handle.result();
    expect(steps.call).toMatchObject({ status: 'failed', attempts: 1, error: { type: 'SecretNotFound', message: 'secret API_KEY does not exist' } });
    // Nothing was sent: the step failed before its call.
    expect(http.requests.filter((request) => request.path === '/check')).toHaveLength(checks);
    // The run carries its starter's tenant, which is what the activity read the secret under.
    const history = await handle.fetchHistory();
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(JSON.parse(Buffer.from(started.data!).toString())).toMatchObject({ tenantId: other.tenant.id });
  } finally {
    await other.close();
  }
});

test('with the payload codec on, the history holds only ciphertext, and the API and the codec endpoint still read it', async () => {
  const templateName = uniqueName('sealed');
  const template = await call(encryptedApi, 'POST', '/api/v1/templates', { token: operator, json: { name: templateName, spec: { steps: [checkedCall('call')] } } });
  const run = await call(encryptedApi, 'POST', '/api/v1/runs', { token: operator, json: { templateId: template.body.id } });
  expect([template.status, run.status]).toEqual([201, 201]);
  const handle = encrypted.client.workflow.getHandle<typeof runTemplate>(run.body.runId);
  expect((await handle.result()).steps.call).toMatchObject({ status: 'succeeded' });

  const payloads = await expectNoTrace(handle, [codec], encrypted);
  expect(payloads.length).toBeGreaterThan(5);
  for (const { payload, path } of payloads) {
    const encoding = Buffer.from(payload.metadata?.[METADATA_ENCODING_KEY] ?? []).toString();
    // Search attributes stay readable, for visibility queries, and so do the ids of patch markers,
    // which the SDK writes itself; every other payload is sealed.
    if (path.includes('searchAttributes') || path.includes('patch-data')) expect(encoding).toBe('json/plain');
    else expect({ path, encoding }).toEqual({ path, encoding: ENCRYPTED_ENCODING });
  }
  const history = await handle.fetchHistory();
  expect(rawBytesOf(history).some((bytes) => bytes.includes(Buffer.from(templateName)))).toBe(false);

  const runView = await call(encryptedApi, 'GET', `/api/v1/runs/${handle.workflowId}`);
  expect(runView.status).toBe(200);
  expect(runView.body).toMatchObject({ steps: expect.arrayContaining([expect.objectContaining({ id: 'call', status: 'succeeded' })]) });
  expect(JSON.stringify(runView.body)).not.toContain(value);

  // The codec endpoint, as the Web UI calls it with a reader's credential; without one, a 401.
  const started = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  const sealed = { payloads: [{ metadata: mapValues(started.metadata!, base64), data: base64(started.data!) }] };
  const reader = await tokenFor(encryptedApi, 'vera', ['viewer']);
  const decoded = await call(encryptedApi, 'POST', '/api/v1/codec/decode', { token: reader, json: sealed });
  expect(decoded.status).toBe(200);
  const input = JSON.parse(Buffer.from(decoded.body.payloads[0].data, 'base64').toString()) as { templateName: string; tenantId: string };
  expect(input).toMatchObject({ templateName, tenantId });
  expectProblem(await call(encryptedApi, 'POST', '/api/v1/codec/decode', { token: null, json: sealed }), 401);
});

test('a worker without a secret store runs specs without secrets, and fails a step referencing one as SecretsUnavailable', async () => {
  const bare = await startTestWorker();
  try {
    const handle = await startRun(
      bare.client,
      bare.taskQueue,
      runInput({ steps: [{ ...checkedCall('call'), onError: 'continue' }, { id: 'plain', type: 'noop', with: { output: 1 } }] }, { tenantId }),
      tenantId,
    );
    const { steps } = await handle.result();
    expect(steps.call).toMatchObject({ status: 'failed', attempts: 1, error: { type: 'SecretsUnavailable', message: expect.stringContaining('API_KEY') } });
    expect(steps.plain).toMatchObject({ status: 'succeeded', output: 1 });
  } finally {
    await bare.shutdown();
  }
});

interface FoundPayload {
  payload: Payload;
  path: string;
}

/**
 * Reads the run's whole history and state and finds no trace of the value: in the raw bytes of
 * every field, and in every payload decoded by `codecs`. Answers the payloads found.
 */
async function expectNoTrace(handle: Handle, codecs: EncryptionCodec[], worker: TestWorker): Promise<FoundPayload[]> {
  const history = await handle.fetchHistory();
  expect(JSON.stringify(history)).not.toContain(value);
  for (const bytes of rawBytesOf(history)) expect(bytes.includes(Buffer.from(value))).toBe(false);

  const payloads = payloadsOf(history, 'history');
  for (const { payload, path } of payloads) {
    let decoded: Payload = payload;
    for (const one of codecs) decoded = (await one.decode([decoded]))[0]!;
    const metadata = mapValues(decoded.metadata ?? {}, (bytes) => Buffer.from(bytes ?? []).toString());
    const text = `${JSON.stringify(metadata)}${Buffer.from(decoded.data ?? []).toString()}`;
    expect({ path, text }).toEqual({ path, text: expect.not.stringContaining(value) });
  }

  const state: RunState = await worker.client.workflow.getHandle(handle.workflowId).query(stateQuery);
  expect(JSON.stringify(state)).not.toContain(value);
  return payloads;
}

function payloadsOf(value: unknown, path: string): FoundPayload[] {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return [];
  const record = value as Record<string, unknown>;
  if (record.data instanceof Uint8Array && typeof record.metadata === 'object') return [{ payload: record as Payload, path }];
  return Object.entries(record).flatMap(([key, child]) => payloadsOf(child, `${path}.${key}`));
}

function rawBytesOf(value: unknown): Buffer[] {
  if (value instanceof Uint8Array) return [Buffer.from(value)];
  if (typeof value === 'string') return [Buffer.from(value)];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap(rawBytesOf);
}

function mapValues<T, U>(record: Record<string, T>, map: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, map(item)]));
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
