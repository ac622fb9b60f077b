import { randomUUID } from 'node:crypto';
import { call, createTemplate, expectProblem, sampleSpec, startApi, tokenFor, uniqueName, type Api } from './harness';

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});

describe('POST /api/v1/templates', () => {
  test('creates the template with version 1, the parsed spec and an audit event', async () => {
    const name = uniqueName();
    const answer = await call(api, 'POST', '/api/v1/templates', {
      json: { name, description: 'Settles orders', labels: { team: 'payments' }, spec: sampleSpec(), message: 'first' },
      token: await tokenFor(api, 'bob', ['editor']),
    });
    expect(answer.status).toBe(201);
    expect(answer.headers.get('location')).toBe(`/api/v1/templates/${answer.body.id}`);
    expect(answer.body).toMatchObject({
      name,
      description: 'Settles orders',
      labels: { team: 'payments' },
      archived: false,
      latestVersion: 1,
      createdBy: 'bob',
      version: { number: 1, author: 'bob', message: 'first', specHash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    // Stored parsed: defaults applied (`with` stays as written: it may hold expressions, rendered per run).
    expect(answer.body.version.spec.steps[0]).toMatchObject({ id: 'fetch', onError: 'fail', dependsOn: [] });
    const events = await api.prisma.auditEvent.findMany({ where: { subjectId: answer.body.id } });
    expect(events).toEqual([expect.objectContaining({ actor: 'bob', action: 'template.created', subjectType: 'template' })]);
  });

  test('accepts a YAML body', async () => {
    const name = uniqueName();
    const yaml = [
      `name: ${name}`,
      'labels:',
      '  team: data',
      'spec:',
      '  steps:',
      '    - id: fetch',
      '      type: http',
      '      with:',
      '        url: https://example.com/yaml',
      '',
    ].join('\n');
    for (const contentType of ['application/yaml', 'text/yaml; charset=utf-8']) {
      const templateName = contentType === 'application/yaml' ? name : `${name}-2`;
      const answer = await call(api, 'POST', '/api/v1/templates', {
        raw: yaml.replace(name, templateName),
        contentType,
      });
      expect(answer.status).toBe(201);
      expect(answer.body).toMatchObject({ name: templateName, labels: { team: 'data' } });
      expect(answer.body.version.spec.steps[0].with.url).toBe('https://example.com/yaml');
    }
  });

  test('refuses a duplicate name with 409', async () => {
    const { name } = await createTemplate(api);
    const answer = await call(api, 'POST', '/api/v1/templates', { json: { name, spec: sampleSpec() } });
    expectProblem(answer, 409);
    expect(answer.body.detail).toContain(name);
  });

  test('refuses an invalid spec with 422 naming the step and the path', async () => {
    const answer = await call(api, 'POST', '/api/v1/templates', {
      json: {
        name: uniqueName(),
        spec: { steps: [{ id: 'fetch', type: 'http', with: { url: 'ftp://example.com' } }] },
      },
    });
    expectProblem(answer, 422);
    expect(answer.body.type).toMatch(/invalid-spec$/);
    expect(answer.body.invalidParams).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: expect.arrayContaining(['spec', 'steps', 0, 'with', 'url']), stepId: 'fetch' }),
      ]),
    );
  });

  test('refuses inputs that are not a JSON Schema with 422 naming the path', async () => {
    const answer = await call(api, 'POST', '/api/v1/templates', {
      json: { name: uniqueName(), spec: { ...sampleSpec(), inputs: { type: 'object', properties: { n: { type: 'nope' } } } } },
    });
    expectProblem(answer, 422);
    expect(answer.body.invalidParams[0].path.slice(0, 5)).toEqual(['spec', 'inputs', 'properties', 'n', 'type']);
  });

  test('refuses body fields it does not know, with their paths', async () => {
    const answer = await call(api, 'POST', '/api/v1/templates', {
      json: { name: '', spec: sampleSpec(), labels: { 'bad key': 'x' }, colour: 'red' },
    });
    expectProblem(answer, 400);
    const paths = answer.body.invalidParams.map((param: { path: unknown[] }) => param.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['name', 'labels.bad key']));
  });
});

