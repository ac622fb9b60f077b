import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { Keyring } from '../../apps/common/crypto/keyring';
import { EncryptionCodec } from '../../apps/common/crypto/payload-codec';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { call, expectProblem, startApi, type Api } from './harness';

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

/** Secrets are per tenant and the API's tenant is fixed for now: names are unique per test. */
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

  const replaced = await call(api, 'PUT', `/api/v1/secrets/${name}`, { json: { value: `${value}-2` }, headers: { 'x-user': 'bob' } });
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

test('values are stored encrypted, bound to their tenant and name, and rotate to the active key', async () => {
  const name = secretName();
  const value = `value-${randomUUID()}`;
  const store = new SecretStore(api.prisma, keyring);
  await store.put('tenant-a', name, { value }, 'alice');

  const row = await api.prisma.secret.findUnique({ where: { tenantId_name: { tenantId: 'tenant-a', name } } });
  expect(row!.keyId).toBe('k1');
  expect(Buffer.from(row!.ciphertext).includes(Buffer.from(value))).toBe(false);
  expect(await store.reveal('tenant-a', name)).toBe(value);
  expect(await store.reveal('tenant-b', name)).toBeUndefined();

  // The same ciphertext under another tenant, or another name, does not open.
  await api.prisma.$executeRaw`
    INSERT INTO "Secret" ("tenantId", "name", "keyId", "ciphertext", "createdBy", "updatedBy", "updatedAt")
    SELECT 'tenant-b', "name", "keyId", "ciphertext", 'mallory', 'mallory', now() FROM "Secret" WHERE "tenantId" = 'tenant-a' AND "name" = ${name}`;
  await expect(store.reveal('tenant-b', name)).rejects.toThrow(/authentication failed/);
  const renamed = secretName();
  await api.prisma.$executeRaw`
    INSERT INTO "Secret" ("tenantId", "name", "keyId", "ciphertext", "createdBy", "updatedBy", "updatedAt")
    SELECT "tenantId", ${renamed}, "keyId", "ciphertext", 'mallory', 'mallory', now() FROM "Secret" WHERE "tenantId" = 'tenant-a' AND "name" = ${name}`;
  await expect(store.reveal('tenant-a', renamed)).rejects.toThrow(/authentication failed/);
  await api.prisma.secret.deleteMany({ where: { OR: [{ tenantId: 'tenant-b' }, { name: renamed }] } });

  // Rotation: k2 first; every value moves under it, and then k1 can go.
  const k2 = Keyring.generateEntry('k2');
  const rotated = Keyring.parse(`${k2},${k1}`, 'SECRETS_KEYS');
  // Scoped to this test's tenant: other test files keep secrets of their own under other keys.
  expect(await new SecretStore(api.prisma, rotated).rotate({ tenantId: 'tenant-a' })).toEqual({ reEncrypted: 1, current: 0 });
  expect(await new SecretStore(api.prisma, rotated).rotate({ tenantId: 'tenant-a' })).toEqual({ reEncrypted: 0, current: 1 });
  expect(await new SecretStore(api.prisma, Keyring.parse(k2, 'SECRETS_KEYS')).reveal('tenant-a', name)).toBe(value);
  await api.prisma.secret.deleteMany({ where: { tenantId: 'tenant-a' } });
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

  const preflight = await fetch(`${api.baseUrl}/api/v1/codec/decode`, {
    method: 'OPTIONS',
    headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
  const elsewhere = await call(api, 'POST', '/api/v1/codec/decode', { json: { payloads: [] }, headers: { origin: 'https://evil.example' } });
  expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();

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
