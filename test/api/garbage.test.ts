import fc from 'fast-check';
import { call, createTemplate, sampleSpec, startApi, type Api } from './harness';

let api: Api;
let templateId: string;
beforeAll(async () => {
  api = await startApi();
  templateId = (await createTemplate(api)).id;
});
afterAll(async () => {
  await api.close();
});

/** Whatever arrives, the answer is never a 500, and every error is problem+json. */
async function expectNoServerError(method: string, path: string, options: Parameters<typeof call>[3]): Promise<void> {
  const answer = await call(api, method, path, options);
  const summary = { method, path, status: answer.status, contentType: answer.contentType, body: answer.body };
  if (answer.status >= 500 || (answer.status >= 400 && !answer.contentType.includes('application/problem+json'))) {
    throw new Error(`unexpected answer: ${JSON.stringify(summary).slice(0, 2000)}`);
  }
}

const segment = fc.oneof(
  fc.constantFrom('api', 'v1', 'templates', 'versions', 'diff', 'rollback', 'validate', '1', '2', '0', '-1', '%00', '%', '..'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.uuid().map(String),
);

const path = fc.oneof(
  fc.array(segment, { maxLength: 7 }).map((segments) => `/${segments.join('/')}`),
  fc
    .tuple(fc.constantFrom('', '/versions', '/versions/1', '/versions/1/diff/2', '/versions/1/rollback'), fc.array(segment, { maxLength: 2 }))
    .map(([suffix, extra]) => `/api/v1/templates/${templateId}${suffix}${extra.length ? `/${extra.join('/')}` : ''}`),
  fc.constantFrom('/api/v1/templates', '/api/v1/templates/validate'),
);

const query = fc
  .array(
    fc.tuple(
      fc.constantFrom('q', 'label', 'archived', 'limit', 'cursor', 'x', 'label[]', 'limit[a]'),
      fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('true', 'a:b', '5', '1e3', 'eyJ9', '%00', '%ZZ', '\\', '%25', '_', 'a:\\', '%ud800')),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v.startsWith('%') ? v : encodeURIComponent(v)}`).join('&')}` : ''));

const jsonBody = fc.oneof(
  fc.jsonValue(),
  fc.record({ name: fc.string(), spec: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ spec: fc.oneof(fc.jsonValue(), fc.constant(sampleSpec())), message: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ description: fc.jsonValue(), labels: fc.dictionary(fc.string(), fc.jsonValue()), name: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({
    steps: fc.array(
      fc.record({ id: fc.string(), type: fc.constantFrom('http', 'noop', 'delay', 'approval', 'x'), with: fc.jsonValue(), dependsOn: fc.jsonValue() }, { requiredKeys: [] }),
      { maxLength: 4 },
    ),
    groups: fc.jsonValue(),
    inputs: fc.jsonValue(),
  }, { requiredKeys: [] }),
);

const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  path,
  query,
  body: fc.oneof(
    jsonBody.map((json) => ({ raw: JSON.stringify(json), contentType: 'application/json' })),
    fc.string({ maxLength: 200 }).map((raw) => ({ raw, contentType: 'application/json' })),
    fc.string({ maxLength: 200 }).map((raw) => ({ raw, contentType: 'application/yaml' })),
    fc.tuple(fc.string({ maxLength: 50 }), fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data', 'application/json; charset=latin-9'))
      .map(([raw, contentType]) => ({ raw, contentType })),
    fc.constant(undefined),
  ),
});

test('no input makes the API answer 500', async () => {
  await fc.assert(
    fc.asyncProperty(request, async ({ method, path: target, query: search, body }) => {
      const withBody = body && method !== 'GET' ? body : {};
      await expectNoServerError(method, target + search, withBody);
    }),
    { numRuns: 400 },
  );
});

test.each([
  ['GET', '/api/v1/templates?q=%5C'],
  ['GET', '/api/v1/templates?q=%25_%5C%5C'],
  ['GET', '/api/v1/templates?label=team:%5C'],
  ['GET', '/api/v1/templates/%ZZ'],
  ['GET', '/api/v1/templates/00000000-0000-4000-8000-000000000000/versions/1/diff/%ZZ'],
  ['GET', `/api/v1/templates?cursor=${Buffer.from('{"createdAt":"2026-01-01T00:00:00.000Z","id":"x"}').toString('base64url')}`],
  ['GET', `/api/v1/templates?cursor=${Buffer.from('{"createdAt":"+275760-09-13T00:00:00.000Z","id":"00000000-0000-4000-8000-000000000000"}').toString('base64url')}`],
  ['GET', `/api/v1/templates?cursor=${Buffer.from('{"number":1}').toString('base64url')}`],
])('%s %s is answered without a server error', async (method, target) => {
  await expectNoServerError(method, target, {});
});

test('specs with odd but storable content are stored or refused, never a server error', async () => {
  const odd = [
    { steps: [{ id: 'a', type: 'noop', with: { __proto__: { polluted: true }, constructor: 'x' } }] },
    { steps: [{ id: 'a', type: 'noop', with: { output: '\\u0000 is escaped text, not NUL' } }] },
    { steps: [{ id: 'a', type: 'noop' }], inputs: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' } },
    { steps: [{ id: 'a', type: 'noop' }], inputs: { $ref: 'https://example.com/remote.json' } },
    { steps: [{ id: 'a', type: 'noop' }], inputs: { type: 'object', properties: { d: { type: 'string', format: 'no-such-format' } } } },
    { steps: [{ id: 'a', type: 'noop' }], inputs: { $id: 'https://example.com/s', type: 'object' } },
  ];
  for (const spec of odd) {
    await expectNoServerError('POST', `/api/v1/templates/${templateId}/versions`, { raw: JSON.stringify({ spec }), contentType: 'application/json' });
    await expectNoServerError('POST', '/api/v1/templates/validate', { raw: JSON.stringify(spec), contentType: 'application/json' });
  }
});
