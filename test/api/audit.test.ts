import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '@prisma/client';
import { request } from 'node:http';
import { addressKey } from '../../apps/api/src/audit/refusal-budget';
import { AuditTrail } from '../../apps/api/src/audit/trail';
import type { Logger } from '../../apps/common/logger';
import { startTestWorker, type TestWorker } from '../support/worker';
import { call, createTestTenant, createToken, expectProblem, sampleSpec, startApi, tokenFor, uniqueName, type Api } from './harness';

/**
 * The audit log: every change and decision with its actor, credential, request and outcome,
 * refused writes included; readable by the tenant's admins only; append-only in the database.
 */

let worker: TestWorker;
let api: Api;

beforeAll(async () => {
  worker = await startTestWorker();
  api = await startApi({ taskQueue: worker.taskQueue });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await worker?.shutdown();
});

interface Entry {
  id: string;
  at: string;
  actor: { subject: string; credential: string | null };
  action: string;
  target: { type: string; id: string };
  summary: Record<string, unknown>;
  outcome: 'succeeded' | 'refused';
  requestId: string | null;
  remoteAddress: string | null;
}

/** The entries a query finds, once queued ones are written; waits (briefly) until `until` holds. */
async function audit(query: Record<string, string>, until: (items: Entry[]) => boolean = () => true, token = api.token): Promise<Entry[]> {
  for (let attempt = 0; ; attempt++) {
    await api.audit.flush();
    const answer = await call(api, 'GET', `/api/v1/audit?${new URLSearchParams({ limit: '100', ...query }).toString()}`, { token });
    expect(answer.status).toBe(200);
    const items = answer.body.items as Entry[];
    if (until(items) || attempt >= 20) return items;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function credentialOf(answer: { body: { id: string } }): string {
  return `token:${answer.body.id}`;
}

test('template create, version, rollback, archive: each with its actor, credential, request id, address and summary', async () => {
  const requestId = `req-${randomUUID()}`;
  const created = await call(api, 'POST', '/api/v1/templates', {
    json: { name: uniqueName(), spec: sampleSpec() },
    headers: { 'x-request-id': requestId },
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect((await call(api, 'POST', `/api/v1/templates/${id}/versions`, { json: { spec: sampleSpec({ duration: '1m' }) } })).status).toBe(201);
  expect((await call(api, 'POST', `/api/v1/templates/${id}/versions/1/rollback`, { json: {} })).status).toBe(201);
  expect((await call(api, 'DELETE', `/api/v1/templates/${id}`)).status).toBe(204);

  const entries = await audit({ targetType: 'template', targetId: id });
  expect(entries.map((entry) => entry.action)).toEqual(['template.archived', 'template.rolled_back', 'template.version_created', 'template.created']);
  const first = entries.at(-1)!;
  expect(first).toMatchObject({
    action: 'template.created',
    actor: { subject: 'alice', credential: expect.stringMatching(/^token:/) },
    target: { type: 'template', id },
    summary: expect.objectContaining({ version: 1 }),
    outcome: 'succeeded',
    requestId,
    remoteAddress: expect.stringContaining('127.0.0.1'),
  });
  expect(entries.map((entry) => entry.summary.version).filter((version) => version !== undefined)).toEqual(expect.arrayContaining([1, 2, 3]));
});

test('token create and revoke, tenant create: in the same transaction as the change', async () => {
  const token = await call(api, 'POST', '/api/v1/tokens', { json: { name: 'robot', roles: ['viewer'] } });
  expect(token.status).toBe(201);
  expect((await call(api, 'DELETE', `/api/v1/tokens/${token.body.id}`)).status).toBe(204);
  const entries = await audit({ targetType: 'token', targetId: token.body.id });
  expect(entries.map((entry) => entry.action)).toEqual(['token.revoked', 'token.created']);
  expect(entries[1]).toMatchObject({ actor: { subject: 'alice' }, summary: { name: 'robot', roles: ['viewer'] }, outcome: 'succeeded', requestId: expect.any(String) });

  const root = await createToken(api.prisma, { tenantId: api.tenant.id, name: 'root', roles: ['admin'], system: true });
  const slug = `t-${randomUUID()}`;
  const tenant = await call(api, 'POST', '/api/v1/tenants', { token: root, json: { slug, name: 'Acme' } });
  expect(tenant.status).toBe(201);
  // The entry belongs to the new tenant: its first admin reads how it came to be.
  const ofNewTenant = await audit({}, () => true, tenant.body.adminToken.secret);
  expect(ofNewTenant.map((entry) => entry.action).sort()).toEqual(['tenant.created', 'token.created']);
  expect(ofNewTenant.find((entry) => entry.action === 'tenant.created')).toMatchObject({
    actor: { subject: 'root', credential: expect.stringMatching(/^token:/) },
    target: { type: 'tenant', id: tenant.body.id },
    summary: expect.objectContaining({ slug }),
  });
});

test('run start, approve and cancel: recorded once Temporal accepted them, with the workflow or update id', async () => {
  const template = await call(api, 'POST', '/api/v1/templates', {
    json: {
      name: uniqueName('gate'),
      spec: { steps: [{ id: 'gate', type: 'approval', with: { approvers: { roles: ['sre'] }, required: 1 } }, { id: 'wait', type: 'delay', dependsOn: ['gate'], with: { duration: '1h' } }] },
    },
  });
  expect(template.status).toBe(201);
  const started = await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.body.id } });
  expect(started.status).toBe(201);
  const runId = started.body.runId as string;
  for (let attempt = 0; attempt < 200; attempt++) {
    if ((await call(api, 'GET', `/api/v1/runs/${runId}`)).body.status === 'waiting_approval') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const bob = await tokenFor(api, 'bob', ['approver', 'sre']);
  const key = randomUUID();
  const approved = await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { token: bob, json: {}, headers: { 'idempotency-key': key } });
  expect(approved.status).toBe(200);
  expect((await call(api, 'POST', `/api/v1/runs/${runId}/cancel`, { json: {} })).status).toBe(202);

  const entries = await audit({ targetType: 'run', targetId: runId }, (items) => items.length >= 3);
  const byAction = Object.fromEntries(entries.map((entry) => [entry.action, entry]));
  expect(Object.keys(byAction).sort()).toEqual(['run.approved', 'run.cancelled', 'run.started']);
  expect(byAction['run.started']).toMatchObject({ actor: { subject: 'alice' }, summary: { workflowId: runId, templateId: template.body.id, version: 1 } });
  expect(byAction['run.cancelled']).toMatchObject({ summary: { workflowId: runId } });
  const approval = byAction['run.approved']!;
  expect(approval).toMatchObject({ actor: { subject: 'bob', credential: expect.stringMatching(/^token:/) }, summary: { stepId: 'gate' } });

  // The update id names the update in the run's history.
  const updateId = approval.summary.updateId as string;
  expect(updateId).toMatch(/^approve-/);
  const history = await api.temporal.workflowService.getWorkflowExecutionHistory({
    namespace: api.temporal.options.namespace,
    execution: { workflowId: runId },
  });
  const updateIds = (history.history?.events ?? [])
    .map((event) => event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId)
    .filter(Boolean);
  expect(updateIds).toContain(updateId);
}, 60_000);

test('refused writes are recorded: a 403 from the policy, a 401 with a revoked token of the tenant; reads are not, and anonymous 401s are not the tenant’s', async () => {
  const viewer = await tokenFor(api, `vera-${randomUUID().slice(0, 8)}`, ['viewer']);
  expectProblem(await call(api, 'POST', '/api/v1/templates', { token: viewer, json: { name: uniqueName(), spec: sampleSpec() } }), 403);
  expectProblem(await call(api, 'GET', '/api/v1/tokens', { token: viewer }), 403);

  const revokedName = `rita-${randomUUID().slice(0, 8)}`;
  const made = await call(api, 'POST', '/api/v1/tokens', { json: { name: revokedName, roles: ['editor'] } });
  expect((await call(api, 'DELETE', `/api/v1/tokens/${made.body.id}`)).status).toBe(204);
  expectProblem(await call(api, 'POST', '/api/v1/templates', { token: made.body.secret, json: { name: uniqueName(), spec: sampleSpec() } }), 401);
  expectProblem(await call(api, 'POST', '/api/v1/templates', { token: null, json: {} }), 401);

  const refused = await audit({ outcome: 'refused' }, (items) => items.some((entry) => entry.actor.subject === revokedName));
  const viewers = refused.filter((entry) => entry.actor.subject.startsWith('vera-'));
  expect(viewers).toHaveLength(1);
  expect(viewers[0]).toMatchObject({ action: 'POST /api/v1/templates', outcome: 'refused', summary: { status: 403 }, target: { type: 'template' } });
  expect(refused.find((entry) => entry.actor.subject === revokedName)).toMatchObject({
    action: 'POST /api/v1/templates',
    actor: { credential: credentialOf(made) },
    summary: { status: 401, reason: 'revoked' },
  });
});

/** A write without a credential, from a loopback address of the caller's choice (Linux routes all of 127/8 to lo). */
function anonymousWrite(target: Api, path: string, options: { requestId?: string; localAddress?: string; token?: string } = {}): Promise<number> {
  const { hostname, port } = new URL(target.baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(options.requestId ? { 'x-request-id': options.requestId } : {}) };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const req = request({ host: hostname, port, method: 'POST', path, headers, localAddress: options.localAddress ?? '127.0.0.1' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

async function systemEntries(target: Api, systemToken: string, query: Record<string, string>, until: (items: Entry[]) => boolean): Promise<Entry[]> {
  for (let attempt = 0; ; attempt++) {
    await target.audit.flush();
    const answer = await call(target, 'GET', `/api/v1/audit/system?${new URLSearchParams({ limit: '100', ...query }).toString()}`, { token: systemToken });
    expect(answer.status).toBe(200);
    const items = answer.body.items as Entry[];
    if (until(items) || attempt >= 100) return items;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a refused write without a credential of ours is an entry of the system scope, for system administrators only', async () => {
  const system = await createToken(api.prisma, { tenantId: api.tenant.id, name: 'root', roles: [], system: true });
  const anonymous = `req-${randomUUID()}`;
  const unknown = `req-${randomUUID()}`;
  const read = `req-${randomUUID()}`;
  expect(await anonymousWrite(api, '/api/v1/templates', { requestId: anonymous })).toBe(401);
  expect(await anonymousWrite(api, '/api/v1/runs/run-x/cancel', { requestId: unknown, token: `fpk_${'A'.repeat(43)}` })).toBe(401);
  expectProblem(await call(api, 'GET', '/api/v1/templates', { token: null, headers: { 'x-request-id': read } }), 401);

  const [byAnonymous] = await systemEntries(api, system, { requestId: anonymous }, (items) => items.length > 0);
  expect(byAnonymous).toMatchObject({
    actor: { subject: 'anonymous', credential: null },
    action: 'POST /api/v1/templates',
    target: { type: 'template', id: '' },
    outcome: 'refused',
    summary: { status: 401, reason: 'missing' },
    requestId: anonymous,
    remoteAddress: expect.stringMatching(/127\.0\.0\.1$/),
  });
  const [byUnknown] = await systemEntries(api, system, { requestId: unknown }, (items) => items.length > 0);
  expect(byUnknown).toMatchObject({ actor: { subject: 'unidentified', credential: null }, target: { type: 'run', id: 'run-x' }, summary: { status: 401, reason: 'unknown' } });
  // Reads are not recorded; the tenant's log holds none of them; only a system administrator reads the system scope.
  expect(await systemEntries(api, system, { requestId: read }, () => true)).toEqual([]);
  expect(await audit({ requestId: anonymous })).toEqual([]);
  expectProblem(await call(api, 'GET', '/api/v1/audit/system'), 403);
});

test('the system scope is bounded: per address and in all, the rest counted in one entry when the window ends', async () => {
  const budgets = { perAddress: 3, unidentified: 5, windowMs: 2_000 };
  const bounded = await startApi({ tenant: api.tenant, auditBudgets: budgets });
  try {
    const system = await createToken(api.prisma, { tenantId: api.tenant.id, name: 'root', roles: [], system: true });
    const since = new Date().toISOString();
    // A path of its own, so that the entries of other test files' refusals do not mix in.
    const path = `/api/v1/flood-${randomUUID()}`;
    for (let index = 0; index < 20; index++) expect(await anonymousWrite(bounded, path, { localAddress: '127.0.0.1' })).toBe(401);
    for (let index = 0; index < 6; index++) expect(await anonymousWrite(bounded, path, { localAddress: '127.0.0.2' })).toBe(401);

    const recorded = await systemEntries(bounded, system, { action: `POST ${path}` }, (items) => items.length >= 5);
    const perAddress = new Map<string, number>();
    for (const entry of recorded) perAddress.set(entry.remoteAddress!, (perAddress.get(entry.remoteAddress!) ?? 0) + 1);
    // 127.0.0.1 used its 3; 127.0.0.2 got the 2 left of the 5 in all.
    expect([...perAddress.values()].sort()).toEqual([2, 3]);

    const [summary] = await systemEntries(bounded, system, { action: 'audit.refusals_suppressed', from: since }, (items) =>
      items.some((entry) => entry.summary.suppressed === 21),
    ).then((items) => items.filter((entry) => entry.summary.suppressed === 21));
    expect(summary).toMatchObject({
      actor: { subject: 'flowpilot', credential: null },
      outcome: 'refused',
      summary: {
        suppressed: 21,
        topAddresses: [
          { address: '127.0.0.1', refusals: 20 },
          { address: '127.0.0.2', refusals: 6 },
        ],
      },
    });
  } finally {
    await bounded.close();
  }
}, 30_000);

test('addresses are budgeted as hosts: IPv4 (also mapped into IPv6) as is, IPv6 by its /64', () => {
  expect(addressKey('10.1.2.3')).toBe('10.1.2.3');
  expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
  expect(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
  expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:db8:1:2:ffff::9'));
  expect(addressKey(undefined)).toBe('unknown');
});

test('a refused decision (403, not an approver, judged by the API) is recorded', async () => {
  const template = await call(api, 'POST', '/api/v1/templates', {
    json: { name: uniqueName('gate'), spec: { steps: [{ id: 'gate', type: 'approval', with: { approvers: { roles: ['sre'] } } }] } },
  });
  const started = await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.body.id } });
  const runId = started.body.runId as string;
  for (let attempt = 0; attempt < 200; attempt++) {
    if ((await call(api, 'GET', `/api/v1/runs/${runId}`)).body.status === 'waiting_approval') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const carol = await tokenFor(api, 'carol', ['approver']);
  expectProblem(await call(api, 'POST', `/api/v1/runs/${runId}/steps/gate/approve`, { token: carol, json: {} }), 403);
  const entries = await audit({ targetId: runId, outcome: 'refused' }, (items) => items.length > 0);
  expect(entries).toEqual([expect.objectContaining({ action: 'POST /api/v1/runs/:id/steps/:stepId/approve', actor: expect.objectContaining({ subject: 'carol' }), target: { type: 'run', id: runId } })]);
}, 60_000);

test('filters and cursor paging', async () => {
  const from = new Date().toISOString();
  const ids: string[] = [];
  for (let index = 0; index < 5; index++) {
    const created = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('paged'), spec: sampleSpec() } });
    ids.push(created.body.id);
  }
  const to = new Date(Date.now() + 1).toISOString();
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const answer = await call(api, 'GET', `/api/v1/audit?${new URLSearchParams({ action: 'template.created', actor: 'alice', from, to, limit: '2', ...(cursor ? { cursor } : {}) }).toString()}`);
    expect(answer.status).toBe(200);
    expect(answer.body.items.length).toBeLessThanOrEqual(2);
    seen.push(...answer.body.items.map((entry: Entry) => entry.target.id));
    cursor = answer.body.nextCursor ?? undefined;
  } while (cursor);
  expect(seen).toEqual([...ids].reverse());

  expect(await audit({ actor: 'nobody-at-all' })).toEqual([]);
  expect(await audit({ action: 'template.created', to: from, targetId: ids[0]! })).toEqual([]);
  expectProblem(await call(api, 'GET', '/api/v1/audit?cursor=bm90LWEtY3Vyc29y'), 400);
  expectProblem(await call(api, 'GET', '/api/v1/audit?outcome=maybe'), 400);
});

