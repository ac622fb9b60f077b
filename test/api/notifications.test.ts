import { Keyring } from '../../apps/common/crypto/keyring';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { call, createTestTenant, createToken, expectProblem, startApi, tokenFor, uniqueName, type Api } from './harness';

/**
 * The notifications API: channels whose secrets are stored as tenant secrets and never answered,
 * people, subscriptions and deliveries; every change audited, every resource the tenant's own,
 * every bad request a 4xx problem.
 */

const secretsKeys = Keyring.parse(Keyring.generateEntry('api-n1'), 'SECRETS_KEYS');
const HOOK_URL = 'https://hooks.example.com/services/T000/B000/very-secret-token';

let api: Api;
let other: Api;

beforeAll(async () => {
  api = await startApi({ secretsKeys });
  other = await startApi({ secretsKeys, tenant: await createTestTenant(api.prisma) });
  other.token = await createToken(api.prisma, { tenantId: other.tenant.id, name: 'mallory', roles: ['admin'] });
});
afterAll(async () => {
  await other?.close();
  await api?.close();
});

test('a channel is created, read, changed and deleted; its secrets are stored as tenant secrets and never answered', async () => {
  const name = uniqueName('slack');
  const created = await call(api, 'POST', '/api/v1/channels', { json: { name, kind: 'slack', locale: 'zh-CN', secrets: { url: HOOK_URL } } });
  expect(created.status).toBe(201);
  const id = created.body.id;
  expect(created.headers.get('location')).toBe(`/api/v1/channels/${id}`);
  const secretName = `NOTIFY_${id.replaceAll('-', '').toUpperCase()}_URL`;
  expect(created.body).toMatchObject({ name, kind: 'slack', locale: 'zh-CN', enabled: true, config: {}, secretNames: { url: secretName }, createdBy: 'alice' });
  expect(await new SecretStore(api.prisma, secretsKeys).reveal(api.tenant.id, secretName)).toBe(HOOK_URL);

  const read = await call(api, 'GET', `/api/v1/channels/${id}`);
  const listed = await call(api, 'GET', '/api/v1/channels');
  expect(listed.body.items.map((channel: { id: string }) => channel.id)).toContain(id);
  const changed = await call(api, 'PATCH', `/api/v1/channels/${id}`, { json: { locale: 'en', enabled: false, secrets: { url: `${HOOK_URL}-2` } } });
  expect(changed.body).toMatchObject({ locale: 'en', enabled: false, secretNames: { url: secretName } });
  expect(await new SecretStore(api.prisma, secretsKeys).reveal(api.tenant.id, secretName)).toBe(`${HOOK_URL}-2`);
  for (const answer of [created, read, listed, changed]) expect(JSON.stringify(answer.body)).not.toContain('very-secret-token');

  expect((await call(api, 'DELETE', `/api/v1/channels/${id}`)).status).toBe(204);
  expectProblem(await call(api, 'GET', `/api/v1/channels/${id}`), 404);
  expect(await new SecretStore(api.prisma, secretsKeys).reveal(api.tenant.id, secretName)).toBeUndefined();

  await api.audit.flush();
  const audit = await call(api, 'GET', `/api/v1/audit?targetType=channel&targetId=${id}`);
  expect(audit.body.items.map((entry: { action: string }) => entry.action)).toEqual(['channel.deleted', 'channel.updated', 'channel.created']);
  expect(JSON.stringify(audit.body)).not.toContain('very-secret-token');
});

test('bad channels are 4xx problems naming what to fix', async () => {
  const cases: [object, number][] = [
    [{ name: 'x', kind: 'pager', secrets: {} }, 400],
    [{ name: 'x', kind: 'slack', secrets: {} }, 400],
    [{ name: 'x', kind: 'slack', secrets: { url: 'ftp://example.com/hook' } }, 400],
    [{ name: 'x', kind: 'slack', secrets: { url: 'https://robot:token@hooks.example.com/hook' } }, 400],
    [{ name: 'x', kind: 'webhook', secrets: { url: HOOK_URL } }, 400],
    [{ name: 'x', kind: 'email', config: { host: 'smtp.example.com', from: 'not-an-address' } }, 400],
    [{ name: '   ', kind: 'wecom', secrets: { url: HOOK_URL } }, 400],
    [{ name: 'x', kind: 'slack', locale: 'fr', secrets: { url: HOOK_URL } }, 400],
    [{ name: 'x', kind: 'slack', secrets: { url: HOOK_URL }, extra: true }, 400],
  ];
  for (const [body, status] of cases) expectProblem(await call(api, 'POST', '/api/v1/channels', { json: body }), status);

  const name = uniqueName('dup');
  const first = await call(api, 'POST', '/api/v1/channels', { json: { name, kind: 'wecom', secrets: { url: HOOK_URL } } });
  expect(first.status).toBe(201);
  expectProblem(await call(api, 'POST', '/api/v1/channels', { json: { name, kind: 'wecom', secrets: { url: HOOK_URL } } }), 409);
  expectProblem(await call(api, 'PATCH', `/api/v1/channels/${first.body.id}`, { json: { config: { host: 'smtp.example.com' } } }), 422);
  expectProblem(await call(api, 'PATCH', `/api/v1/channels/${first.body.id}`, { json: { secrets: { password: 'x' } } }), 422);
  expectProblem(await call(api, 'GET', '/api/v1/channels/not-a-uuid'), 404);
});

