import { renderTemplate } from '../../../workflows/spec/expressions';
import { validateSpec } from '../../../workflows/spec/validate';
import { secretReferencePaths } from '../../../workflows/spec/secret-references';
import { substituteSecrets } from '../../../activities/secrets';

const context = { inputs: { token: '{{ secrets.OTHER }}' }, steps: {}, run: { id: 'r', workflowId: 'w', templateId: 't', templateVersion: 1 } };

function issuesOf(step: Record<string, unknown>): string[] {
  const result = validateSpec({ steps: [step] });
  return result.ok ? [] : result.issues.map((issue) => issue.message);
}

test('a secret reference is passed through by the workflow, verbatim, where other templates render', async () => {
  const withValue = {
    url: 'https://api.example/v1?key={{ secrets.API_KEY }}',
    headers: { authorization: 'Bearer {{secrets.API_KEY}}', 'x-from': '{{ inputs.token }}' },
    body: { password: '{{ secrets.DB_PASSWORD }}' },
  };
  expect(await renderTemplate(withValue, context)).toEqual({
    ...withValue,
    // An input holding a reference renders as text: it is not on a secret path, so never substituted.
    headers: { ...withValue.headers, 'x-from': '{{ secrets.OTHER }}' },
  });
  expect(secretReferencePaths(withValue)).toEqual([['url'], ['headers', 'authorization'], ['body', 'password']]);
});

test('validation accepts references in an http step url (after the host), header values and body', () => {
  expect(
    issuesOf({
      id: 'call',
      type: 'http',
      with: { url: 'https://api.example/{{ secrets.PATH_TOKEN }}', headers: { authorization: 'Bearer {{ secrets.API_KEY }}' }, body: { nested: ['{{ secrets.X }}'] } },
    }),
  ).toEqual([]);
});

test('validation refuses secrets mixed into expressions, in conditions, in other steps or fields, and in a host, naming the step', () => {
  expect(issuesOf({ id: 'shout', type: 'http', with: { url: 'https://a.example/', headers: { a: '{{ $uppercase(secrets.X) }}' } } })).toEqual([
    expect.stringMatching(/step "shout".*with\.headers\.a: reads `secrets`, which only a whole `\{\{ secrets\.NAME \}\}` may/),
  ]);
  expect(issuesOf({ id: 'mixed', type: 'http', with: { url: 'https://a.example/', headers: { a: '{{ secrets.X }}-{{ inputs.y }}' } } })).toEqual([
    expect.stringMatching(/step "mixed".*may hold only plain text around its/),
  ]);
  expect(issuesOf({ id: 'cond', type: 'http', when: 'secrets.X = "a"', with: { url: 'https://a.example/' } })).toEqual([
    expect.stringMatching(/step "cond".*when: reads `secrets`/),
  ]);
  expect(issuesOf({ id: 'echo', type: 'noop', with: { output: '{{ secrets.X }}' } })).toEqual([
    expect.stringMatching(/step "echo".*secrets may be referenced only in an http step/),
  ]);
  expect(issuesOf({ id: 'host', type: 'http', with: { url: 'https://{{ secrets.HOST }}/x' } })).toEqual([
    expect.stringMatching(/step "host".*not in its scheme or host/),
  ]);
  // A field of something else called `secrets` is an ordinary read.
  expect(issuesOf({ id: 'field', type: 'http', with: { url: 'https://a.example/', headers: { a: '{{ inputs.secrets }}' } } })).toEqual([]);
});

test('the activity substitutes only the paths the workflow names, and redacts what it substituted', async () => {
  const params = { headers: { authorization: 'Bearer {{ secrets.API_KEY }}', 'x-from': '{{ secrets.API_KEY }}' } };
  const resolver = { reveal: async (_tenant: string, name: string) => (name === 'API_KEY' ? 'tok"en' : undefined) };
  const substituted = await substituteSecrets(params, { tenantId: 't', secretPaths: [['headers', 'authorization']] }, resolver);
  expect(substituted.params).toEqual({ headers: { authorization: 'Bearer tok"en', 'x-from': '{{ secrets.API_KEY }}' } });
  expect(params.headers.authorization).toBe('Bearer {{ secrets.API_KEY }}');
  expect(substituted.redact('a tok"en b {"v":"tok\\"en"}')).toBe('a [secret] b {"v":"[secret]"}');

  await expect(substituteSecrets({ h: '{{ secrets.MISSING }}' }, { tenantId: 't', secretPaths: [['h']] }, resolver)).rejects.toMatchObject({
    type: 'SecretNotFound',
    nonRetryable: true,
    message: 'secret MISSING does not exist',
  });
  await expect(substituteSecrets({ h: '{{ secrets.API_KEY }}' }, { tenantId: 't', secretPaths: [['h']] }, undefined)).rejects.toMatchObject({
    type: 'SecretsUnavailable',
  });
});
