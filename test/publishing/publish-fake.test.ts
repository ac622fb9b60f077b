import { call } from '../api/harness';
import { startFakeDolphinScheduler, type FakeDolphinScheduler } from '../support/dolphinscheduler-fake';
import { publishingScenarios } from './scenarios';
import { addVersion, createShellTemplate, waitForPublish } from './support';

/** Publishing against the 3.3+ fake: the shared scenarios, and the faults only a fake can show. */

let fake: FakeDolphinScheduler;
afterAll(async () => {
  await fake?.close();
});

publishingScenarios(
  async () => {
    fake = await startFakeDolphinScheduler();
    return { url: fake.url, token: fake.token, dialect: 'v3.3', tenantCode: 'default' };
  },
  (env) => {
    test('a 5xx part-way is retried and the publish completes', async () => {
      const { api, target } = env();
      const template = await createShellTemplate(api, { a: 'echo a' });
      fake.inject({ method: 'POST', path: /\/workflow-definition$/, status: 502, body: '<html>bad gateway</html>', times: 2 });
      const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target } });
      const done = await waitForPublish(api, answer.body.id);
      expect(done.status).toBe('published');
      expect(done.dolphinScheduler.definitionCode).toEqual(expect.any(Number));
    });

    test('a server that keeps failing mid-publish ends consistent: recorded failed, the previous version online again', async () => {
      const { api, target, dolphin } = env();
      const template = await createShellTemplate(api, { a: 'echo a' });
      const first = await waitForPublish(api, (await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target } })).body.id);
      const { projectCode, definitionCode, definitionVersion } = first.dolphinScheduler;
      const v2 = await addVersion(api, template.id, { a: 'echo a2' });

      fake.inject({ method: 'PUT', path: new RegExp(`/workflow-definition/${definitionCode}$`), status: 503, times: 5 }); // as many as the step's attempts
      const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/${v2}/publish`, { json: { target } });
      const failed = await waitForPublish(api, answer.body.id, 120_000);
      expect(failed).toMatchObject({ status: 'failed', error: expect.objectContaining({ type: 'DolphinSchedulerServerError', retryable: true }) });
      expect(failed.error.state).toMatch(/previous version is online again/);
      expect(failed.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`)).toEqual([
        'project:succeeded',
        'task-codes:succeeded',
        'offline:succeeded',
        'compensate:succeeded',
      ]);
      const onServer = await dolphin.getDefinition(projectCode, definitionCode);
      expect(onServer.definition).toMatchObject({ releaseState: 'ONLINE', version: definitionVersion });
      expect(onServer.tasks[0]!.taskParams).toMatchObject({ rawScript: 'echo a' });

      // Publishing again once the server recovers brings the version online.
      const retried = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/${v2}/publish`, { json: { target } });
      expect(retried.status).toBe(202);
      expect((await waitForPublish(api, retried.body.id)).status).toBe('published');
    }, 150_000);

    test('a token revoked mid-publish fails it at once, not retried', async () => {
      const { api, target } = env();
      const template = await createShellTemplate(api, { a: 'echo a' });
      fake.inject({ method: 'GET', path: /gen-task-codes/, status: 401, times: 1 });
      const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target } });
      const failed = await waitForPublish(api, answer.body.id);
      expect(failed).toMatchObject({ status: 'failed', error: expect.objectContaining({ type: 'DolphinSchedulerAuthError', retryable: false }) });
      expect(failed.dolphinScheduler.definitionCode).toBeNull();
    });
  },
);
