import { randomUUID } from 'node:crypto';
import { Router, type Express } from 'express';
import pino from 'pino';
import { POLICY, MissingPolicy } from '../../apps/api/src/auth/policy';
import { declareRoutes, declaredRoutes } from '../../apps/api/src/http/routes';
import { createApp } from '../../apps/api/src/app';
import { Keyring } from '../../apps/common/crypto/keyring';
import { EncryptionCodec } from '../../apps/common/crypto/payload-codec';
import { call, createTestTenant, createToken, startApi, type Api } from './harness';

/**
 * The authorization matrix, generated from the policy table: every route × every way a credential
 * can be wrong gets its refusal. Runs start on a queue no worker polls: describing them, which is
 * what every run route does first, needs none.
 */

let api: Api;
/** The other tenant's admin: every resource of `api`'s tenant must be a 404 to it. */
let otherTenantAdmin: string;
let credentials: { expired: string; revoked: string; noRole: string; tenantAdmin: string; system: string };
/** Path parameters naming real resources of `api`'s tenant. */
let params: Record<string, string>;

beforeAll(async () => {
  // Secrets and the payload codec on, so that their routes answer past authorization.
  api = await startApi({
    secretsKeys: Keyring.parse(Keyring.generateEntry('matrix'), 'SECRETS_KEYS'),
    payloadCodecs: [new EncryptionCodec(Keyring.parse(Keyring.generateEntry('matrix'), 'PAYLOAD_CODEC_KEYS'))],
  });
  const tenantId = api.tenant.id;
  const other = await createTestTenant(api.prisma);
  otherTenantAdmin = await createToken(api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin', 'approver'] });
  const revoked = await createToken(api.prisma, { tenantId, name: 'revoked', roles: ['admin'] });
  await api.prisma.apiToken.updateMany({ where: { name: 'revoked', tenantId }, data: { revokedAt: new Date() } });
  credentials = {
    expired: await createToken(api.prisma, { tenantId, name: 'expired', roles: ['admin'], expiresAt: new Date(Date.now() - 1000) }),
    revoked,
    // A role approval steps may name, and none of flowpilot's.
    noRole: await createToken(api.prisma, { tenantId, name: 'sre-only', roles: ['sre'] }),
    tenantAdmin: api.token,
    system: await createToken(api.prisma, { tenantId, name: 'root', roles: ['admin'], system: true }),
  };

  const template = await call(api, 'POST', '/api/v1/templates', {
    json: { name: `matrix-${randomUUID()}`, spec: { steps: [{ id: 'gate', type: 'approval', with: { approvers: { roles: ['sre'] } } }] } },
  });
  const run = await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.body.id } });
  const token = await call(api, 'POST', '/api/v1/tokens', { json: { name: 'matrix', roles: ['viewer'] } });
  const secret = await call(api, 'PUT', '/api/v1/secrets/MATRIX', { json: { value: 'ours', description: 'the tenant’s own' } });
  // The other tenant holds a secret of the same name, so its admin may write a target naming it.
  const dsToken = await call(api, 'PUT', '/api/v1/secrets/MATRIX_DS', { json: { value: 'ours' } });
  const othersSecret = await call(api, 'PUT', '/api/v1/secrets/MATRIX_DS', { token: otherTenantAdmin, json: { value: 'theirs' } });
  const target = await call(api, 'PUT', '/api/v1/dolphinscheduler/targets/matrix', { json: { ...targetBody, description: 'the tenant’s own' } });
  expect([template.status, run.status, token.status, secret.status, dsToken.status, othersSecret.status, target.status]).toEqual([201, 201, 201, 201, 201, 201, 201]);
  const publish = await api.prisma.publish.create({
    data: {
      tenantId,
      templateId: template.body.id,
      templateVersion: 1,
      target: 'matrix',
      action: 'publish',
      status: 'awaiting_approval',
      requestHash: 'matrix',
      requireApproval: true,
      workflowId: 'publish-matrix',
      requestedBy: 'alice',
    },
  });
  params = { template: template.body.id, run: run.body.runId, token: token.body.id, secret: 'MATRIX', target: 'matrix', publish: publish.id };
}, 60_000);

afterAll(async () => {
  await api?.close();
});

interface Route {
  method: string;
  pattern: string;
  system: boolean;
}

const routes: Route[] = Object.entries(POLICY).map(([key, access]) => {
  const [method, pattern] = key.split(' ') as [string, string];
  return { method, pattern, system: 'system' in access };
});

/** The pattern with its parameters naming real resources of the API's tenant. */
function pathOf(route: Route): string {
  const owners: [string, string][] = [
    ['/api/v1/runs', 'run'],
    ['/api/v1/tokens', 'token'],
    ['/api/v1/publishes', 'publish'],
  ];
  const owner = owners.find(([prefix]) => route.pattern.startsWith(prefix))?.[1] ?? 'template';
  return route.pattern
    .replace(':id', params[owner]!)
    .replace(':name', route.pattern.startsWith('/api/v1/dolphinscheduler/targets') ? params.target! : params.secret!)
    .replace(':target', params.target!)
    .replace(/:(number|from|to)/g, '1')
    .replace(':stepId', 'gate');
}

