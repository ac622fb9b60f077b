import { call, expectProblem, sampleSpec, startApi, uniqueName, type Api } from './harness';

/**
 * YAML bodies are measured by a linear scan before the `yaml` library parses them: nesting deeper
 * than 64 levels is a 400, more work than about 200 ms of parsing a 413, each answered at once,
 * while the API keeps answering others (F5: a body nested 600,000 deep ran the process out of
 * memory; 2 MB of `- 1` lines blocked the event loop for 8 s).
 */

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});

const TWO_MB = 2 * 1024 * 1024 - 1024;
const bodies: Record<string, { raw: string; status: number }> = {
  'deep flow nesting': { raw: `spec: ${'['.repeat(600_000)}${']'.repeat(600_000)}`, status: 400 },
  'deep flow mappings': { raw: `spec: ${'{a: '.repeat(200_000)}1${'}'.repeat(200_000)}`, status: 400 },
  'deep block nesting': { raw: Array.from({ length: 2000 }, (_, depth) => `${' '.repeat(depth)}k:`).join('\n'), status: 400 },
  'deep compact sequences': { raw: `${'- '.repeat(300_000)}x`, status: 400 },
  'nesting hidden after an apostrophe': { raw: `a: don't\nb: ${'['.repeat(1000)}${']'.repeat(1000)}`, status: 400 },
  'a long flow sequence': { raw: `[${'1,'.repeat(TWO_MB / 2)}1]`, status: 413 },
  'a long block sequence': { raw: '- 1\n'.repeat(TWO_MB / 4), status: 413 },
  'many keys': { raw: Array.from({ length: 150_000 }, (_, i) => `k${i}: 1`).join('\n'), status: 413 },
  'many blank lines': { raw: `a: 1${'\n'.repeat(TWO_MB)}`, status: 413 },
  'many tags': { raw: '- !!str 1\n'.repeat(TWO_MB / 10), status: 413 },
  'many anchors': { raw: Array.from({ length: 150_000 }, (_, i) => `- &a${i} 1`).join('\n'), status: 413 },
  'many aliases': { raw: `a: &a 1\nb: [${'*a,'.repeat(TWO_MB / 3 - 10)}*a]`, status: 413 },
  'many duplicate keys': { raw: 'a: 1\n'.repeat(5_000), status: 400 },
  'an alias inside its own anchor': { raw: 'a: &a [*a, *a]', status: 400 },
  'a mapping that contains itself': { raw: 'spec: &s\n  steps: *s', status: 400 },
};

describe('YAML bodies that would block or crash the parser', () => {
  test.each(Object.entries(bodies))('%s: refused quickly while /healthz answers', async (_name, { raw, status }) => {
    const started = Date.now();
    const answer = call(api, 'POST', '/api/v1/templates/validate', { raw, contentType: 'application/yaml' });
    const health = await fetch(`${api.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    const refused = await answer;
    expectProblem(refused, status);
    // Reading 2 MB over HTTP takes some of this; parsing such a body took seconds.
    expect(Date.now() - started).toBeLessThan(1500);
  });

  test('/healthz answers while several such bodies are in flight', async () => {
    const inFlight = [bodies['a long block sequence']!, bodies['many keys']!, bodies['deep flow nesting']!].map(({ raw }) =>
      call(api, 'POST', '/api/v1/templates/validate', { raw, contentType: 'application/yaml' }),
    );
    const started = Date.now();
    expect((await fetch(`${api.baseUrl}/healthz`)).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
    for (const answer of await Promise.all(inFlight)) expect([400, 413]).toContain(answer.status);
  });

  test('ordinary YAML still parses, block scalars and quoted brackets included', async () => {
    const raw = [
      `name: ${uniqueName()}`,
      'spec:',
      '  inputs:',
      '    type: object',
      '    description: |',
      '      [[[[ block text, not nesting',
      "      don't",
      '  steps:',
      '    - id: a',
      '      type: noop',
      '      with:',
      "        output: \"it's [[[[ not nesting\"",
      '    - id: b',
      '      type: noop',
      '      dependsOn: [a]   # a comment [[[[',
    ].join('\n');
    const answer = await call(api, 'POST', '/api/v1/templates/validate', { raw, contentType: 'application/yaml' });
    expect({ status: answer.status, body: answer.body }).toMatchObject({ status: 200 });
  });

  test('a YAML spec of 500 steps is accepted', async () => {
    const spec = sampleSpec();
    const steps = Array.from({ length: 500 }, (_, i) =>
      [`    - id: s${i}`, '      type: noop', ...(i > 0 ? [`      dependsOn: [s${i - 1}]`] : [])].join('\n'),
    ).join('\n');
    const raw = `name: ${uniqueName()}\nspec:\n  steps:\n${steps}\n`;
    const answer = await call(api, 'POST', '/api/v1/templates/validate', { raw, contentType: 'application/yaml' });
    expect(answer.status).toBeLessThan(300);
    expect(spec).toBeDefined();
  });
});
