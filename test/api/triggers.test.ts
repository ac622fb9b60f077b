import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { Keyring } from '../../apps/common/crypto/keyring';
import { startTestWorker, type TestWorker } from '../support/worker';
import { call, createTestTenant, createToken, expectProblem, startApi, tokenFor, uniqueName, type Answer, type Api } from './harness';
import { eventually } from '../support/eventually';

/**
 * Webhook triggers over real HTTP, with a real worker running the runs they start. Deliveries are
 * signed the way a sender signs them: HMAC-SHA256 over `<timestamp>.<raw body>` with the trigger's
 * secret, hex, in `X-Flowpilot-Signature: v1=<hex>` (once with the openssl command line the README
 * shows, the rest with Node's crypto).
 */

let worker: TestWorker;
let api: Api;
let operator: string;
let mallory: string;
const secretsKeys = Keyring.parse(Keyring.generateEntry('triggers'), 'SECRETS_KEYS');

const inputs = { type: 'object', required: ['service', 'ref'], properties: { service: { type: 'string' }, ref: { type: 'string' } } };
const spec = { inputs, steps: [{ id: 'deploy', type: 'noop', with: { output: '{{ inputs.service & "@" & inputs.ref }}' } }] };
const mapping = '{ "service": body.repository.name, "ref": body.ref }';