const targetBody = { baseUrl: 'http://ds.example.com:12345/dolphinscheduler', tokenSecret: 'MATRIX_DS', projectName: 'matrix', tenantCode: 'etl', dialect: 'v3.1' };

/** Valid bodies where `{}` is not one, so that another tenant's 404 is not hidden behind a 400. */
const bodies: Record<string, unknown> = {
  'PATCH /api/v1/templates/:id': { description: 'changed' },
  'POST /api/v1/templates/:id/versions': { spec: { steps: [{ id: 'other', type: 'noop' }] } },
  'PUT /api/v1/secrets/:name': { value: 'theirs' },
  'PUT /api/v1/dolphinscheduler/targets/:name': { ...targetBody, description: 'theirs' },
  'POST /api/v1/templates/:id/versions/:number/publish': { target: 'matrix' },
  'POST /api/v1/codec/decode': { payloads: [] },
  'POST /api/v1/codec/encode': { payloads: [] },
};

async function send(route: Route, token: string | null, authorization?: string) {
  const withBody = route.method === 'POST' || route.method === 'PATCH' || route.method === 'PUT';
  return call(api, route.method, pathOf(route), {
    token,
    ...(authorization ? { headers: { authorization } } : {}),
    ...(withBody ? { json: bodies[`${route.method} ${route.pattern}`] ?? {} } : {}),
  });
}

describe.each(routes)('$method $pattern', (route) => {
  test('no credential: 401 with a Bearer challenge', async () => {
    const answer = await send(route, null);
    expect([answer.status, answer.contentType]).toEqual([401, expect.stringContaining('application/problem+json')]);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="flowpilot"');
  });

  test.each([
    ['malformed', () => 'Bearer fpk_not-a-token'],
    ['not bearer', () => `Basic ${Buffer.from('alice:secret').toString('base64')}`],
    ['unknown', () => `Bearer fpk_${'A'.repeat(43)}`],
    ['expired', () => `Bearer ${credentials.expired}`],
    ['revoked', () => `Bearer ${credentials.revoked}`],
  ])('%s credential: 401 invalid_token', async (_name, authorization) => {
    const answer = await send(route, null, authorization());
    expect([answer.status, answer.contentType]).toEqual([401, expect.stringContaining('application/problem+json')]);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="flowpilot", error="invalid_token"');
  });

  test('wrong role: 403', async () => {
    const answer = await send(route, route.system ? credentials.tenantAdmin : credentials.noRole);
    expect([answer.status, answer.contentType]).toEqual([403, expect.stringContaining('application/problem+json')]);
  });

  if (/:(id|name)\b/.test(route.pattern) && route.method !== 'PUT') {
    test('another tenant’s resource: 404', async () => {
      const answer = await send(route, otherTenantAdmin);
      expect([answer.status, answer.body.detail]).toEqual([404, expect.any(String)]);
    });
  }

  if (/:(id|name)\b/.test(route.pattern) && route.method === 'PUT') {
    // A PUT creates or replaces the named resource in the caller's own tenant: never ours.
    test('another tenant’s name: its own resource, ours untouched', async () => {
      const answer = await send(route, otherTenantAdmin);
      expect([answer.status, answer.body.createdBy]).toEqual([201, 'mallory']);
      const ours = await call(api, 'GET', pathOf({ ...route, method: 'GET' }));
      expect(ours.body).toMatchObject({ description: 'the tenant’s own', updatedBy: 'alice' });
      // Gone again, so the next tests meet only ours.
      expect((await call(api, 'DELETE', pathOf(route), { token: otherTenantAdmin })).status).toBe(204);
    });
  }
});

describe('the route table', () => {
  test('every route behind authentication was declared through declareRoutes, so it has a policy', () => {
    const app = createApp({ prisma: api.prisma, temporal: api.temporal, taskQueue: 'unused', logger: pino({ level: 'silent' }), templateChanges: api.templateChanges });
    const undeclared = routesAfterAuthentication(app).filter((route) => !declaredRoutes.has(route));
    expect(undeclared.map((route) => (route as { path: string }).path)).toEqual([]);
  });

  test('declaring a route that has no policy entry throws', () => {
    expect(() => declareRoutes(Router(), '/api/v1/nowhere', { '/': { get: () => undefined } })).toThrow(MissingPolicy);
  });

  test('a system administrator may manage tenants', async () => {
    expect((await call(api, 'GET', '/api/v1/tenants', { token: credentials.system })).status).toBe(200);
  });
});

interface Layer {
  name: string;
  route?: object;
  handle: { stack?: Layer[] };
}

function routesAfterAuthentication(app: Express): object[] {
  const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
  const start = stack.findIndex((layer) => layer.name === 'authenticateRequest');
  expect(start).toBeGreaterThan(0);
  const found: object[] = [];
  const walk = (layers: Layer[]) => {
    for (const layer of layers) {
      if (layer.route) found.push(layer.route);
      else if (layer.handle.stack) walk(layer.handle.stack);
    }
  };
  walk(stack.slice(start + 1));
  return found;
}

