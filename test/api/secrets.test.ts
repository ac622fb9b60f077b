import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { Keyring } from '../../apps/common/crypto/keyring';
import { EncryptionCodec } from '../../apps/common/crypto/payload-codec';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { call, createTestTenant, createToken, expectProblem, startApi, tokenFor, type Api } from './harness';

const k1 = Keyring.generateEntry('k1');
const keyring = Keyring.parse(k1, 'SECRETS_KEYS');
const codecKeys = Keyring.parse(Keyring.generateEntry('c1'), 'PAYLOAD_CODEC_KEYS');
const UI_ORIGIN = 'http://127.0.0.1:8233';

let api: Api;

beforeAll(async () => {
  api = await startApi({ secretsKeys: keyring, payloadCodecs: [new EncryptionCodec(codecKeys)], codecCorsOrigins: [UI_ORIGIN] });
});
afterAll(async () => {
  await api?.close();
});

/** Secrets are per tenant, and each test file's API has a tenant of its own; names are unique per test all the same. */
function secretName(): string {
  return `T_${randomUUID().replaceAll('-', '_').toUpperCase()}`;
}

test('the secrets API creates, replaces, lists and deletes, and no answer holds the value', async () => {
  const name = secretName();
  const value = `value-${randomUUID()}`;
  const answers = [];

  const created = await call(api, 'PUT', `/api/v1/secrets/${name}`, { json: { value, description: 'the API key' } });
  answers.push(created);
  expect(created.status).toBe(201);
  expect(created.headers.get('location')).toBe(`/api/v1/secrets/${name}`);
  expect(created.body).toMatchObject({ name, description: 'the API key', keyId: 'k1', createdBy: 'alice', updatedBy: 'alice' });

  const bob = await tokenFor(api, 'bob', ['admin']);
  const replaced = await call(api, 'PUT', `/api/v1/secrets/${name}`, { token: bob, json: { value: `${value}-2` } });
  answers.push(replaced);
  expect(replaced.status).toBe(200);
  expect(replaced.body).toMatchObject({ name, description: 'the API key', createdBy: 'alice', updatedBy: 'bob' });

  const read = await call(api, 'GET', `/api/v1/secrets/${name}`);
  answers.push(read);
  expect(read.status).toBe(200);
  expect(Object.keys(read.body).sort()).toEqual(['createdAt', 'createdBy', 'description', 'keyId', 'name', 'updatedAt', 'updatedBy']);

  const list = await call(api, 'GET', '/api/v1/secrets');
  answers.push(list);
  expect(list.body.items).toContainEqual(expect.objectContaining({ name }));

  const createOnly = await call(api, 'PUT', `/api/v1/secrets/${name}`, { json: { value }, headers: { 'if-none-match': '*' } });
  answers.push(createOnly);
  expectProblem(createOnly, 409);

  for (const answer of answers) expect(JSON.stringify(answer.body)).not.toContain(value);

  expect((await call(api, 'DELETE', `/api/v1/secrets/${name}`)).status).toBe(204);
  expectProblem(await call(api, 'GET', `/api/v1/secrets/${name}`), 404);
  expectProblem(await call(api, 'DELETE', `/api/v1/secrets/${name}`), 404);
});

test('the secrets API refuses bad names, oversized values and malformed bodies as problems', async () => {
  expectProblem(await call(api, 'PUT', '/api/v1/secrets/lower_case', { json: { value: 'x' } }), 422);
  expectProblem(await call(api, 'GET', '/api/v1/secrets/lower_case'), 404);
  const tooLarge = await call(api, 'PUT', `/api/v1/secrets/${secretName()}`, { json: { value: 'é'.repeat(40_000) } });
  expectProblem(tooLarge, 413);
  expectProblem(await call(api, 'PUT', `/api/v1/secrets/${secretName()}`, { json: { value: '' } }), 400);
  expectProblem(await call(api, 'PUT', `/api/v1/secrets/${secretName()}`, { json: { value: 'x', extra: 1 } }), 400);
  expectProblem(await call(api, 'PUT', `/api/v1/secrets/${secretName()}`, { json: { value: 'x' }, headers: { 'if-none-match': '"etag"' } }), 400);
  expectProblem(await call(api, 'POST', '/api/v1/secrets'), 405);
});

