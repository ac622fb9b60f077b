import { Keyring } from '../../apps/common/crypto/keyring';
import { call, createTestTenant, createToken, expectProblem, startApi, tokenFor, uniqueName, type Api } from './harness';

/** DolphinScheduler targets, the shell step's refusal at run start, and what publishing refuses before anything is sent. */

let api: Api;
const TOKEN_VALUE = 'ds-token-never-shown';

beforeAll(async () => {
  api = await startApi({ secretsKeys: Keyring.parse(Keyring.generateEntry('targets'), 'SECRETS_KEYS') });
  expect((await call(api, 'PUT', '/api/v1/secrets/DS_PROD', { json: { value: TOKEN_VALUE } })).status).toBe(201);
});
afterAll(async () => {
  await api?.close();
});

const target = {
  baseUrl: 'http://ds.example.com:12345/dolphinscheduler/',
  tokenSecret: 'DS_PROD',
  projectName: 'Data platform',
  tenantCode: 'etl',
  dialect: 'v3.1',
};

test('targets are created, replaced, listed, read and deleted per tenant, audited, and never show a token', async () => {
  const created = await call(api, 'PUT', '/api/v1/dolphinscheduler/targets/prod', { json: target });
  expect(created.status).toBe(201);
  expect(created.headers.get('location')).toBe('/api/v1/dolphinscheduler/targets/prod');
  expect(created.body).toMatchObject({
    name: 'prod',
    baseUrl: 'http://ds.example.com:12345/dolphinscheduler',
    tokenSecret: 'DS_PROD',
    workerGroup: 'default',
    dialect: 'v3.1',
    createdBy: 'alice',
  });

  const bob = await tokenFor(api, 'bob', ['admin']);
  const replaced = await call(api, 'PUT', '/api/v1/dolphinscheduler/targets/prod', { token: bob, json: { ...target, dialect: 'v3.3', workerGroup: 'etl-workers' } });
  expect(replaced.status).toBe(200);
  expect(replaced.body).toMatchObject({ dialect: 'v3.3', workerGroup: 'etl-workers', createdBy: 'alice', updatedBy: 'bob' });

  const viewer = await tokenFor(api, 'vera', ['viewer']);
  const listed = await call(api, 'GET', '/api/v1/dolphinscheduler/targets', { token: viewer });
  expect(listed.body.items.map((t: { name: string }) => t.name)).toContain('prod');
  expectProblem(await call(api, 'PUT', '/api/v1/dolphinscheduler/targets/prod', { token: viewer, json: target }), 403);

  // Another tenant sees none of it.
  const other = await createTestTenant(api.prisma);
  const mallory = await createToken(api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin'] });
  expectProblem(await call(api, 'GET', '/api/v1/dolphinscheduler/targets/prod', { token: mallory }), 404);
  expect((await call(api, 'GET', '/api/v1/dolphinscheduler/targets', { token: mallory })).body.items).toEqual([]);

  await api.audit.flush();
  const audit = await call(api, 'GET', '/api/v1/audit?targetType=dolphinscheduler-target');
  expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual(['dolphinscheduler.target.updated', 'dolphinscheduler.target.created']);

  expect((await call(api, 'DELETE', '/api/v1/dolphinscheduler/targets/prod')).status).toBe(204);
  expectProblem(await call(api, 'GET', '/api/v1/dolphinscheduler/targets/prod'), 404);
  expectProblem(await call(api, 'DELETE', '/api/v1/dolphinscheduler/targets/prod'), 404);

  for (const answer of [created, replaced, listed, audit]) expect(JSON.stringify(answer.body)).not.toContain(TOKEN_VALUE);
});

test('simultaneous PUTs of a new target create it once: one 201 and one creation audited, the rest 200', async () => {
  const answers = await Promise.all(Array.from({ length: 8 }, () => call(api, 'PUT', '/api/v1/dolphinscheduler/targets/racing', { json: target })));
  expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
  const audit = await call(api, 'GET', '/api/v1/audit?targetType=dolphinscheduler-target&targetId=racing');
  expect(audit.body.items.map((e: { action: string }) => e.action).sort()).toEqual(['dolphinscheduler.target.created', ...Array(7).fill('dolphinscheduler.target.updated')]);
});

test('a target naming a missing secret, a bad name or a bad field is refused with the field named', async () => {
  const missing = await call(api, 'PUT', '/api/v1/dolphinscheduler/targets/staging', { json: { ...target, tokenSecret: 'NOPE' } });
  expectProblem(missing, 422);
  expect(missing.body.invalidParams).toEqual([expect.objectContaining({ path: ['tokenSecret'] })]);

  expectProblem(await call(api, 'PUT', '/api/v1/dolphinscheduler/targets/Bad_Name', { json: target }), 422);
  const invalid = await call(api, 'PUT', '/api/v1/dolphinscheduler/targets/staging', {
    json: { ...target, baseUrl: 'ftp://ds', dialect: 'v2', tenantCode: 'a b', token: 'inline' },
  });
  expectProblem(invalid, 400);
  expect(invalid.body.invalidParams.map((p: { path: string[] }) => p.path.join('.')).sort()).toEqual(['', 'baseUrl', 'dialect', 'tenantCode']);
});

test('a run of a version with a shell step is refused at start, naming the step; flowpilot never runs shell', async () => {
  const template = await call(api, 'POST', '/api/v1/templates', {
    json: { name: uniqueName(), spec: { steps: [{ id: 'hello', type: 'http', with: { url: 'https://example.com/' } }, { id: 'etl', type: 'shell', with: { script: 'rm -rf /' } }] } },
  });
  expect(template.status).toBe(201);
  const run = await call(api, 'POST', '/api/v1/runs', { json: { templateId: template.body.id } });
  expectProblem(run, 422);
  expect(run.body.detail).toMatch(/etl: shell/);
  expect(run.body.invalidParams).toEqual([{ path: ['spec', 'steps', 1, 'type'], message: expect.stringContaining('runs only on DolphinScheduler') }]);
});

test('publishing refuses an unmappable spec with every problem, an unknown target, and another tenant’s template, before anything is sent', async () => {
  expect((await call(api, 'PUT', '/api/v1/dolphinscheduler/targets/staging', { json: target })).status).toBe(201);
  const template = await call(api, 'POST', '/api/v1/templates', {
    json: {
      name: uniqueName(),
      spec: {
        steps: [
          { id: 'wait', type: 'delay', with: { duration: '5m' } },
          { id: 'ask', type: 'approval', with: { approvers: { roles: ['ops'] } }, dependsOn: ['wait'] },
          { id: 'call', type: 'http', with: { url: 'https://example.com/{{ inputs.id }}' } },
        ],
      },
    },
  });
  const refused = await call(api, 'POST', `/api/v1/templates/${template.body.id}/versions/1/publish`, { json: { target: 'staging' } });
  expectProblem(refused, 422);
  expect(refused.body.invalidParams.map((p: { stepId: string }) => p.stepId)).toEqual(['wait', 'ask', 'call']);

  const unknown = await call(api, 'POST', `/api/v1/templates/${template.body.id}/versions/1/publish`, { json: { target: 'nowhere' } });
  expectProblem(unknown, 422);
  expect(unknown.body.invalidParams).toEqual([expect.objectContaining({ path: ['target'] })]);

  expectProblem(await call(api, 'POST', `/api/v1/templates/${template.body.id}/versions/9/publish`, { json: { target: 'staging' } }), 404);
  const badSchedule = await call(api, 'POST', `/api/v1/templates/${template.body.id}/versions/1/publish`, {
    json: { target: 'staging', schedule: { crontab: 'daily', startTime: '2030-01-01 00:00:00', endTime: '2020-01-01 00:00:00' } },
  });
  expectProblem(badSchedule, 400);
  const backwards = await call(api, 'POST', `/api/v1/templates/${template.body.id}/versions/1/publish`, {
    json: { target: 'staging', schedule: { crontab: '0 0 3 * * ? *', startTime: '2030-01-01 00:00:00', endTime: '2020-02-30 00:00:00' } },
  });
  expectProblem(backwards, 422);
  expect(backwards.body.invalidParams).toEqual([{ path: ['schedule', 'endTime'], message: 'must be a real date and time' }]);
  // Quartz would read an unknown or miscased zone as GMT without a word.
  for (const timezoneId of ['Mars/Olympus', 'asia/shanghai', 'us/pacific']) {
    const zoned = await call(api, 'POST', `/api/v1/templates/${template.body.id}/versions/1/publish`, {
      json: { target: 'staging', schedule: { crontab: '0 0 3 * * ? *', startTime: '2030-01-01 00:00:00', endTime: '2031-01-01 00:00:00', timezoneId } },
    });
    expectProblem(zoned, 422);
    expect(zoned.body.invalidParams).toEqual([{ path: ['schedule', 'timezoneId'], message: expect.stringContaining('not an IANA time zone') }]);
  }
  const miscased = await call(api, 'POST', `/api/v1/templates/${template.body.id}/versions/1/publish`, {
    json: { target: 'staging', schedule: { crontab: '0 0 3 * * ? *', startTime: '2030-01-01 00:00:00', endTime: '2031-01-01 00:00:00', timezoneId: 'asia/shanghai' } },
  });
  expect(miscased.body.invalidParams[0].message).toContain('use "Asia/Shanghai"');

  const other = await createTestTenant(api.prisma);
  const mallory = await createToken(api.prisma, { tenantId: other.id, name: 'mallory', roles: ['admin'] });
  expectProblem(await call(api, 'POST', `/api/v1/templates/${template.body.id}/versions/1/publish`, { token: mallory, json: { target: 'staging' } }), 404);
  expectProblem(await call(api, 'POST', `/api/v1/templates/${template.body.id}/targets/staging/offline`), 409);

  expect((await call(api, 'GET', `/api/v1/publishes?templateId=${template.body.id}`)).body).toEqual({ items: [], nextCursor: null });
  expectProblem(await call(api, 'GET', '/api/v1/publishes?status=done'), 400);
  expectProblem(await call(api, 'GET', '/api/v1/publishes?cursor=garbage'), 400);
  expectProblem(await call(api, 'GET', '/api/v1/publishes/not-a-uuid'), 404);
});
