import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { bearer, call, createTemplate, expectProblem, startApi, type Api } from './harness';

/**
 * The defects Schemathesis found in the published contract (test/contract/ runs it), one by one:
 * the API and its OpenAPI document must say the same thing.
 */

let api: Api;
let document: any;
beforeAll(async () => {
  api = await startApi();
  document = (await call(api, 'GET', '/openapi.json')).body;
});
afterAll(async () => {
  await api.close();
});

const RUN = 'run-0b0c5a3e-5d0f-4b7e-9a51-4b0f6a1c2d3e';
const TEMPLATE = '0b0c5a3e-5d0f-4b7e-9a51-4b0f6a1c2d3e';

function operations(): { path: string; method: string; operation: any }[] {
  return Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );
}

function parameter(path: string, method: string, name: string): any {
  return document.paths[path][method].parameters.find((p: { name: string }) => p.name === name);
}

function* patterns(node: unknown): Generator<string> {
  if (Array.isArray(node)) for (const item of node) yield* patterns(item);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'pattern' && typeof value === 'string') yield value;
      else yield* patterns(value);
    }
  }
}

describe('Idempotency-Key', () => {
  const start = (key: string) =>
    call(api, 'POST', '/api/v1/runs', { json: { templateId: TEMPLATE }, headers: { 'idempotency-key': key } });

  test('is published as 1 to 200 visible ASCII characters, the rule the API applies', async () => {
    for (const path of ['/api/v1/runs', '/api/v1/runs/{id}/pause', '/api/v1/runs/{id}/steps/{stepId}/approve']) {
      const header = parameter(path, 'post', 'idempotency-key');
      expect(header).toMatchObject({ in: 'header', required: false, schema: { pattern: '^[\\x21-\\x7e]{1,200}$' } });
      expect(document.paths[path].post.responses).toHaveProperty('400');
    }
    expectProblem(await start(''), 400);
    expectProblem(await start('with space'), 400);
    expectProblem(await start('x'.repeat(201)), 400);
    // Passes the key check and meets the missing template: the key was fine.
    expectProblem(await start('x'.repeat(200)), 404);
    expectProblem(await start('deploy-42:~!'), 404);
  });

  test('a non-ASCII key is refused whatever its length, as the document says', async () => {
    // Node reads header bytes as Latin-1: "é" sent as UTF-8 arrives as two characters.
    const answer = await rawRequest('POST', '/api/v1/runs', {
      'content-type': 'application/json',
      'idempotency-key': Buffer.from('clé', 'utf8').toString('latin1'),
    }, JSON.stringify({ templateId: TEMPLATE }));
    expect(answer.status).toBe(400);
    expect(answer.contentType).toContain('application/problem+json');
    expect(new RegExp(parameter('/api/v1/runs', 'post', 'idempotency-key').schema.pattern).test('clé')).toBe(false);
  });
});

describe('text PostgreSQL cannot store', () => {
  test('NUL is refused and published as a pattern on the fields that are stored or queried', async () => {
    const create = document.paths['/api/v1/templates'].post.requestBody.content['application/json'].schema;
    const body = create.$ref ? document.components.schemas[create.$ref.split('/').pop()] : create;
    for (const field of ['name', 'description', 'message']) {
      expect(new RegExp(body.properties[field].pattern).test('a\u0000b')).toBe(false);
    }
    expect(new RegExp(parameter('/api/v1/templates', 'get', 'q').schema.pattern).test('a\u0000b')).toBe(false);
    expectProblem(await call(api, 'GET', '/api/v1/templates?q=a%00b'), 400);
    expectProblem(await call(api, 'GET', '/api/v1/runs?startedBy=a%00b'), 400);
  });

  test('the 400 every operation documents names NUL characters and unpaired surrogates', async () => {
    for (const { operation } of operations()) {
      expect(operation.responses['400'].description).toMatch(/NUL characters or unpaired surrogates/);
    }
    const surrogate = await call(api, 'PATCH', `/api/v1/templates/${TEMPLATE}`, {
      raw: '{"description": "\\ud800"}',
      contentType: 'application/json',
    });
    expectProblem(surrogate, 400);
  });
});