test('scoped to the tenant: another tenant’s admin sees none of it; a viewer is refused', async () => {
  const other = await createTestTenant(api.prisma);
  const otherAdmin = await createToken(api.prisma, { tenantId: other.id, name: 'alice', roles: ['admin'] });
  const created = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName(), spec: sampleSpec() } });
  expect(await audit({ targetId: created.body.id }, () => true, otherAdmin)).toEqual([]);
  expect(await audit({ targetId: created.body.id })).toHaveLength(1);

  const viewer = await tokenFor(api, 'vic', ['viewer', 'editor', 'operator', 'approver']);
  expectProblem(await call(api, 'GET', '/api/v1/audit', { token: viewer }), 403);
});

test('the database refuses UPDATE, DELETE and TRUNCATE of entries', async () => {
  const created = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName(), spec: sampleSpec() } });
  const [entry] = await audit({ targetId: created.body.id });
  const id = BigInt(entry!.id);
  await expect(api.prisma.auditEvent.update({ where: { id }, data: { actor: 'mallory' } })).rejects.toThrow(/append-only/);
  await expect(api.prisma.auditEvent.delete({ where: { id } })).rejects.toThrow(/append-only/);
  await expect(api.prisma.$executeRawUnsafe(`UPDATE "AuditEvent" SET outcome = 'refused' WHERE "tenantId" = '${api.tenant.id}'`)).rejects.toThrow(/append-only/);
  await expect(api.prisma.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE id = ${id}`)).rejects.toThrow(/append-only/);
  await expect(api.prisma.$executeRawUnsafe('TRUNCATE "AuditEvent"')).rejects.toThrow(/append-only/);
  expect(await audit({ targetId: created.body.id })).toEqual([expect.objectContaining({ actor: expect.objectContaining({ subject: 'alice' }) })]);
});

test('a failing audit write is logged and lost, never thrown; the queue is bounded', async () => {
  const errors: unknown[] = [];
  const warnings: unknown[] = [];
  const logger = { error: (entry: unknown) => errors.push(entry), warn: (entry: unknown) => warnings.push(entry) } as unknown as Logger;
  const trail = new AuditTrail({ $executeRaw: () => Promise.reject(new Error('database down')) } as unknown as PrismaClient, logger);
  for (let index = 0; index < 10_050; index++) trail.record({ tenantId: api.tenant.id, subject: 'x' }, { action: 'run.started', target: { type: 'run', id: `r${index}` } });
  await expect(trail.flush()).resolves.toBeUndefined();
  expect(errors.length).toBeGreaterThan(0);
  expect(warnings).toEqual([expect.objectContaining({ dropped: 50 })]);
});

test('a refusal naming an unstorable id (NUL) is recorded, without the NUL', async () => {
  const viewer = await tokenFor(api, `vanya-${randomUUID().slice(0, 8)}`, ['viewer']);
  const subject = `cat-${randomUUID().slice(0, 8)}`;
  expectProblem(await call(api, 'POST', `/api/v1/runs/run-%00x/cancel`, { token: viewer, json: {} }), 403);
  const started = await call(api, 'POST', '/api/v1/tokens', { json: { name: subject, roles: ['viewer'] } });
  expect(started.status).toBe(201);
  const refused = await audit({ outcome: 'refused', action: 'POST /api/v1/runs/:id/cancel' }, (items) => items.length > 0);
  expect(refused.map((entry) => entry.target.type)).toContain('run');
});