test('a channel test without a worker polling the task queue is a 503 at once, naming the worker', async () => {
  const channel = await call(api, 'POST', '/api/v1/channels', { json: { name: uniqueName('idle'), kind: 'wecom', secrets: { url: HOOK_URL } } });
  const answer = await call(api, 'POST', `/api/v1/channels/${channel.body.id}/test`);
  expectProblem(answer, 503);
  expect(answer.body.dependency).toBe('worker');
});

test('a viewer may list deliveries, but not channels, people or subscriptions', async () => {
  const viewer = await tokenFor(api, 'vera', ['viewer']);
  expect((await call(api, 'GET', '/api/v1/notifications', { token: viewer })).status).toBe(200);
  for (const path of ['/api/v1/channels', '/api/v1/people', '/api/v1/subscriptions']) expectProblem(await call(api, 'GET', path, { token: viewer }), 403);
});

test('people are kept by admins and found by role', async () => {
  const subject = `${uniqueName('person')}@example.com`;
  const put = await call(api, 'PUT', `/api/v1/people/${encodeURIComponent(subject)}`, {
    json: { displayName: 'Pat', email: 'pat@example.com', imIds: { slack: 'U1', dingtalk: 'ding-pat' }, roles: ['sre', 'dba'] },
  });
  expect(put.status).toBe(201);
  expect(put.body).toMatchObject({ subject, displayName: 'Pat', imIds: { slack: 'U1', dingtalk: 'ding-pat' }, roles: ['sre', 'dba'], source: 'admin' });
  const again = await call(api, 'PUT', `/api/v1/people/${encodeURIComponent(subject)}`, { json: { roles: ['dba', 'dba'] } });
  expect([again.status, again.body.roles]).toEqual([200, ['dba']]);
  expectProblem(await call(api, 'PUT', '/api/v1/people/%20%09', { json: {} }), 422);
  const dbas = await call(api, 'GET', '/api/v1/people?role=dba');
  expect(dbas.body.items.map((person: { subject: string }) => person.subject)).toContain(subject);
  const sres = await call(api, 'GET', '/api/v1/people?role=sre');
  expect(sres.body.items.map((person: { subject: string }) => person.subject)).not.toContain(subject);
  expectProblem(await call(api, 'PUT', '/api/v1/people/x', { json: { imIds: { msn: 'x' } } }), 400);
  expectProblem(await call(api, 'PUT', '/api/v1/people/x', { json: { email: 'nope' } }), 400);
  expect((await call(api, 'DELETE', `/api/v1/people/${encodeURIComponent(subject)}`)).status).toBe(204);
  expectProblem(await call(api, 'GET', `/api/v1/people/${encodeURIComponent(subject)}`), 404);
});

test('simultaneous PUTs of a new person or subscription create it once: one 201 and one creation audited, the rest 200', async () => {
  const subject = uniqueName('racer');
  const people = await Promise.all(Array.from({ length: 8 }, (_, i) => call(api, 'PUT', `/api/v1/people/${subject}`, { json: { displayName: `racer ${i}` } })));
  expect(people.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);

  const template = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName(), spec: { steps: [{ id: 'a', type: 'noop' }] } } });
  const subscriptions = await Promise.all(Array.from({ length: 8 }, () => call(api, 'PUT', `/api/v1/subscriptions/${template.body.id}`, { json: { routes: {} } })));
  expect(subscriptions.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);

  const audited = await call(api, 'GET', `/api/v1/audit?targetType=person&targetId=${subject}`);
  expect(audited.body.items.map((entry: { action: string }) => entry.action).sort()).toEqual(['person.created', ...Array(7).fill('person.updated')]);
});