describe('rollback', () => {
  test('the document marks its body optional, as the API treats it; a body that is not an object is a 400', async () => {
    const rollback = document.paths['/api/v1/templates/{id}/versions/{number}/rollback'].post;
    expect(rollback.requestBody.required).toBe(false);
    const template = await createTemplate(api);
    const base = `/api/v1/templates/${template.id}/versions/1/rollback`;
    expect((await call(api, 'POST', base)).status).toBe(200);
    expectProblem(await call(api, 'POST', base, { raw: 'null', contentType: 'application/json' }), 400);
    expectProblem(await call(api, 'POST', base, { raw: 'null\n', contentType: 'application/yaml' }), 400);
  });

  test('control bodies: none is fine, null is a 400', async () => {
    const answer = await call(api, 'POST', `/api/v1/runs/${RUN}/pause`, { raw: 'null', contentType: 'application/json' });
    expectProblem(answer, 400);
  });
});

describe('published patterns', () => {
  test('every pattern is an ECMA-262 regular expression without flags', () => {
    const all = [...patterns(document)];
    expect(all.length).toBeGreaterThan(10);
    for (const pattern of all) {
      expect(pattern).not.toMatch(/\/[dgimsuvy]*$/);
      expect(() => new RegExp(pattern)).not.toThrow();
    }
  });

  test('startedBy publishes its whole rule (no control characters, no backslash) without a flag', async () => {
    const { schema } = parameter('/api/v1/runs', 'get', 'startedBy');
    const pattern = new RegExp(schema.pattern);
    expect(schema.pattern).not.toContain('/u');
    expect(pattern.test('alice')).toBe(true);
    expect(pattern.test('a\\b')).toBe(false);
    expect(pattern.test('a\u0085b')).toBe(false);
    expectProblem(await call(api, 'GET', `/api/v1/runs?startedBy=${encodeURIComponent('a\\b')}`), 400);
    expectProblem(await call(api, 'GET', '/api/v1/runs?startedBy=a%C2%85b'), 400);
  });

  test('status publishes the comma-separated list it accepts; an empty one is a 400', async () => {
    const pattern = new RegExp(parameter('/api/v1/runs', 'get', 'status').schema.pattern);
    expect(pattern.test('running, failed')).toBe(true);
    expect(pattern.test('')).toBe(false);
    expect(pattern.test('done')).toBe(false);
    expectProblem(await call(api, 'GET', '/api/v1/runs?status='), 400);
  });

  test('names publish that they are not blank; label keys, label counts and a non-empty patch are published', async () => {
    const patch = document.paths['/api/v1/templates/{id}'].patch.requestBody.content['application/json'].schema;
    expect(patch.minProperties).toBe(1);
    const name = new RegExp(patch.properties.name.pattern);
    expect(['a', ' a b ', '😀'].every((value) => name.test(value))).toBe(true);
    expect(['', ' ', '\t\n', '\u3000', 'a\u0000'].some((value) => name.test(value))).toBe(false);
    expect(patch.properties.labels).toMatchObject({ propertyNames: { pattern: expect.any(String) }, maxProperties: 64 });
    expect(new RegExp(patch.properties.labels.propertyNames.pattern).test('team')).toBe(true);
    expect(new RegExp(patch.properties.labels.propertyNames.pattern).test('te am')).toBe(false);
    const template = await createTemplate(api);
    expectProblem(await call(api, 'PATCH', `/api/v1/templates/${template.id}`, { json: { name: ' \u3000 ' } }), 400);
    expectProblem(await call(api, 'PATCH', `/api/v1/templates/${template.id}`, { json: { labels: { 'te am': 'x' } } }), 400);
    expectProblem(await call(api, 'PATCH', `/api/v1/templates/${template.id}`, { json: {} }), 400);
  });

  test('lengths count characters (code points) as the document does (a guard: zod counts them so too)', async () => {
    const template = await createTemplate(api);
    const emoji = '😀'.repeat(2000); // 2,000 characters, 4,000 UTF-16 code units
    const answer = await call(api, 'PATCH', `/api/v1/templates/${template.id}`, { json: { description: emoji } });
    expect(answer.status).toBe(200);
    expectProblem(await call(api, 'PATCH', `/api/v1/templates/${template.id}`, { json: { description: `${emoji}x` } }), 400);
  });

  test('a version beyond the database integer is a 400 (it was a 500), and published as such', async () => {
    const body = document.components.schemas.StartRunRequest;
    expect(body.properties.version.maximum).toBe(2_147_483_647);
    expectProblem(await call(api, 'POST', '/api/v1/runs', { json: { templateId: TEMPLATE, version: 2 ** 40 } }), 400);
    expectProblem(await call(api, 'GET', `/api/v1/runs?version=${2 ** 40}`), 400);
  });
});

