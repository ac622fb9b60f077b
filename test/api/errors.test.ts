import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrismaClient } from '@prisma/client';
import pino from 'pino';
import { createApp } from '../../apps/api/src/app';
import { TemplateChangeFeed } from '../../apps/api/src/templates/template-changes';
import { bearer, call, createTemplate, expectProblem, sampleSpec, startApi, uniqueName, type Api } from './harness';

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});

describe('malformed bodies', () => {
  test('malformed JSON is a 400', async () => {
    const answer = await call(api, 'POST', '/api/v1/templates', { raw: '{"name": ', contentType: 'application/json' });
    expectProblem(answer, 400);
    expect(answer.body.detail).toMatch(/not valid JSON/);
  });

  test('malformed YAML, duplicate keys and alias bombs are 400s', async () => {
    const bodies = [
      'name: [unclosed',
      'name: a\nname: b\n',
      'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n',
      '--- 1\n--- 2\n',
    ];
    for (const raw of bodies) {
      expectProblem(await call(api, 'POST', '/api/v1/templates', { raw, contentType: 'application/x-yaml' }), 400);
    }
  });

  test('a body that is not an object is a 400 naming no field', async () => {
    for (const json of [null, 42, 'text', [1, 2]]) {
      expectProblem(await call(api, 'POST', '/api/v1/templates', { json }), 400);
    }
  });

  test('text PostgreSQL cannot store (NUL, unpaired surrogates) is a 400, not a database error', async () => {
    const nul = await call(api, 'POST', '/api/v1/templates', {
      raw: `{"name": "a\\u0000b", "spec": ${JSON.stringify(sampleSpec())}}`,
      contentType: 'application/json',
    });
    expectProblem(nul, 400);
    expect(nul.body.invalidParams[0].path).toEqual(['name']);
    const surrogate = await call(api, 'POST', '/api/v1/templates', {
      raw: `{"name": "${uniqueName()}", "spec": {"steps": [{"id": "a", "type": "noop", "with": {"output": "\\ud800"}}]}}`,
      contentType: 'application/json',
    });
    expectProblem(surrogate, 400);
    expectProblem(await call(api, 'GET', '/api/v1/templates?q=%00'), 400);
  });

  test('bodies nested absurdly deep are a 400', async () => {
    const raw = `{"name": "x", "spec": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    expectProblem(await call(api, 'POST', '/api/v1/templates', { raw, contentType: 'application/json' }), 400);
    expectProblem(await call(api, 'POST', '/api/v1/templates', { raw, contentType: 'application/yaml' }), 400);
    const indented = Array.from({ length: 2000 }, (_, depth) => `${' '.repeat(depth)}k:`).join('\n');
    expectProblem(await call(api, 'POST', '/api/v1/templates', { raw: indented, contentType: 'application/yaml' }), 400);
  });
});

describe('sizes and content types', () => {
  test('a body over the limit is a 413', async () => {
    const answer = await call(api, 'POST', '/api/v1/templates', {
      json: { name: uniqueName(), spec: sampleSpec(), description: 'x'.repeat(3 * 1024 * 1024) },
    });
    expectProblem(answer, 413);
  });

  test('a spec over MAX_SPEC_BYTES is a 413 even when the body fits', async () => {
    const spec = { steps: [{ id: 'big', type: 'noop', with: { output: 'x'.repeat(1024 * 1024 + 10) } }] };
    expectProblem(await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName(), spec } }), 413);
  });

  test('a body in another content type is a 415', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const answer = await call(api, 'POST', '/api/v1/templates', { raw: 'name=x', contentType });
      expectProblem(answer, 415);
    }
  });
});

describe('routes', () => {
  test('an unknown route is a 404 problem', async () => {
    expectProblem(await call(api, 'GET', '/api/v1/nothing-here'), 404);
    expectProblem(await call(api, 'GET', '/'), 404);
  });

  test.each([
    ['PUT', '/api/v1/templates', 'GET, POST, HEAD'],
    ['DELETE', '/api/v1/templates', 'GET, POST, HEAD'],
    ['GET', '/api/v1/templates/validate', 'POST'],
    ['POST', '/api/v1/templates/00000000-0000-4000-8000-000000000000', 'GET, PATCH, DELETE, HEAD'],
    ['PUT', '/api/v1/templates/00000000-0000-4000-8000-000000000000/versions/1', 'GET, HEAD'],
    ['POST', '/healthz', 'GET, HEAD'],
  ])('%s %s is a 405 with Allow: %s', async (method, path, allow) => {
    const answer = await call(api, method, path, method === 'GET' ? {} : { json: {} });
    expectProblem(answer, 405);
    expect(answer.headers.get('allow')).toBe(allow);
  });
});

describe('times out of range', () => {
  const cursor = (position: object) => Buffer.from(JSON.stringify(position)).toString('base64url');
  const id = '00000000-0000-4000-8000-000000000000';

  // Year 0000 has no date in PostgreSQL and year 10000 is no datetime to Temporal's visibility queries.
  test.each([
    ['a template cursor in year 0', `/api/v1/templates?cursor=${cursor({ createdAt: '0000-01-01T00:00:00Z', id })}`],
    ['a publish cursor in year 0', `/api/v1/publishes?cursor=${cursor({ createdAt: '0000-01-01T00:00:00Z', id })}`],
    ['a delivery cursor in year 0', `/api/v1/notifications?cursor=${cursor({ at: '0000-01-01T00:00:00Z', id })}`],
    ['an audit cursor in year 0', `/api/v1/audit?cursor=${cursor({ at: '0000-01-01T00:00:00Z', id: '1' })}`],
    ['an audit bound in year 0', '/api/v1/audit?from=0000-01-01T00:00:00Z'],
    ['an audit bound that its offset takes back into year 0', '/api/v1/audit?to=0001-01-01T00:30:00%2B01:00'],
    ['a run list bound that its offset takes into year 10000', '/api/v1/runs?startedBefore=9999-12-31T23:59:59-23:59'],
  ])('%s is a 400, not a database or Temporal error', async (_name, path) => {
    expectProblem(await call(api, 'GET', path), 400);
  });

  test('the first and last years are still answered', async () => {
    const first = await call(api, 'GET', `/api/v1/notifications?cursor=${cursor({ at: '0001-01-01T00:00:00Z', id })}`);
    const last = await call(api, 'GET', '/api/v1/audit?to=9999-12-31T23:59:59Z');
    expect([first.status, last.status]).toEqual([200, 200]);
  });
});

describe('conflicts', () => {
  test('409 for a duplicate name, also when the names differ only in surrounding spaces', async () => {
    const { name } = await createTemplate(api);
    expectProblem(await call(api, 'POST', '/api/v1/templates', { json: { name: ` ${name} `, spec: sampleSpec() } }), 409);
  });
});

describe('unexpected failures', () => {
  test('are logged with their context and answered as a 500 problem that reveals nothing', async () => {
    const logLines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => logLines.push(line) });
    // The credential is checked against the real database; reading the template fails.
    const failingPrisma = {
      apiToken: api.prisma.apiToken,
      template: {
        findFirst: async () => {
          throw new Error('connection to 10.0.0.7 refused: password authentication failed');
        },
      },
    } as unknown as PrismaClient;
    const templateChanges = await TemplateChangeFeed.start(process.env.DATABASE_URL!, logger);
    const app = createApp({ prisma: failingPrisma, temporal: api.temporal, taskQueue: 'unused', logger, templateChanges });
    const server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      const { port } = server.address() as AddressInfo;
      const path = `/api/v1/templates/${randomUUID()}`;
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: bearer(api.token) });
      const text = await response.text();
      expect(response.status).toBe(500);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(text).not.toMatch(/10\.0\.0\.7|password|Error/);
      const logged = logLines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'request failed');
      expect(logged).toMatchObject({ method: 'GET', url: path, err: { message: expect.stringContaining('password') } });
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await templateChanges.close();
    }
  });
});
