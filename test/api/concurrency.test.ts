import { call, createTemplate, sampleSpec, startApi, type Api } from './harness';

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});

test('concurrent version posts get distinct, consecutive numbers and none is lost', async () => {
  const template = await createTemplate(api);
  const writers = 12;
  const answers = await Promise.all(
    Array.from({ length: writers }, (_, i) =>
      call(api, 'POST', `/api/v1/templates/${template.id}/versions`, {
        json: { spec: sampleSpec({ url: `https://example.com/writer/${i}` }), message: `writer ${i}` },
      }),
    ),
  );
  expect(answers.map((answer) => answer.status)).toEqual(Array(writers).fill(201));
  const numbers = answers.map((answer) => answer.body.number as number).sort((a, b) => a - b);
  expect(numbers).toEqual(Array.from({ length: writers }, (_, i) => i + 2));

  const stored = await api.prisma.templateVersion.findMany({ where: { templateId: template.id }, orderBy: { number: 'asc' } });
  expect(stored.map((version) => version.number)).toEqual(Array.from({ length: writers + 1 }, (_, i) => i + 1));
  const messages = new Set(stored.map((version) => version.message));
  for (let i = 0; i < writers; i++) expect(messages).toContain(`writer ${i}`);
  const latest = await call(api, 'GET', `/api/v1/templates/${template.id}`);
  expect(latest.body.latestVersion).toBe(writers + 1);
});

test('concurrent posts of the same spec create it once', async () => {
  const template = await createTemplate(api);
  const spec = sampleSpec({ duration: '42m' });
  const answers = await Promise.all(
    Array.from({ length: 6 }, () => call(api, 'POST', `/api/v1/templates/${template.id}/versions`, { json: { spec } })),
  );
  expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
  expect(answers.filter((answer) => answer.status === 200)).toHaveLength(5);
  expect(new Set(answers.map((answer) => answer.body.number))).toEqual(new Set([2]));
});