beforeAll(async () => {
  worker = await startTestWorker();
  api = await startApi({ taskQueue: worker.taskQueue, secretsKeys });
  operator = await tokenFor(api, 'olga', ['operator']);
  const other = await createTestTenant(api.prisma);
  mallory = await createToken(api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin'] });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await worker?.shutdown();
});


interface Trigger {
  id: string;
  templateId: string;
  url: string;
  secret: string;
  secretName: string;
}

async function newTrigger(extra: Record<string, unknown> = {}, target = api): Promise<Trigger> {
  const template = await call(target, 'POST', '/api/v1/templates', { json: { name: uniqueName('hooked'), spec } });
  const created = await call(target, 'POST', `/api/v1/templates/${template.body.id}/triggers`, {
    token: target === api ? operator : target.token,
    json: { name: 'github-push', mapping, ...extra },
  });
  expect(created.status).toBe(201);
  return created.body;
}

/** A delivery as a sender makes it: the raw body, signed with the trigger's secret. */
function deliver(
  trigger: Pick<Trigger, 'url' | 'secret'>,
  payload: unknown,
  options: { deliveryId?: string | null; timestamp?: number; secret?: string; raw?: string; contentType?: string; signature?: string; target?: Api } = {},
): Promise<Answer> {
  const body = options.raw ?? JSON.stringify(payload);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', options.secret ?? trigger.secret).update(`${timestamp}.${body}`).digest('hex');
  return call(options.target ?? api, 'POST', trigger.url, {
    token: null,
    raw: body,
    contentType: options.contentType ?? 'application/json',
    headers: {
      'x-flowpilot-timestamp': timestamp,
      'x-flowpilot-signature': options.signature ?? `v1=${signature}`,
      ...(options.deliveryId === null ? {} : { 'x-flowpilot-delivery': options.deliveryId ?? `delivery-${Math.random().toString(36).slice(2)}` }),
    },
  });
}

const push = (name: string, ref = 'refs/heads/main') => ({ ref, repository: { name }, pusher: { name: 'octocat' } });

test('a trigger is created with its secret shown once; a signed delivery starts a run with the mapped input', async () => {
  const trigger = await newTrigger({ description: 'pushes to main' });
  expect(trigger).toMatchObject({ url: `/api/v1/hooks/${trigger.id}`, version: 'latest', secretName: `WEBHOOK_${trigger.id.replace(/-/g, '').toUpperCase()}` });
  expect(trigger.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
  const read = await call(api, 'GET', `/api/v1/templates/${trigger.templateId}/triggers/${trigger.id}`, { token: operator });
  expect(read.body).toMatchObject({ id: trigger.id, mapping, createdBy: 'olga' });
  expect(read.body).not.toHaveProperty('secret');
  // The signing secret is a tenant secret, whose value no endpoint answers.
  const secret = await call(api, 'GET', `/api/v1/secrets/${trigger.secretName}`);
  expect(secret.body).toMatchObject({ name: trigger.secretName, createdBy: 'olga' });
  expect(JSON.stringify(secret.body)).not.toContain(trigger.secret);

  // Signed with the openssl command line, as the README shows a sender doing it.
  const body = JSON.stringify(push('billing'));
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = execFileSync('openssl', ['dgst', '-sha256', '-hmac', trigger.secret], { input: `${timestamp}.${body}` })
    .toString()
    .trim()
    .split(' ')
    .pop();
  const answer = await call(api, 'POST', trigger.url, {
    token: null,
    raw: body,
    contentType: 'application/json',
    headers: { 'x-flowpilot-timestamp': timestamp, 'x-flowpilot-signature': `v1=${signature}`, 'x-flowpilot-delivery': 'gh-1' },
  });
  expect(answer.status).toBe(201);
  expect(answer.body).toMatchObject({ templateId: trigger.templateId, version: 1, deliveryId: 'gh-1', duplicate: false });
  const run = await eventually(() => call(api, 'GET', `/api/v1/runs/${answer.body.runId}`), (r) => r.body.status === 'succeeded');
  expect(run.body.startedBy).toBe(`trigger:${trigger.id}`);
  expect(run.body.steps[0].output).toBe('billing@refs/heads/main');
  // The run is the trigger's tenant's, and no other's.
  expectProblem(await call(api, 'GET', `/api/v1/runs/${answer.body.runId}`, { token: mallory }), 404);
  expectProblem(await call(api, 'GET', `/api/v1/templates/${trigger.templateId}/triggers/${trigger.id}`, { token: mallory }), 404);

  await api.audit.flush();
  const entries = await api.prisma.auditEvent.findMany({ where: { tenantId: api.tenant.id, OR: [{ subjectId: trigger.id }, { subjectId: answer.body.runId }] }, orderBy: { at: 'asc' } });
  expect(entries.map((entry) => [entry.action, entry.actor])).toEqual([
    ['trigger.created', 'olga'],
    ['run.started', `trigger:${trigger.id}`],
  ]);
}, 60_000);

test('a redelivery answers the run its delivery id started; another payload under the same id is a 409', async () => {
  const trigger = await newTrigger();
  const first = await deliver(trigger, push('search'), { deliveryId: 'gh-7' });
  const again = await deliver(trigger, push('search'), { deliveryId: 'gh-7' });
  expect([first.status, again.status]).toEqual([201, 200]);
  expect(again.body).toMatchObject({ runId: first.body.runId, duplicate: true });
  expectProblem(await deliver(trigger, push('ledger'), { deliveryId: 'gh-7' }), 409);
  const other = await deliver(trigger, push('search'), { deliveryId: 'gh-8' });
  expect(other.status).toBe(201);
  expect(other.body.runId).not.toBe(first.body.runId);
  // Delivery ids are the trigger's own: the same id at another trigger is another delivery.
  const elsewhere = await deliver(await newTrigger(), push('search'), { deliveryId: 'gh-7' });
  expect(elsewhere.status).toBe(201);
}, 60_000);

test('signatures that do not verify, stale timestamps and missing headers are 401s, audited in the trigger’s tenant', async () => {
  const trigger = await newTrigger();
  const other = await newTrigger();
  const refusals: [string, Promise<Answer>][] = [
    ['bad-signature', deliver(trigger, push('x'), { secret: other.secret })],
    ['bad-signature', deliver(trigger, push('x'), { signature: `v1=${'0'.repeat(64)}` })],
    ['stale-timestamp', deliver(trigger, push('x'), { timestamp: Math.floor(Date.now() / 1000) - 600 })],
    ['stale-timestamp', deliver(trigger, push('x'), { timestamp: Math.floor(Date.now() / 1000) + 600 })],
    ['malformed-signature', deliver(trigger, push('x'), { signature: 'sha256=abc' })],
    ['missing-signature', call(api, 'POST', trigger.url, { token: null, json: push('x'), headers: { 'x-flowpilot-delivery': 'd' } })],
  ];
  for (const [reason, pending] of refusals) {
    const answer = await pending;
    expectProblem(answer, 401);
    expect([reason, answer.body.detail]).toEqual([reason, expect.any(String)]);
  }
  // A body changed after signing does not verify either.
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', trigger.secret).update(`${timestamp}.${JSON.stringify(push('x'))}`).digest('hex');
  expectProblem(
    await call(api, 'POST', trigger.url, {
      token: null,
      raw: JSON.stringify(push('y')),
      contentType: 'application/json',
      headers: { 'x-flowpilot-timestamp': timestamp, 'x-flowpilot-signature': `v1=${signature}`, 'x-flowpilot-delivery': 'd' },
    }),
    401,
  );

  await api.audit.flush();
  const entries = await api.prisma.auditEvent.findMany({ where: { subjectType: 'trigger', subjectId: trigger.id, outcome: 'refused' } });
  expect(entries).toHaveLength(refusals.length + 1);
  expect(new Set(entries.map((entry) => entry.tenantId))).toEqual(new Set([api.tenant.id]));
  expect(entries.map((entry) => (entry.details as { reason: string }).reason).sort()).toEqual(
    [...refusals.map(([reason]) => reason), 'bad-signature'].sort(),
  );
  expect(entries.every((entry) => entry.action === 'POST /api/v1/hooks/:triggerId' && entry.actor === `trigger:${trigger.id}`)).toBe(true);
}, 60_000);

test('what a signed delivery can still get wrong: 400, 404, 413, 415 and 422', async () => {
  const trigger = await newTrigger();
  expectProblem(await deliver(trigger, push('x'), { deliveryId: null }), 400);
  expectProblem(await deliver(trigger, undefined, { raw: '{"ref": ' }), 400);
  expectProblem(await deliver(trigger, undefined, { raw: `${'['.repeat(100_000)}${']'.repeat(100_000)}` }), 400);
  expectProblem(await deliver(trigger, undefined, { raw: 'ref=main', contentType: 'application/x-www-form-urlencoded' }), 415);
  expectProblem(await deliver(trigger, { blob: 'x'.repeat(300 * 1024) }), 413);
  expectProblem(await deliver({ ...trigger, url: '/api/v1/hooks/00000000-0000-4000-8000-000000000000' }, push('x')), 404);
  expectProblem(await deliver({ ...trigger, url: '/api/v1/hooks/not-a-trigger' }, push('x')), 404);

  // The payload lacks what the mapping reads, so the input misses what the version requires.
  const missing = await deliver(trigger, { ref: 'main' });
  expectProblem(missing, 422);
  expect(missing.body.invalidParams).toEqual(expect.arrayContaining([expect.objectContaining({ path: ['input', 'service'] })]));

  const notAnObject = await newTrigger({ mapping: 'body.commits' });
  const array = await deliver(notAnObject, { commits: [1, 2] });
  expectProblem(array, 422);
  expect(array.body.detail).toMatch(/must produce an object/);

  // The mapping runs within the spec's expression bounds: a runaway is refused, quickly.
  const runaway = await newTrigger({ mapping: '( $f := function($n) { $f($n + 1) }; $f(0) )' });
  const started = Date.now();
  const bounded = await deliver(runaway, push('x'));
  expectProblem(bounded, 422);
  expect(bounded.body.detail).toMatch(/call depth|evaluation steps/);
  expect(Date.now() - started).toBeLessThan(2_000);
}, 60_000);

test('deliveries count against a rate limit per trigger', async () => {
  const limited = await startApi({ taskQueue: worker.taskQueue, secretsKeys, rateLimits: { readsPerMinute: 0, writesPerMinute: 2 } });
  try {
    const trigger = await newTrigger({}, limited);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await deliver(trigger, push('x'), { target: limited }));
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 429]);
    expectProblem(answers[2]!, 429);
    expect(Number(answers[2]!.headers.get('retry-after'))).toBeGreaterThan(0);
  } finally {
    await limited.close();
  }
}, 60_000);