test('subscriptions route notice kinds to the tenant’s channels, for the tenant and per template', async () => {
  const channel = await call(api, 'POST', '/api/v1/channels', { json: { name: uniqueName('sub'), kind: 'wecom', secrets: { url: HOOK_URL } } });
  const template = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName(), spec: { steps: [{ id: 'a', type: 'noop' }] } } });
  const routes = { approval_requested: [channel.body.id, channel.body.id], run_failed: [channel.body.id] };
  const put = await call(api, 'PUT', `/api/v1/subscriptions/${template.body.id}`, { json: { routes } });
  expect(put.status).toBe(201);
  expect(put.body).toMatchObject({ scope: template.body.id, templateId: template.body.id, routes: { approval_requested: [channel.body.id], run_failed: [channel.body.id] } });
  expect((await call(api, 'PUT', '/api/v1/subscriptions/default', { json: { routes: { run_failed: [channel.body.id] } } })).status).toBeLessThan(300);
  expect((await call(api, 'GET', '/api/v1/subscriptions/default')).body).toMatchObject({ scope: 'default', templateId: null });

  expectProblem(await call(api, 'PUT', '/api/v1/subscriptions/default', { json: { routes: { run_failed: ['00000000-0000-4000-8000-000000000000'] } } }), 422);
  expectProblem(await call(api, 'PUT', '/api/v1/subscriptions/default', { json: { routes: { lunch_ready: [channel.body.id] } } }), 400);
  expectProblem(await call(api, 'PUT', '/api/v1/subscriptions/00000000-0000-4000-8000-000000000000', { json: { routes: {} } }), 404);
  expectProblem(await call(api, 'PUT', '/api/v1/subscriptions/templates', { json: { routes: {} } }), 404);

  // Deleting the channel takes it out of every subscription.
  expect((await call(api, 'DELETE', `/api/v1/channels/${channel.body.id}`)).status).toBe(204);
  expect((await call(api, 'GET', `/api/v1/subscriptions/${template.body.id}`)).body.routes).toEqual({ approval_requested: [], run_failed: [] });
  expect((await call(api, 'DELETE', `/api/v1/subscriptions/${template.body.id}`)).status).toBe(204);
  expectProblem(await call(api, 'DELETE', `/api/v1/subscriptions/${template.body.id}`), 404);
});

test('deliveries are listed newest first with cursor paging, filtered by run and status', async () => {
  const channelId = (await call(api, 'POST', '/api/v1/channels', { json: { name: uniqueName('list'), kind: 'wecom', secrets: { url: HOOK_URL } } })).body.id;
  const runId = `run-${uniqueName()}`;
  for (const [index, status] of ['succeeded', 'failed', 'succeeded'].entries()) {
    await api.prisma.notificationDelivery.create({
      data: {
        tenantId: api.tenant.id,
        eventKey: `notice:${runId}:run_failed:${index}`,
        eventKind: 'run_failed',
        runId,
        channelId,
        channelName: 'list',
        status,
        attempts: 1,
        createdAt: new Date(Date.now() - (3 - index) * 1000),
      },
    });
  }
  const first = await call(api, 'GET', `/api/v1/notifications?runId=${runId}&limit=2`);
  expect(first.body.items.map((item: { eventKey: string }) => item.eventKey)).toEqual([`notice:${runId}:run_failed:2`, `notice:${runId}:run_failed:1`]);
  const second = await call(api, 'GET', `/api/v1/notifications?runId=${runId}&limit=2&cursor=${first.body.nextCursor}`);
  expect(second.body).toMatchObject({ items: [{ eventKey: `notice:${runId}:run_failed:0` }], nextCursor: null });
  const failed = await call(api, 'GET', `/api/v1/notifications?runId=${runId}&status=failed`);
  expect(failed.body.items).toHaveLength(1);
  expectProblem(await call(api, 'GET', '/api/v1/notifications?status=lost'), 400);
  expectProblem(await call(api, 'GET', '/api/v1/notifications?cursor=bm90IGEgY3Vyc29y'), 400);
  // Another tenant sees none of them.
  expect((await call(other, 'GET', `/api/v1/notifications?runId=${runId}`)).body.items).toEqual([]);
});

test('another tenant’s channels, people and subscriptions are 404s to it, and its own stay apart', async () => {
  const channel = await call(api, 'POST', '/api/v1/channels', { json: { name: uniqueName('mine'), kind: 'wecom', secrets: { url: HOOK_URL } } });
  const person = `${uniqueName('me')}`;
  await call(api, 'PUT', `/api/v1/people/${person}`, { json: { roles: ['sre'] } });
  expectProblem(await call(other, 'GET', `/api/v1/channels/${channel.body.id}`), 404);
  expectProblem(await call(other, 'PATCH', `/api/v1/channels/${channel.body.id}`, { json: { enabled: false } }), 404);
  expectProblem(await call(other, 'POST', `/api/v1/channels/${channel.body.id}/test`), 404);
  expectProblem(await call(other, 'DELETE', `/api/v1/channels/${channel.body.id}`), 404);
  expectProblem(await call(other, 'GET', `/api/v1/people/${person}`), 404);
  expectProblem(await call(other, 'PUT', '/api/v1/subscriptions/default', { json: { routes: { run_failed: [channel.body.id] } } }), 422);
  expect((await call(other, 'GET', '/api/v1/channels')).body.items).toEqual([]);
  expect((await call(api, 'GET', `/api/v1/channels/${channel.body.id}`)).body.enabled).toBe(true);
});
