import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../../activities';
import { EgressPolicy } from '../../activities/egress';
import { freePort } from '../../scripts/lib/free-port';
import { HttpWithSchema } from '../../workflows/spec/step-types';
import { hang, json, startHttpServer } from './support';

/** The http step activity on its own: statuses, bodies and failure types, without a workflow. */
let http: Awaited<ReturnType<typeof startHttpServer>>;
const activities = createActivities({ logger: pino({ level: 'silent' }), egressPolicy: new EgressPolicy() });

beforeAll(async () => {
  http = await startHttpServer({
    '/text': (_request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end('plain words'),
    '/missing': (_request, response) => json(response, 404, { error: 'gone' }),
    '/busy': (_request, response) => json(response, 429, { error: 'slow down' }),
    '/slow': hang,
  });
});
afterAll(() => http?.close());

function call(params: Record<string, unknown>, info = { activityId: 'fetch', attempt: 2 }) {
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  return { env, result: env.run(activities.http, HttpWithSchema.parse(params)) };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

test('a text answer comes back as text, with the attempt that got it', async () => {
  const { result } = call({ url: http.url('/text') });
  expect(await result).toEqual({ attempt: 2, output: { status: 200, headers: { 'content-type': 'text/plain' }, body: 'plain words' } });
  expect(http.requests.at(-1)!.headers['idempotency-key']).toBe('test:fetch:fetch');
});

test('expectedStatuses turns a 404 into success', async () => {
  const { result } = call({ url: http.url('/missing'), expectedStatuses: [404] });
  expect(await result).toMatchObject({ output: { status: 404, body: { error: 'gone' } } });
});

test('a 4xx fails without retry unless listed in retryableStatuses; failures carry the attempt', async () => {
  const notFound = await failureOf(call({ url: http.url('/missing') }).result);
  expect(notFound).toMatchObject({ type: 'HttpClientError', nonRetryable: true });
  expect(notFound.details?.[0]).toMatchObject({ status: 404, attempt: 2, bodyExcerpt: '{"error":"gone"}' });
  const busy = await failureOf(call({ url: http.url('/busy') }).result);
  expect(busy).toMatchObject({ type: 'HttpClientError', nonRetryable: false });
});

test('network errors and timeouts are retryable', async () => {
  const closed = await failureOf(call({ url: `http://127.0.0.1:${await freePort()}/` }).result);
  expect(closed).toMatchObject({ type: 'HttpNetworkError', nonRetryable: false });
  const slow = await failureOf(call({ url: http.url('/slow'), timeout: '200ms' }).result);
  expect(slow).toMatchObject({ type: 'HttpTimeout', nonRetryable: false });
});

test('cancelling the activity aborts the request', async () => {
  const { env, result } = call({ url: http.url('/slow'), timeout: '1m' });
  const before = http.requests.length;
  while (http.requests.length === before) await new Promise((r) => setTimeout(r, 20));
  env.cancel();
  await expect(result).rejects.toBeDefined();
  await new Promise((r) => setTimeout(r, 100));
  expect(http.requests.at(-1)!.aborted).toBe(true);
});