test('managing triggers: refusals, a pinned version, rotation and deletion', async () => {
  const trigger = await newTrigger({ version: 1 });
  const base = `/api/v1/templates/${trigger.templateId}/triggers`;
  expect(trigger).toMatchObject({ version: 1 });
  expectProblem(await call(api, 'POST', base, { token: operator, json: { name: 'github-push', mapping } }), 409);
  for (const body of [
    { name: 'bad', mapping: '{ "a": ' },
    { name: 'sneaky', mapping: '{ "key": secrets.API_KEY }' },
    { name: 'future', mapping, version: 9 },
  ]) {
    const answer = await call(api, 'POST', base, { token: operator, json: body });
    expectProblem(answer, 422);
    expect(answer.body.invalidParams[0].path[0]).toBe(Object.keys(body).includes('version') ? 'version' : 'mapping');
  }
  expectProblem(await call(api, 'POST', base, { token: operator, json: { name: 'no mapping' } }), 400);
  const viewer = await tokenFor(api, 'victor', ['viewer']);
  expectProblem(await call(api, 'POST', base, { token: viewer, json: { name: 'v', mapping } }), 403);
  expect((await call(api, 'GET', base, { token: viewer })).body.items.map((item: { id: string }) => item.id)).toEqual([trigger.id]);

  const patched = await call(api, 'PATCH', `${base}/${trigger.id}`, { token: operator, json: { mapping: '{ "service": "fixed", "ref": body.ref }' } });
  expect(patched.body.mapping).toContain('fixed');
  const delivered = await deliver(trigger, push('ignored'));
  expect(delivered.status).toBe(201);

  const rotated = await call(api, 'POST', `${base}/${trigger.id}/secret`, { token: operator });
  expect(rotated.body.secret).not.toBe(trigger.secret);
  expectProblem(await deliver(trigger, push('x')), 401);
  expect((await deliver({ ...trigger, secret: rotated.body.secret }, push('x'))).status).toBe(201);

  expect((await call(api, 'DELETE', `${base}/${trigger.id}`, { token: operator })).status).toBe(204);
  expectProblem(await deliver({ ...trigger, secret: rotated.body.secret }, push('x')), 404);
  expectProblem(await call(api, 'GET', `/api/v1/secrets/${trigger.secretName}`), 404);
  await api.audit.flush();
  const actions = await api.prisma.auditEvent.findMany({ where: { subjectId: trigger.id, outcome: 'succeeded' }, orderBy: { at: 'asc' } });
  expect(actions.map((entry) => entry.action)).toEqual(['trigger.created', 'trigger.updated', 'trigger.secret_rotated', 'trigger.deleted']);
}, 60_000);