describe('GET /api/v1/templates', () => {
  test('searches by text and labels, hides archived ones by default, and pages with a cursor', async () => {
    const marker = randomUUID();
    const created = [];
    for (let i = 0; i < 5; i++) {
      created.push(
        await createTemplate(api, {
          name: uniqueName(`search-${i}`),
          description: `Part of run ${marker.toUpperCase()}`,
          labels: { batch: marker, parity: i % 2 === 0 ? 'even' : 'odd' },
        }),
      );
    }
    const newestFirst = created.map((template) => template.id).reverse();

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?q=${marker}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await call(api, 'GET', `/api/v1/templates${query}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(newestFirst);

    const even = await call(api, 'GET', `/api/v1/templates?label=batch:${marker}&label=parity:even`);
    expect(even.body.items.map((item: { id: string }) => item.id)).toEqual([newestFirst[0], newestFirst[2], newestFirst[4]]);

    await call(api, 'DELETE', `/api/v1/templates/${created[0]!.id}`);
    const active = await call(api, 'GET', `/api/v1/templates?label=batch:${marker}`);
    expect(active.body.items).toHaveLength(4);
    const archived = await call(api, 'GET', `/api/v1/templates?label=batch:${marker}&archived=true`);
    expect(archived.body.items.map((item: { id: string }) => item.id)).toEqual([created[0]!.id]);
  });

  test.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['archived=maybe', 'archived'],
    ['label=nocolon', 'label'],
    ['cursor=not-a-cursor', 'cursor'],
    ['colour=red', ''],
  ])('refuses ?%s with 400 naming the parameter', async (query, param) => {
    const answer = await call(api, 'GET', `/api/v1/templates?${query}`);
    expectProblem(answer, 400);
    expect(answer.body.invalidParams.map((p: { path: (string | number)[] }) => String(p.path[0] ?? ''))).toContain(param);
  });
});

describe('GET, PATCH, DELETE /api/v1/templates/:id', () => {
  test('gets, patches, archives idempotently, and writes audit events', async () => {
    const template = await createTemplate(api);
    const got = await call(api, 'GET', `/api/v1/templates/${template.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: template.id, name: template.name, latestVersion: 1 });

    const renamed = uniqueName('renamed');
    const patched = await call(api, 'PATCH', `/api/v1/templates/${template.id}`, {
      json: { name: renamed, labels: { tier: 'gold' } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: renamed, labels: { tier: 'gold' }, description: '' });

    expect((await call(api, 'DELETE', `/api/v1/templates/${template.id}`)).status).toBe(204);
    expect((await call(api, 'DELETE', `/api/v1/templates/${template.id}`)).status).toBe(204);
    expect((await call(api, 'GET', `/api/v1/templates/${template.id}`)).body.archived).toBe(true);

    const actions = await api.prisma.auditEvent.findMany({ where: { subjectId: template.id }, orderBy: { id: 'asc' } });
    expect(actions.map((event) => event.action)).toEqual(['template.created', 'template.updated', 'template.archived']);
  });

  test('archived templates cannot be patched or given versions (409)', async () => {
    const template = await createTemplate(api);
    await call(api, 'DELETE', `/api/v1/templates/${template.id}`);
    expectProblem(await call(api, 'PATCH', `/api/v1/templates/${template.id}`, { json: { description: 'x' } }), 409);
    const newVersion = await call(api, 'POST', `/api/v1/templates/${template.id}/versions`, {
      json: { spec: sampleSpec({ duration: '1h' }) },
    });
    expectProblem(newVersion, 409);
    expectProblem(await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/rollback`), 409);
  });

  test('renaming onto an existing name is a 409', async () => {
    const first = await createTemplate(api);
    const second = await createTemplate(api);
    expectProblem(await call(api, 'PATCH', `/api/v1/templates/${second.id}`, { json: { name: first.name } }), 409);
  });

  test('an empty or spec-changing patch is a 400', async () => {
    const template = await createTemplate(api);
    expectProblem(await call(api, 'PATCH', `/api/v1/templates/${template.id}`, { json: {} }), 400);
    expectProblem(await call(api, 'PATCH', `/api/v1/templates/${template.id}`, { json: { spec: sampleSpec() } }), 400);
  });

  test.each([
    ['an unknown id', `/api/v1/templates/${randomUUID()}`],
    ['a non-UUID id', '/api/v1/templates/not-a-uuid'],
    ['a quote in the id', "/api/v1/templates/1'%20OR%20'1'='1"],
  ])('%s is a 404', async (_what, path) => {
    expectProblem(await call(api, 'GET', path), 404);
    expectProblem(await call(api, 'DELETE', path), 404);
    expectProblem(await call(api, 'PATCH', path, { json: { description: 'x' } }), 404);
    expectProblem(await call(api, 'GET', `${path}/versions`), 404);
  });
});

describe('versions', () => {
  test('a new spec gets the next number; the same spec returns the latest version with 200', async () => {
    const template = await createTemplate(api);
    const base = `/api/v1/templates/${template.id}/versions`;
    const second = await call(api, 'POST', base, { json: { spec: sampleSpec({ duration: '10m' }), message: 'slower' } });
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ number: 2, message: 'slower', author: 'alice' });

    // Same spec once defaults are applied: no duplicate version.
    const withDefaults = sampleSpec({ duration: '10m' });
    (withDefaults.steps[0] as Record<string, unknown>).onError = 'fail';
    const same = await call(api, 'POST', base, { json: { spec: withDefaults } });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ number: 2, specHash: second.body.specHash });

    const list = await call(api, 'GET', `${base}?limit=1`);
    expect(list.body.items.map((v: { number: number }) => v.number)).toEqual([2]);
    const rest = await call(api, 'GET', `${base}?limit=1&cursor=${list.body.nextCursor}`);
    expect(rest.body).toMatchObject({ items: [{ number: 1 }], nextCursor: null });

    expect((await call(api, 'GET', `${base}/1`)).body).toMatchObject({ number: 1, templateId: template.id });
    expectProblem(await call(api, 'GET', `${base}/3`), 404);
    for (const bad of ['0', '-1', 'one', '1.5', '99999999999']) expectProblem(await call(api, 'GET', `${base}/${bad}`), 404);
    expect((await call(api, 'GET', `/api/v1/templates/${template.id}`)).body.latestVersion).toBe(2);
  });

  test('an invalid spec for a new version is a 422', async () => {
    const template = await createTemplate(api);
    const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions`, {
      json: { spec: { steps: [{ id: 'a', type: 'noop', dependsOn: ['ghost'] }] } },
    });
    expectProblem(answer, 422);
    expect(answer.body.invalidParams[0].path[0]).toBe('spec');
  });

  test('diff matches steps by id and names changed field paths', async () => {
    const template = await createTemplate(api, {
      spec: {
        timeout: '1h',
        steps: [
          { id: 'fetch', type: 'http', with: { url: 'https://example.com/a' } },
          { id: 'wait', type: 'delay', with: { duration: '5m' }, dependsOn: ['fetch'] },
          { id: 'old', type: 'noop' },
        ],
      },
    });
    const next = await call(api, 'POST', `/api/v1/templates/${template.id}/versions`, {
      json: {
        spec: {
          inputs: { type: 'object', properties: { day: { type: 'string' } } },
          steps: [
            { id: 'new', type: 'noop' },
            { id: 'wait', type: 'delay', with: { duration: '5m' }, dependsOn: ['fetch'] },
            { id: 'fetch', type: 'http', with: { url: 'https://example.com/b', method: 'POST' } },
          ],
        },
      },
    });
    expect(next.status).toBe(201);
    const diff = await call(api, 'GET', `/api/v1/templates/${template.id}/versions/1/diff/2`);
    expect(diff.status).toBe(200);
    expect(diff.body).toMatchObject({
      from: 1,
      to: 2,
      steps: {
        added: ['new'],
        removed: ['old'],
        changed: [
          {
            id: 'fetch',
            changes: expect.arrayContaining([
              { path: 'with.url', kind: 'changed', from: 'https://example.com/a', to: 'https://example.com/b' },
              { path: 'with.method', kind: 'added', to: 'POST' },
            ]),
          },
        ],
      },
      groups: { added: [], removed: [], changed: [] },
      inputs: [{ path: 'properties', kind: 'added', to: { day: { type: 'string' } } }],
      timeout: { path: 'timeout', kind: 'removed', from: '1h' },
    });
    expectProblem(await call(api, 'GET', `/api/v1/templates/${template.id}/versions/1/diff/9`), 404);
  });

  test('rollback appends a copy of an earlier spec; rolling back to the latest spec returns it', async () => {
    const template = await createTemplate(api);
    const base = `/api/v1/templates/${template.id}/versions`;
    await call(api, 'POST', base, { json: { spec: sampleSpec({ duration: '2h' }) } });

    const rolledBack = await call(api, 'POST', `${base}/1/rollback`, { json: { message: 'too slow' } });
    expect(rolledBack.status).toBe(201);
    expect(rolledBack.body).toMatchObject({ number: 3, message: 'too slow', specHash: template.version.specHash });

    const again = await call(api, 'POST', `${base}/1/rollback`);
    expect(again.status).toBe(200);
    expect(again.body.number).toBe(3);

    expectProblem(await call(api, 'POST', `${base}/7/rollback`), 404);
    const actions = await api.prisma.auditEvent.findMany({ where: { subjectId: template.id }, orderBy: { id: 'asc' } });
    expect(actions.map((event) => event.action)).toEqual([
      'template.created',
      'template.version_created',
      'template.rolled_back',
    ]);
  });
});

describe('POST /api/v1/templates/validate', () => {
  test('answers the normalised spec and its stats, wrapped or bare', async () => {
    const spec = {
      steps: [
        { id: 'a', type: 'noop' },
        { id: 'b', type: 'noop', dependsOn: ['a'] },
        { id: 'c', type: 'noop', dependsOn: ['b', 'a'] },
        { id: 'd', type: 'noop' },
      ],
      groups: [{ id: 'g', steps: ['a', 'd'] }],
    };
    for (const json of [{ spec }, spec]) {
      const answer = await call(api, 'POST', '/api/v1/templates/validate', { json });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ valid: true, stats: { steps: 4, groups: 1, depth: 3 } });
      expect(answer.body.spec.groups[0].join).toBe('all');
    }
  });

  test('an invalid spec is a 422 with its issues', async () => {
    const answer = await call(api, 'POST', '/api/v1/templates/validate', {
      json: { spec: { steps: [{ id: 'w', type: 'delay', with: { duration: 'soon' } }] } },
    });
    expectProblem(answer, 422);
    expect(answer.body.invalidParams).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: expect.arrayContaining(['spec', 'steps', 0]), stepId: 'w' })]),
    );
  });
});
