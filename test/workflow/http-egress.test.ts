import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import pino from 'pino';
import { request } from 'undici';
import { createActivities } from '../../activities';
import { EgressPolicy, EgressRefusal } from '../../activities/egress';
import { createGuardedDispatcher } from '../../activities/egress/guarded-dispatcher';
import { HttpWithSchema } from '../../workflows/spec/step-types';
import { json, startHttpServer, type RecordedRequest, type Route } from './support';

/**
 * The http step activity under egress policies, against real local servers: refusals on URLs,
 * on resolved addresses and after redirects, the redirect cap, and redirect semantics.
 */
let origin: Awaited<ReturnType<typeof startHttpServer>>;
let other: Awaited<ReturnType<typeof startHttpServer>>;

const echo: Route = (request, response) =>
  json(response, 200, { method: request.method, path: request.path, body: request.body, headers: request.headers });
const redirect =
  (status: number, location: () => string): Route =>
  (_request, response) =>
    response.writeHead(status, { location: location() }).end('moved');

beforeAll(async () => {
  const hops: Record<string, Route> = { '/hop0': echo };
  for (let i = 1; i <= 6; i++) hops[`/hop${i}`] = redirect(302, () => `/hop${i - 1}`);
  origin = await startHttpServer({
    '/echo': echo,
    ...hops,
    '/loop': redirect(302, () => '/loop'),
    '/301': redirect(301, () => '/echo'),
    '/302': redirect(302, () => '/echo'),
    '/303': redirect(303, () => '/echo'),
    '/307': redirect(307, () => '/echo'),
    '/308': redirect(308, () => '/echo'),
    '/to-other-origin': redirect(307, () => other.url('/echo')),
    '/to-localhost': redirect(302, () => origin.url('/echo').replace('127.0.0.1', 'localhost')),
    '/to-metadata': redirect(302, () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'),
    '/to-mapped-metadata': redirect(307, () => 'http://[::ffff:a9fe:a9fe]/latest/'),
    '/to-file': redirect(302, () => 'file:///etc/passwd'),
    '/no-location': (_request, response) => response.writeHead(302).end(),
  });
  other = await startHttpServer({ '/echo': echo });
});
afterAll(async () => {
  await origin?.close();
  await other?.close();
});

/** Runs the http step under `policy` (one set of activities, hence one Agent, per policy). */
const activitiesByPolicy = new Map<EgressPolicy, ReturnType<typeof createActivities>>();
interface Answer {
  // The echo route's JSON, read field by field in the tests.
  output: { status: number; body: any };
}
function call(policy: EgressPolicy, params: Record<string, unknown>): Promise<Answer> {
  if (!activitiesByPolicy.has(policy)) activitiesByPolicy.set(policy, createActivities({ logger: pino({ level: 'silent' }), egressPolicy: policy }));
  const env = new MockActivityEnvironment({ activityId: 'fetch', attempt: 1 }, { logger: new DefaultLogger('ERROR') });
  return env.run(activitiesByPolicy.get(policy)!.http, HttpWithSchema.parse(params)).then((result) => result as unknown as Answer);
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

/** Hosts undici set out to connect to, and TCP sockets Node created, while `during` ran. */
async function connectionsDuring(during: () => Promise<unknown>): Promise<{ hosts: string[]; sockets: number }> {
  const hosts: string[] = [];
  let sockets = 0;
  const onConnect = (message: unknown) => hosts.push((message as { connectParams: { hostname: string } }).connectParams.hostname);
  const onSocket = () => sockets++;
  subscribe('undici:client:beforeConnect', onConnect);
  subscribe('net.client.socket', onSocket);
  try {
    await during();
  } finally {
    unsubscribe('undici:client:beforeConnect', onConnect);
    unsubscribe('net.client.socket', onSocket);
  }
  return { hosts, sockets };
}

const requestsTo = (path: string): RecordedRequest[] => origin.requests.filter((r) => r.path === path);

const defaults = new EgressPolicy();
const noLoopback = new EgressPolicy({ deny: ['127.0.0.0/8', '::1'] });

describe('refused destinations', () => {
  test('a URL to 169.254.169.254 is refused without any connection attempt, typed and not retryable', async () => {
    let failure: ApplicationFailure | undefined;
    const connections = await connectionsDuring(async () => {
      failure = await failureOf(call(defaults, { url: 'http://169.254.169.254/latest/meta-data/' }));
    });
    expect(connections).toEqual({ hosts: [], sockets: 0 });
    expect(failure).toMatchObject({
      type: 'EgressDenied',
      nonRetryable: true,
      message: 'GET http://169.254.169.254/latest/meta-data/: refused by egress policy: 169.254.169.254 is link-local (deny 169.254.0.0/16)',
    });
    expect(failure!.details?.[0]).toMatchObject({ method: 'GET', url: 'http://169.254.169.254/latest/meta-data/', attempt: 1 });
  });

  test.each(['http://[::ffff:169.254.169.254]/', 'http://0xA9FEA9FE/', 'http://2852039166/', 'http://0251.0376.0251.0376/', 'http://metadata.google.internal/'])(
    '%s is refused too',
    async (url) => {
      const connections = await connectionsDuring(async () => {
        expect(await failureOf(call(defaults, { url }))).toMatchObject({ type: 'EgressDenied', nonRetryable: true });
      });
      expect(connections.sockets).toBe(0);
    },
  );

  test('a host name is checked on the addresses it resolves to: localhost under a policy denying loopback', async () => {
    const url = origin.url('/echo').replace('127.0.0.1', 'localhost');
    const before = requestsTo('/echo').length;
    const failure = await failureOf(call(noLoopback, { url }));
    expect(failure).toMatchObject({ type: 'EgressDenied', nonRetryable: true });
    // Names are not denied, addresses are: the refusal can only come from resolving localhost.
    expect(failure.message).toMatch(/refused by egress policy: localhost \((127\.0\.0\.1|::1)\) is denied \(deny (127\.0\.0\.0\/8|::1)\)$/);
    expect(requestsTo('/echo')).toHaveLength(before);
    // The same name under the defaults: loopback is allowed, and the call goes through.
    expect(await call(defaults, { url })).toMatchObject({ output: { status: 200 } });
  });

  test('the dispatcher refuses on its own, for callers that skip the URL check', async () => {
    const dispatcher = createGuardedDispatcher(noLoopback);
    try {
      const connections = await connectionsDuring(async () => {
        await expect(request('http://169.254.169.254/', { dispatcher })).rejects.toBeInstanceOf(EgressRefusal);
        await expect(request(origin.url('/echo'), { dispatcher })).rejects.toThrow('127.0.0.1 is denied (deny 127.0.0.0/8)');
      });
      expect(connections.sockets).toBe(0);
    } finally {
      await dispatcher.close();
    }
  });
});

describe('allow list', () => {
  test('a host not listed is refused before it is looked up or connected to', async () => {
    const policy = new EgressPolicy({ allow: ['localhost', '*.example.com'] });
    const connections = await connectionsDuring(async () => {
      expect(await failureOf(call(policy, { url: origin.url('/echo') }))).toMatchObject({
        type: 'EgressDenied',
        message: expect.stringContaining('refused by egress policy: 127.0.0.1 is not in the allow list'),
      });
      // Not ENOTFOUND: the name is never resolved.
      expect(await failureOf(call(policy, { url: 'http://unlisted.invalid/' }))).toMatchObject({
        type: 'EgressDenied',
        message: expect.stringContaining('unlisted.invalid is not in the allow list'),
      });
    });
    expect(connections).toEqual({ hosts: [], sockets: 0 });
    expect(await call(policy, { url: origin.url('/echo').replace('127.0.0.1', 'localhost') })).toMatchObject({ output: { status: 200 } });
  });

  test('a listed range allows the addresses in it', async () => {
    expect(await call(new EgressPolicy({ allow: ['127.0.0.0/8'] }), { url: origin.url('/echo') })).toMatchObject({ output: { status: 200 } });
  });
});

describe('redirects', () => {
  test('a redirect from an allowed server to a denied address is refused, naming where it led', async () => {
    for (const [path, target, refused] of [
      ['/to-metadata', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/', '169.254.169.254'],
      ['/to-mapped-metadata', 'http://[::ffff:a9fe:a9fe]/latest/', '::ffff:a9fe:a9fe (169.254.169.254)'],
    ]) {
      const failure = await failureOf(call(defaults, { url: origin.url(path!) }));
      expect(failure).toMatchObject({ type: 'EgressDenied', nonRetryable: true });
      expect(failure.message).toBe(
        `GET ${origin.url(path!)} redirected to ${target}: refused by egress policy: ${refused} is link-local (deny 169.254.0.0/16)`,
      );
    }
  });

  test('a redirect to a name that resolves to a denied address is refused at connect time', async () => {
    // The redirecting server listens on 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux) so that
    // the policy can deny 127.0.0.1, where localhost resolves to, and still reach the first hop.
    const target = origin.url('/echo').replace('127.0.0.1', 'localhost');
    const redirecting = createServer((_request, response) => response.writeHead(302, { location: target }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.2', resolve));
    try {
      const url = `http://127.0.0.2:${(redirecting.address() as AddressInfo).port}/`;
      const before = requestsTo('/echo').length;
      const failure = await failureOf(call(new EgressPolicy({ deny: ['127.0.0.1', '::1'] }), { url }));
      expect(failure).toMatchObject({ type: 'EgressDenied', nonRetryable: true });
      expect(failure.message).toMatch(
        new RegExp(`redirected to ${target}: refused by egress policy: localhost \\((127\\.0\\.0\\.1|::1)\\) is denied \\(deny (127\\.0\\.0\\.1|::1)\\)$`),
      );
      expect(requestsTo('/echo')).toHaveLength(before);
    } finally {
      redirecting.closeAllConnections();
      await new Promise((resolve) => redirecting.close(resolve));
    }
  });

  test('a redirect to another scheme is refused', async () => {
    const failure = await failureOf(call(defaults, { url: origin.url('/to-file') }));
    expect(failure).toMatchObject({ type: 'EgressDenied', nonRetryable: true });
    expect(failure.message).toContain('redirected to file:///etc/passwd: refused by egress policy: file: URLs are not allowed');
  });

  test('redirects up to the cap are followed; one more fails the step at once', async () => {
    const capped = new EgressPolicy({ maxRedirects: 3 });
    expect(await call(capped, { url: origin.url('/hop3') })).toMatchObject({ output: { status: 200, body: { path: '/hop0' } } });
    expect(await call(defaults, { url: origin.url('/hop5') })).toMatchObject({ output: { status: 200, body: { path: '/hop0' } } });

    const before = origin.requests.length;
    const failure = await failureOf(call(capped, { url: origin.url('/hop6') }));
    expect(failure).toMatchObject({ type: 'HttpTooManyRedirects', nonRetryable: true });
    expect(failure.message).toBe(`GET ${origin.url('/hop6')}: more than 3 redirects (the last to ${origin.url('/hop2')})`);
    expect(origin.requests.slice(before).map((r) => r.path)).toEqual(['/hop6', '/hop5', '/hop4', '/hop3']);

    const loop = await failureOf(call(defaults, { url: origin.url('/loop') }));
    expect(loop).toMatchObject({ type: 'HttpTooManyRedirects', nonRetryable: true });
    expect(requestsTo('/loop')).toHaveLength(6);
  });

  test('no redirects at all when the cap is 0', async () => {
    const failure = await failureOf(call(new EgressPolicy({ maxRedirects: 0 }), { url: origin.url('/hop1') }));
    expect(failure).toMatchObject({ type: 'HttpTooManyRedirects', message: expect.stringContaining('more than 0 redirects') });
  });

  test.each([
    ['/301', 'POST', 'GET'],
    ['/302', 'POST', 'GET'],
    ['/303', 'POST', 'GET'],
    ['/303', 'PUT', 'GET'],
    ['/301', 'PUT', 'PUT'],
    ['/307', 'POST', 'POST'],
    ['/308', 'POST', 'POST'],
    ['/308', 'PATCH', 'PATCH'],
  ])('%s on %s continues as %s, with the body only when the method is kept', async (path, method, expected) => {
    const { output } = await call(defaults, { url: origin.url(path), method, body: { order: 42 } });
    expect(output.status).toBe(200);
    expect(output.body).toMatchObject({ method: expected, path: '/echo' });
    if (expected === method) {
      expect(output.body.body).toBe('{"order":42}');
      expect(output.body.headers['content-type']).toBe('application/json');
    } else {
      expect(output.body.body).toBe('');
      expect(output.body.headers['content-type']).toBeUndefined();
    }
    expect(output.body.headers['idempotency-key']).toBe('test:fetch:fetch');
  });

  test('credentials follow a redirect within the origin, not to another one; other headers do', async () => {
    const headers = { Authorization: 'Bearer secret', Cookie: 'session=1', 'X-Trace': 'abc' };
    const same = await call(defaults, { url: origin.url('/307'), method: 'POST', headers, body: {} });
    expect(same.output.body.headers).toMatchObject({ authorization: 'Bearer secret', cookie: 'session=1', 'x-trace': 'abc' });

    const cross = await call(defaults, { url: origin.url('/to-other-origin'), method: 'POST', headers, body: { a: 1 } });
    expect(cross.output.body).toMatchObject({ method: 'POST', body: '{"a":1}' });
    expect(cross.output.body.headers.authorization).toBeUndefined();
    expect(cross.output.body.headers.cookie).toBeUndefined();
    expect(cross.output.body.headers).toMatchObject({ 'x-trace': 'abc', 'idempotency-key': 'test:fetch:fetch' });
    expect(other.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  test('a redirect without a Location is an answer: its status decides', async () => {
    expect(await failureOf(call(defaults, { url: origin.url('/no-location') }))).toMatchObject({ type: 'HttpUnexpectedStatus' });
    expect(await call(defaults, { url: origin.url('/no-location'), expectedStatuses: [302] })).toMatchObject({ output: { status: 302 } });
  });
});
