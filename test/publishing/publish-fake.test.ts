import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { createPublishActivities, type PublishNotice } from '../../activities/dolphinscheduler/publish-activities';
import { createLogger } from '../../apps/common/logger';
import { publishQueueWorkflowId } from '../../workflows/publishing/contract';
import { call, tokenFor } from '../api/harness';
import { toHistoryFile } from '../replay/history-file';
import { workflowBundle } from '../support/worker';
import { startFakeDolphinScheduler, type FakeDolphinScheduler } from '../support/dolphinscheduler-fake';
import { publishingScenarios } from './scenarios';
import { addVersion, createShellTemplate, waitForApprovalGate, waitForPublish } from './support';

/** Publishing against the 3.3+ fake: the shared scenarios, and the faults only a fake can show. */

let fake: FakeDolphinScheduler;
afterAll(async () => {
  await fake?.close();
});

publishingScenarios(
  async () => {
    fake = await startFakeDolphinScheduler();
    return { url: fake.url, token: fake.token, dialect: 'v3.3', tenantCode: 'default', requestTimeoutMs: 3_000 };
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
        'offline:started',
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

    test('a failed publish whose notice could not be started is retried into telling it, without compensating or recording twice', async () => {
      const { api, target } = env();
      const template = await createShellTemplate(api, { a: 'echo a' });
      const first = await waitForPublish(api, (await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target } })).body.id);
      const v2 = await addVersion(api, template.id, { a: 'echo a2' });
      fake.inject({
        method: 'PUT',
        path: new RegExp(`/workflow-definition/${first.dolphinScheduler.definitionCode}$`),
        body: JSON.stringify({ code: 10107, msg: 'update workflow definition error', data: null, success: false, failed: true }),
      });
      const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/${v2}/publish`, { json: { target } });
      const failed = await waitForPublish(api, answer.body.id);
      expect(failed.steps.map((s: { step: string }) => s.step)).toContain('compensate');

      // The activity the workflow ran, again, as Temporal retries it after the notice's start was
      // refused (Temporal itself cannot be made to refuse a start here: the starter stands in for it).
      const started: PublishNotice[] = [];
      let refuseNext = true;
      const activities = createPublishActivities({
        logger: createLogger('test', 'silent'),
        prisma: api.prisma,
        startPublishNotice: async (notice) => {
          if (refuseNext) {
            refuseNext = false;
            throw new Error('the notice could not be started');
          }
          started.push(notice);
        },
      });
      const failure = { type: failed.error.type, message: failed.error.message };
      await expect(activities.publishFailed(answer.body.id, failure)).rejects.toThrow('the notice could not be started');
      await activities.publishFailed(answer.body.id, failure);
      expect(started).toEqual([
        expect.objectContaining({ kind: 'publish_failed', key: `publish:${answer.body.id}:publish_failed`, error: { message: failure.message, state: failed.error.state } }),
      ]);
      const after = await waitForPublish(api, answer.body.id);
      expect({ steps: after.steps, error: after.error, finishedAt: after.finishedAt }).toEqual({ steps: failed.steps, error: failed.error, finishedAt: failed.finishedAt });
    });

    test('the publish queue replays its own history: an approved publish, a failed one, and an offline', async () => {
      const { api, target } = env();
      const template = await createShellTemplate(api, { a: 'echo a' });
      const workflowId = publishQueueWorkflowId(api.tenant.id, template.id, target);
      const gated = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target, requireApproval: true } });
      await waitForApprovalGate(api.temporal, workflowId, gated.body.id);
      const bob = await tokenFor(api, 'bob', ['approver']);
      expect((await call(api, 'POST', `/api/v1/publishes/${gated.body.id}/approve`, { token: bob })).status).toBe(200);
      await waitForPublish(api, gated.body.id);
      fake.inject({ method: 'GET', path: /gen-task-codes/, status: 401, times: 1 });
      const v2 = await addVersion(api, template.id, { a: 'echo a2', b: 'echo b' });
      const failing = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/${v2}/publish`, { json: { target } });
      const offline = await call(api, 'POST', `/api/v1/templates/${template.id}/targets/${target}/offline`);
      const records = await Promise.all([gated, failing, offline].map((a) => waitForPublish(api, a.body.id)));
      expect(records.map((r) => r.status)).toEqual(['published', 'failed', 'offline']);

      const history = await api.temporal.workflow.getHandle(workflowId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
      // `RECORD_HISTORIES=1` keeps it for test/replay, which replays it against every later change.
      const file = join(__dirname, '..', 'replay', 'histories', 'publishQueue.json');
      if (process.env.RECORD_HISTORIES === '1') writeFileSync(file, toHistoryFile(history));
    });

    test('a definition with the template’s name already in the project (an earlier attempt whose answer was lost) is adopted, not duplicated', async () => {
      const { api, target, dolphin } = env();
      const template = await createShellTemplate(api, { a: 'echo a' });
      const { projectName } = (await call(api, 'GET', `/api/v1/dolphinscheduler/targets/${target}`)).body;
      const project = (await dolphin.findProjectByName(projectName)) ?? (await dolphin.createProject({ name: projectName }));
      const [code] = await dolphin.genTaskCodes(project.code, 1);
      const earlier = await dolphin.createDefinition(project.code, {
        name: template.name,
        tenantCode: 'default',
        tasks: [{ code: code!, name: 'a', taskType: 'SHELL', taskParams: { rawScript: 'echo earlier', resourceList: [], localParams: [] } }],
        relations: [{ preTaskCode: 0, postTaskCode: code! }],
      });

      const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target } });
      const done = await waitForPublish(api, answer.body.id);
      expect(done.status).toBe('published');
      expect(done.steps.find((s: { step: string }) => s.step === 'definition').detail).toMatchObject({ created: false });
      // The same definition, and the task named after the step kept its code.
      expect(done.dolphinScheduler).toMatchObject({ definitionCode: earlier.code, taskCodes: { a: code } });
      const onServer = await dolphin.getDefinition(project.code, earlier.code);
      expect(onServer.tasks.map((t) => [t.code, t.taskParams.rawScript])).toEqual([[code, 'echo a']]);
    });

    test('a target pointing at an address the egress policy denies is never reached', async () => {
      const { api } = env();
      const written = await call(api, 'PUT', '/api/v1/dolphinscheduler/targets/metadata', {
        json: { baseUrl: 'http://169.254.169.254/dolphinscheduler', tokenSecret: 'DS_TOKEN', projectName: 'p', tenantCode: 'default', dialect: 'v3.3' },
      });
      expect(written.status).toBe(201);
      const template = await createShellTemplate(api, { a: 'echo a' });
      const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target: 'metadata' } });
      const failed = await waitForPublish(api, answer.body.id, 60_000);
      expect(failed).toMatchObject({ status: 'failed', error: expect.objectContaining({ type: 'DolphinSchedulerNetworkError' }), steps: [] });
      expect(failed.error.message).toMatch(/egress/i);
    }, 90_000);

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