test('secrets are for the tenant’s admins only: every other role is refused, 403', async () => {
  const name = secretName();
  expect((await call(api, 'PUT', `/api/v1/secrets/${name}`, { json: { value: 'v' } })).status).toBe(201);
  for (const role of ['editor', 'operator', 'approver', 'viewer']) {
    const token = await tokenFor(api, `${role}-user`, [role]);
    expectProblem(await call(api, 'GET', '/api/v1/secrets', { token }), 403);
    expectProblem(await call(api, 'GET', `/api/v1/secrets/${name}`, { token }), 403);
    expectProblem(await call(api, 'PUT', `/api/v1/secrets/${name}`, { token, json: { value: 'mine' } }), 403);
    expectProblem(await call(api, 'DELETE', `/api/v1/secrets/${name}`, { token }), 403);
  }
  expectProblem(await call(api, 'GET', '/api/v1/secrets', { token: null }), 401);
  expect((await call(api, 'GET', `/api/v1/secrets/${name}`)).body).toMatchObject({ name, updatedBy: 'alice' });
});

test('another tenant’s admin sees none of this tenant’s secrets (404), and the same name there is its own secret', async () => {
  const name = secretName();
  expect((await call(api, 'PUT', `/api/v1/secrets/${name}`, { json: { value: 'ours', description: 'tenant A' } })).status).toBe(201);
  const other = await createTestTenant(api.prisma);
  const mallory = await createToken(api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin'] });

  expectProblem(await call(api, 'GET', `/api/v1/secrets/${name}`, { token: mallory }), 404);
  expectProblem(await call(api, 'DELETE', `/api/v1/secrets/${name}`, { token: mallory }), 404);
  expect((await call(api, 'GET', '/api/v1/secrets', { token: mallory })).body.items).toEqual([]);
  // Writing the same name creates the other tenant's own secret; ours is untouched.
  const theirs = await call(api, 'PUT', `/api/v1/secrets/${name}`, { token: mallory, json: { value: 'theirs', description: 'tenant B' } });
  expect([theirs.status, theirs.body.createdBy]).toEqual([201, 'mallory']);
  expect((await call(api, 'GET', `/api/v1/secrets/${name}`)).body).toMatchObject({ description: 'tenant A', createdBy: 'alice', updatedBy: 'alice' });
  const store = new SecretStore(api.prisma, keyring);
  expect([await store.reveal(api.tenant.id, name), await store.reveal(other.id, name)]).toEqual(['ours', 'theirs']);
  await api.prisma.secret.deleteMany({ where: { tenantId: other.id } });
});

test('values are stored encrypted, bound to their tenant and name, and rotate to the active key', async () => {
  const name = secretName();
  const value = `value-${randomUUID()}`;
  const store = new SecretStore(api.prisma, keyring);
  // Two tenants of this test's own: rotation below is scoped to the first.
  const [a, b] = [(await createTestTenant(api.prisma)).id, (await createTestTenant(api.prisma)).id];
  await store.put(a, name, { value }, 'alice');

  const row = await api.prisma.secret.findUnique({ where: { tenantId_name: { tenantId: a, name } } });
  expect(row!.keyId).toBe('k1');
  expect(Buffer.from(row!.ciphertext).includes(Buffer.from(value))).toBe(false);
  expect(await store.reveal(a, name)).toBe(value);
  expect(await store.reveal(b, name)).toBeUndefined();

  // The same ciphertext under another tenant, or another name, does not open.
  await api.prisma.$executeRaw`
    INSERT INTO "Secret" ("tenantId", "name", "keyId", "ciphertext", "createdBy", "updatedBy", "updatedAt")
    SELECT ${b}::uuid, "name", "keyId", "ciphertext", 'mallory', 'mallory', now() FROM "Secret" WHERE "tenantId" = ${a}::uuid AND "name" = ${name}`;
  await expect(store.reveal(b, name)).rejects.toThrow(/authentication failed/);
  const renamed = secretName();
  await api.prisma.$executeRaw`
    INSERT INTO "Secret" ("tenantId", "name", "keyId", "ciphertext", "createdBy", "updatedBy", "updatedAt")
    SELECT "tenantId", ${renamed}, "keyId", "ciphertext", 'mallory', 'mallory', now() FROM "Secret" WHERE "tenantId" = ${a}::uuid AND "name" = ${name}`;
  await expect(store.reveal(a, renamed)).rejects.toThrow(/authentication failed/);
  await api.prisma.secret.deleteMany({ where: { OR: [{ tenantId: b }, { name: renamed }] } });

  // Rotation: k2 first; every value moves under it, and then k1 can go.
  const k2 = Keyring.generateEntry('k2');
  const rotated = Keyring.parse(`${k2},${k1}`, 'SECRETS_KEYS');
  // Scoped to this test's tenant: other test files keep secrets of their own under other keys.
  expect(await new SecretStore(api.prisma, rotated).rotate({ tenantId: a })).toEqual({ reEncrypted: 1, current: 0 });
  expect(await new SecretStore(api.prisma, rotated).rotate({ tenantId: a })).toEqual({ reEncrypted: 0, current: 1 });
  expect(await new SecretStore(api.prisma, Keyring.parse(k2, 'SECRETS_KEYS')).reveal(a, name)).toBe(value);
  await api.prisma.secret.deleteMany({ where: { tenantId: a } });
});

test('the codec endpoint encodes and decodes payloads for the Web UI, with CORS for its origin only', async () => {
  const payload = defaultPayloadConverter.toPayload({ hello: 'world' });
  const asJson = { metadata: { encoding: Buffer.from(payload.metadata!.encoding!).toString('base64') }, data: Buffer.from(payload.data!).toString('base64') };

  const encoded = await call(api, 'POST', '/api/v1/codec/encode', { json: { payloads: [asJson] }, headers: { origin: UI_ORIGIN } });
  expect(encoded.status).toBe(200);
  expect(encoded.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
  const [sealed] = encoded.body.payloads;
  expect(Buffer.from(sealed.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
  expect(Buffer.from(sealed.data, 'base64').toString('latin1')).not.toContain('world');

  const decoded = await call(api, 'POST', '/api/v1/codec/decode', { json: { payloads: [sealed] } });
  expect(decoded.status).toBe(200);
  expect(decoded.body.payloads).toEqual([asJson]);

  // The preflight carries no credential.
  const preflight = await fetch(`${api.baseUrl}/api/v1/codec/decode`, {
    method: 'OPTIONS',
    headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
  const elsewhere = await call(api, 'POST', '/api/v1/codec/decode', { json: { payloads: [] }, headers: { origin: 'https://evil.example' } });
  expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();

  // Any reader of the tenant may use it; a credential is needed, and a role of flowpilot's.
  const viewer = await tokenFor(api, 'vera', ['viewer']);
  expect((await call(api, 'POST', '/api/v1/codec/decode', { token: viewer, json: { payloads: [sealed] } })).body.payloads).toEqual([asJson]);
  const unauthenticated = await call(api, 'POST', '/api/v1/codec/decode', { token: null, json: { payloads: [sealed] }, headers: { origin: UI_ORIGIN } });
  expectProblem(unauthenticated, 401);
  // With the CORS headers, so the UI can read the refusal.
  expect(unauthenticated.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
  expect(unauthenticated.body.payloads).toBeUndefined();
  const sreOnly = await tokenFor(api, 'sam', ['sre']);
  expectProblem(await call(api, 'POST', '/api/v1/codec/encode', { token: sreOnly, json: { payloads: [asJson] } }), 403);
  // The preflight answers without a credential (browsers send none with it), other methods are a 405.
  const bare = await fetch(`${api.baseUrl}/api/v1/codec/encode`, { method: 'OPTIONS' });
  expect(bare.status).toBe(204);
  const get = await call(api, 'GET', '/api/v1/codec/decode');
  expectProblem(get, 405);
  expect(get.headers.get('allow')).toBe('POST, OPTIONS');

  const tampered = { ...sealed, data: Buffer.from('not a ciphertext at all, nope').toString('base64') };
  expectProblem(await call(api, 'POST', '/api/v1/codec/decode', { json: { payloads: [tampered] } }), 422);
  expectProblem(await call(api, 'POST', '/api/v1/codec/decode', { json: { payloads: [{ data: '***' }] } }), 400);
});

test('a spec reading secrets other than through a whole reference is refused at validation, naming the step', async () => {
  const answer = await call(api, 'POST', '/api/v1/templates/validate', {
    json: { steps: [{ id: 'shout', type: 'http', with: { url: 'https://a.example/', headers: { a: '{{ $uppercase(secrets.API_KEY) }}' } } }] },
  });
  expectProblem(answer, 422);
  expect(answer.body.invalidParams).toEqual([
    expect.objectContaining({ stepId: 'shout', message: expect.stringContaining('reads `secrets`, which only a whole `{{ secrets.NAME }}` may') }),
  ]);
  const accepted = await call(api, 'POST', '/api/v1/templates/validate', {
    json: { steps: [{ id: 'call', type: 'http', with: { url: 'https://a.example/', headers: { authorization: 'Bearer {{ secrets.API_KEY }}' } } }] },
  });
  expect(accepted.status).toBe(200);
});
