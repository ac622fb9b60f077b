import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { hashTokenSecret, TOKEN_CACHE_TTL_MS } from '../../apps/api/src/auth/api-tokens';
import { bearer, call, createToken, expectProblem, startApi, tokenFor, uniqueName, type Api } from './harness';

/** API tokens (issue, list, revoke, the cache bound), OIDC JWTs against a local issuer, and tenants. */

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

let api: Api;

beforeAll(async () => {
  api = await startApi();
});

afterAll(async () => {
  await api?.close();
});

describe('API tokens', () => {
  test('created by an admin, the secret is shown once and only its hash is stored', async () => {
    const created = await call(api, 'POST', '/api/v1/tokens', { json: { name: 'ci-bot', roles: ['operator'], expiresInDays: 30 } });
    expect(created.status).toBe(201);
    const { secret, id } = created.body as { secret: string; id: string };
    // fpk_ and 32 random bytes in base64url: 256 bits, findable by secret scanners.
    expect(secret).toMatch(/^fpk_[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({ name: 'ci-bot', roles: ['operator'], system: false, revokedAt: null, createdBy: 'alice' });

    const row = await api.prisma.apiToken.findUniqueOrThrow({ where: { id } });
    expect(row.secretHash).toBe(hashTokenSecret(secret));
    expect(JSON.stringify(row)).not.toContain(secret.slice(4));

    const listed = await call(api, 'GET', '/api/v1/tokens');
    const item = listed.body.items.find((token: { id: string }) => token.id === id);
    expect(item).toMatchObject({ id, name: 'ci-bot' });
    expect(item).not.toHaveProperty('secret');

    // It works for what its role grants, and records its use (after the answer).
    expect((await call(api, 'GET', '/api/v1/templates', { token: secret })).status).toBe(200);
    expectProblem(await call(api, 'POST', '/api/v1/tokens', { token: secret, json: { name: 'x', roles: ['admin'] } }), 403);
    await eventually(async () => (await api.prisma.apiToken.findUniqueOrThrow({ where: { id } })).lastUsedAt !== null);
  });

  test('revoked through this instance, a token stops working at once; the audit trail says who', async () => {
    const secret = await tokenFor(api, 'soon-gone', ['viewer']);
    expect((await call(api, 'GET', '/api/v1/templates', { token: secret })).status).toBe(200);
    const { id } = await api.prisma.apiToken.findUniqueOrThrow({ where: { secretHash: hashTokenSecret(secret) } });
    expect((await call(api, 'DELETE', `/api/v1/tokens/${id}`)).status).toBe(204);
    const refused = await call(api, 'GET', '/api/v1/templates', { token: secret });
    expectProblem(refused, 401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const audit = await api.prisma.auditEvent.findMany({ where: { subjectId: id } });
    expect(audit.map((event) => [event.action, event.actor, event.tenantId])).toContainEqual(['token.revoked', 'alice', api.tenant.id]);
    expectProblem(await call(api, 'DELETE', `/api/v1/tokens/${randomUUID()}`), 404);
  });

  test(`revoked elsewhere, a token stops working within the cache bound (${TOKEN_CACHE_TTL_MS} ms)`, async () => {
    const secret = await tokenFor(api, 'revoked-elsewhere', ['viewer']);
    expect((await call(api, 'GET', '/api/v1/templates', { token: secret })).status).toBe(200);
    // As another API instance would: in the database, without this instance hearing of it.
    const revokedAt = Date.now();
    await api.prisma.apiToken.update({ where: { secretHash: hashTokenSecret(secret) }, data: { revokedAt: new Date(revokedAt) } });
    expect((await call(api, 'GET', '/api/v1/templates', { token: secret })).status).toBe(200);
    await eventually(async () => (await call(api, 'GET', '/api/v1/templates', { token: secret })).status === 401, TOKEN_CACHE_TTL_MS + 2_000);
    expect(Date.now() - revokedAt).toBeLessThanOrEqual(TOKEN_CACHE_TTL_MS + 1_000);
  }, 15_000);

  test('X-User and X-Roles name nobody any more', async () => {
    const answer = await call(api, 'GET', '/api/v1/templates', { token: null, headers: { 'x-user': 'alice', 'x-roles': 'admin' } });
    expectProblem(answer, 401);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="flowpilot"');
  });
});

test('the OpenAPI document declares the bearer scheme, and every operation needs it and lists 401 and 403, but CORS preflights and signed webhook deliveries', async () => {
  const document = (await call(api, 'GET', '/openapi.json', { token: null })).body;
  expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  type Operation = { security: unknown; responses: object };
  const operations = Object.entries(document.paths as Record<string, Record<string, Operation>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );
  expect(operations.length).toBeGreaterThan(20);
  for (const { path, method, operation } of operations) {
    if (method === 'options') {
      // Browsers send a preflight without credentials: the codec's is public, and the only one.
      expect(path).toMatch(/^\/api\/v1\/codec\/(decode|encode)$/);
      expect([operation.security, Object.keys(operation.responses)]).toEqual([[], expect.not.arrayContaining(['401', '403'])]);
      continue;
    }
    if (path === '/api/v1/hooks/{triggerId}') {
      // A sender holds no token: each delivery is authenticated by its signature, refused with 401.
      expect([operation.security, Object.keys(operation.responses)]).toEqual([[], expect.arrayContaining(['401'])]);
      continue;
    }
    expect({ path, method, security: operation.security }).toEqual({ path, method, security: [{ bearerAuth: [] }] });
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
  }
});

describe('tenants', () => {
  test('a system administrator creates a tenant with its first admin token; nothing crosses between tenants', async () => {
    const system = await createToken(api.prisma, { tenantId: api.tenant.id, name: 'root', roles: ['admin'], system: true });
    const slug = `t-${randomUUID().slice(0, 8)}`;
    const created = await call(api, 'POST', '/api/v1/tenants', { token: system, json: { slug, name: 'Payments', adminName: 'pat' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ slug, name: 'Payments', adminToken: { name: 'pat', roles: ['admin'], secret: expect.stringMatching(/^fpk_/) } });
    expectProblem(await call(api, 'POST', '/api/v1/tenants', { token: system, json: { slug, name: 'Again' } }), 409);
    const listed = await call(api, 'GET', '/api/v1/tenants', { token: system });
    expect(listed.body.items.map((tenant: { slug: string }) => tenant.slug)).toContain(slug);
    expectProblem(await call(api, 'GET', '/api/v1/tenants'), 403);

    // The same template name in both tenants; each sees only its own.
    const theirs = created.body.adminToken.secret as string;
    const name = uniqueName('shared-name');
    const spec = { steps: [{ id: 'a', type: 'noop' }] };
    const mine = await call(api, 'POST', '/api/v1/templates', { json: { name, spec } });
    const other = await call(api, 'POST', '/api/v1/templates', { token: theirs, json: { name, spec } });
    expect([mine.status, other.status]).toEqual([201, 201]);
    const theirList = await call(api, 'GET', `/api/v1/templates?q=${name}`, { token: theirs });
    expect(theirList.body.items.map((template: { id: string }) => template.id)).toEqual([other.body.id]);
    expectProblem(await call(api, 'GET', `/api/v1/templates/${mine.body.id}`, { token: theirs }), 404);
    expectProblem(await call(api, 'POST', '/api/v1/runs', { token: theirs, json: { templateId: mine.body.id } }), 404);
    const theirTokens = await call(api, 'GET', '/api/v1/tokens', { token: theirs });
    expect(theirTokens.body.items.map((token: { name: string }) => token.name)).toEqual(['pat']);
  });
});

describe('OIDC JWTs', () => {
  const issuer = 'https://issuer.test';
  const audience = 'flowpilot';
  let jwks: { keys: JWK[] };
  let issuerServer: Server;
  let oidcApi: Api;
  let oldKey: SigningKey;
  let newKey: SigningKey;

  beforeAll(async () => {
    const first = await generateKeyPair('RS256', { extractable: true });
    const second = await generateKeyPair('ES256', { extractable: true });
    oldKey = first.privateKey;
    newKey = second.privateKey;
    jwks = { keys: [{ ...(await exportJWK(first.publicKey)), kid: 'old', alg: 'RS256', use: 'sig' }] };
    const rotated = { ...(await exportJWK(second.publicKey)), kid: 'new', alg: 'ES256', use: 'sig' };
    issuerServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
    await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
    const { port } = issuerServer.address() as AddressInfo;
    oidcApi = await startApi({
      oidc: {
        issuer,
        audience,
        jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
        tenantClaim: 'org',
        rolesClaim: 'groups',
        clockToleranceSeconds: 30,
        // Any unknown key refetches the set at once here; production keeps jose's 30 s cool-down.
        jwksCooldownMs: 0,
      },
    });
    rotateTo = () => {
      jwks = { keys: [rotated] };
    };
  });

  let rotateTo: () => void;

  afterAll(async () => {
    await oidcApi?.close();
    await new Promise((resolve) => issuerServer?.close(resolve));
  });

  function jwt(claims: Record<string, unknown>, options: { key?: SigningKey; kid?: string; alg?: string; expiresAt?: number; audience?: string; issuer?: string } = {}) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ org: oidcApi.tenant.slug, groups: ['editor'], ...claims })
      .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'old' })
      .setIssuer(options.issuer ?? issuer)
      .setAudience(options.audience ?? audience)
      .setSubject('jwt-user')
      .setIssuedAt(now)
      .setExpirationTime(options.expiresAt ?? now + 300)
      .sign(options.key ?? oldKey);
  }

  test('a valid JWT is a principal of its tenant with the roles of its claim', async () => {
    const created = await call(oidcApi, 'POST', '/api/v1/templates', { token: await jwt({}), json: { name: uniqueName(), spec: { steps: [{ id: 'a', type: 'noop' }] } } });
    expect(created.status).toBe(201);
    expect(created.body.createdBy).toBe('jwt-user');
    // A space-separated roles claim reads the same; viewers may not create.
    expectProblem(await call(oidcApi, 'POST', '/api/v1/templates', { token: await jwt({ groups: 'viewer sre' }), json: { name: uniqueName(), spec: {} } }), 403);
    expect((await call(oidcApi, 'GET', '/api/v1/templates', { token: await jwt({ groups: 'viewer sre' }) })).status).toBe(200);
  });

  test('wrong audience, wrong issuer, expired past the tolerance and unknown tenants are refused; skew within it is not', async () => {
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      await jwt({}, { audience: 'someone-else' }),
      await jwt({}, { issuer: 'https://evil.test' }),
      await jwt({}, { expiresAt: now - 60 }),
      await jwt({ org: 'no-such-tenant' }),
      `${(await jwt({})).slice(0, -4)}AAAA`,
    ];
    for (const token of refused) {
      const answer = await call(oidcApi, 'GET', '/api/v1/templates', { token });
      expectProblem(answer, 401);
      expect(answer.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    expect((await call(oidcApi, 'GET', '/api/v1/templates', { token: await jwt({}, { expiresAt: now - 10 }) })).status).toBe(200);
  });

  test('a refused write with an expired JWT of a known tenant is in that tenant’s audit log; one naming no known tenant is in the system scope', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expiredRequest = `req-${randomUUID()}`;
    const unknownTenantRequest = `req-${randomUUID()}`;
    const write = async (token: string, requestId: string) =>
      expectProblem(await call(oidcApi, 'POST', '/api/v1/templates', { token, json: {}, headers: { 'x-request-id': requestId } }), 401);
    await write(await jwt({}, { expiresAt: now - 60 }), expiredRequest);
    await write(await jwt({ org: 'no-such-tenant' }), unknownTenantRequest);

    const system = await createToken(oidcApi.prisma, { tenantId: oidcApi.tenant.id, name: 'root', roles: [], system: true });
    const entriesOf = async (path: string, token: string) => {
      for (let attempt = 0; ; attempt++) {
        await oidcApi.audit.flush();
        const items = (await call(oidcApi, 'GET', path, { token })).body.items as unknown[];
        if (items.length > 0 || attempt >= 20) return items;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    expect(await entriesOf(`/api/v1/audit?requestId=${expiredRequest}`, oidcApi.token)).toEqual([
      expect.objectContaining({ actor: { subject: 'jwt-user', credential: `jwt:${issuer}` }, outcome: 'refused', summary: { status: 401, reason: 'expired' } }),
    ]);
    expect(await entriesOf(`/api/v1/audit/system?requestId=${unknownTenantRequest}`, system)).toEqual([
      expect.objectContaining({ actor: { subject: 'unidentified', credential: null }, outcome: 'refused', summary: { status: 401, reason: 'unknown-tenant' } }),
    ]);
    // Neither lands in the other scope.
    expect((await call(oidcApi, 'GET', `/api/v1/audit?requestId=${unknownTenantRequest}`)).body.items).toEqual([]);
    expect((await call(oidcApi, 'GET', `/api/v1/audit/system?requestId=${expiredRequest}`, { token: system })).body.items).toEqual([]);
  });

  test('key rotation: a token of the new key verifies once the issuer publishes it; the removed key’s tokens are refused', async () => {
    const old = await jwt({});
    expect((await call(oidcApi, 'GET', '/api/v1/templates', { token: old })).status).toBe(200);
    rotateTo();
    const renewed = await jwt({}, { key: newKey, kid: 'new', alg: 'ES256' });
    expect((await call(oidcApi, 'GET', '/api/v1/templates', { token: renewed })).status).toBe(200);
    expectProblem(await call(oidcApi, 'GET', '/api/v1/templates', { token: old }), 401);
  });

  test('an issuer whose keys cannot be fetched is a 503, not the caller’s fault', async () => {
    const unreachable = await startApi({
      tenant: oidcApi.tenant,
      oidc: { issuer, audience, jwksUrl: 'http://127.0.0.1:1/jwks.json', tenantClaim: 'org', rolesClaim: 'groups', clockToleranceSeconds: 30, jwksCooldownMs: 0 },
    });
    try {
      expectProblem(await call(unreachable, 'GET', '/api/v1/templates', { token: await jwt({}) }), 503);
    } finally {
      await unreachable.close();
    }
  });

  test('a sign-in records the person in the directory for notices; an entry an admin wrote keeps its roles', async () => {
    const person = () => oidcApi.prisma.person.findUnique({ where: { tenantId_subject: { tenantId: oidcApi.tenant.id, subject: 'jwt-user' } } });
    // Signed with the key the rotation test left published.
    const current = { key: newKey, kid: 'new', alg: 'ES256' };
    const signedIn = await jwt({ name: 'Jay Doe', email: 'jay@example.com', groups: ['approver', 'sre'] }, current);
    expect((await call(oidcApi, 'GET', '/api/v1/templates', { token: signedIn })).status).toBe(200);
    await eventually(async () => (await person())?.email === 'jay@example.com');
    expect(await person()).toMatchObject({ displayName: 'Jay Doe', roles: ['approver', 'sre'], source: 'oidc' });

    // An admin's entry is the admin's: sign-in only fills what it left empty.
    expect((await call(oidcApi, 'PUT', '/api/v1/people/jwt-user', { json: { roles: ['dba'] } })).status).toBe(200);
    const again = await jwt({ name: 'Jay D.', email: 'jay@example.com', groups: ['viewer'] }, current);
    expect((await call(oidcApi, 'GET', '/api/v1/templates', { token: again })).status).toBe(200);
    await eventually(async () => (await person())?.displayName === 'Jay D.');
    expect(await person()).toMatchObject({ email: 'jay@example.com', roles: ['dba'], source: 'admin' });
  });

  test('API tokens keep working beside OIDC', async () => {
    expect((await call(oidcApi, 'GET', '/api/v1/templates', { headers: bearer(oidcApi.token), token: null })).status).toBe(200);
  });
});

async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