describe('responses every operation documents', () => {
  test('400, 413, 431 and 503 everywhere, 415 where a body is read, all problem+json', () => {
    for (const { method, operation } of operations()) {
      const expected = ['400', '413', '431', '503', ...(method === 'post' || method === 'patch' ? ['415'] : [])];
      for (const status of expected) {
        expect(operation.responses[status]?.content).toHaveProperty('application/problem+json');
      }
    }
  });
});

describe('methods', () => {
  test('a method no route of a known path has (TRACE among them) is a 405 with Allow', async () => {
    for (const path of Object.keys(document.paths)) {
      const concrete = path
        .replace('{id}', path.startsWith('/api/v1/runs') ? RUN : TEMPLATE)
        .replace('{stepId}', 'build')
        .replace(/\{(number|from|to)\}/g, '1');
      const documented = Object.keys(document.paths[path]).map((m) => m.toUpperCase());
      for (const method of ['TRACE', 'PUT', 'OPTIONS']) {
        if (documented.includes(method)) continue;
        const answer = await rawRequest(method, concrete, {});
        expect({ method, path, status: answer.status, contentType: answer.contentType }).toEqual({
          method,
          path,
          status: 405,
          contentType: expect.stringContaining('application/problem+json'),
        });
        const allow = String(answer.headers.allow ?? '').split(', ');
        expect(allow).toEqual(expect.arrayContaining(documented));
      }
    }
  });

  test('an unknown path stays a 404, whatever the method', async () => {
    expect((await rawRequest('TRACE', '/api/v1/nowhere', {})).status).toBe(404);
    expectProblem(await call(api, 'GET', '/api/v1/nowhere'), 404);
  });
});

describe('answers Node gives before Express', () => {
  test('header fields over the limit are a 431 problem', async () => {
    const answer = await rawRequest('GET', '/healthz', { 'x-padding': 'x'.repeat(20_000) });
    expect(answer.status).toBe(431);
    expect(answer.contentType).toContain('application/problem+json');
    expect(JSON.parse(answer.body)).toMatchObject({ status: 431, type: expect.stringContaining('request-header-fields-too-large') });
  });

  test('a request that is not HTTP is a 400 problem', async () => {
    const answer = await rawRequest('GET', '/healthz', { 'bad header': 'x' }).catch(() => undefined);
    // Node's client refuses to send an invalid header name; send one over a raw socket instead.
    expect(answer).toBeUndefined();
    const raw = await rawSocket('GET /healthz HTTP/1.1\r\nHost: x\r\nbad header: x\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw).toContain('application/problem+json');
    expect(raw).toContain('"status":400');
  });

  test('CONNECT (to a host or to a path) is a 405 problem, and the connection is closed', async () => {
    for (const target of ['example.com:443', '/api/v1/runs']) {
      // rawSocket resolves when the server ends the connection: an unanswered CONNECT would time out.
      const raw = await rawSocket(`CONNECT ${target} HTTP/1.1\r\nHost: example.com:443\r\nauthorization: Bearer ${api.token}\r\n\r\n`);
      expect(raw).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
      expect(raw).toContain('Content-Type: application/problem+json');
      expect(raw).toContain('Connection: close');
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
      expect(body).toMatchObject({ status: 405, type: expect.stringContaining('method-not-allowed'), detail: expect.stringContaining('not a proxy') });
    }
    expect((await call(api, 'GET', '/healthz')).status).toBe(200);
  });
});

function rawRequest(method: string, path: string, headers: Record<string, string>, body?: string) {
  const { hostname, port } = new URL(api.baseUrl);
  return new Promise<{ status: number; contentType: string; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers: { ...bearer(api.token), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), headers: res.headers, body: text }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function rawSocket(payload: string): Promise<string> {
  const { hostname, port } = new URL(api.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(payload));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}
