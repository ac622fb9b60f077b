import { call, uniqueName } from '../api/harness';
import { publishingScenarios } from '../publishing/scenarios';
import { waitForPublish } from '../publishing/support';
import { json, startHttpServer } from '../workflow/support';

/**
 * Publishing end to end against a real DolphinScheduler: the 3.1.1 standalone server the global
 * setup starts (or reuses), or the one DOLPHINSCHEDULER_URL, _TOKEN and _TENANT name, spoken to in
 * DOLPHINSCHEDULER_DIALECT (v3.1 unless set).
 */
publishingScenarios(
  async () => {
    const { DOLPHINSCHEDULER_URL: url, DOLPHINSCHEDULER_TOKEN: token, DOLPHINSCHEDULER_TENANT: tenantCode } = process.env;
    if (!url || !token || !tenantCode) {
      throw new Error('DOLPHINSCHEDULER_URL, _TOKEN and _TENANT are unset: test/support/global-setup.ts provides them for test/dolphinscheduler/');
    }
    const dialect = process.env.DOLPHINSCHEDULER_DIALECT === 'v3.3' ? 'v3.3' : 'v3.1';
    return { url, token, dialect, tenantCode };
  },
  (env) => {
    test('a published definition runs on the server: SHELL, HTTP and a CONDITIONS task routing on a failure', async () => {
      const receiver = await startHttpServer({ '/paged': (_request, response) => json(response, 200, { ok: true }) });
      try {
        const { api, dolphin, target } = env();
        const spec = {
          steps: [
            { id: 'load', type: 'shell', with: { script: 'echo loading; exit 3' }, onError: 'continue', retry: { maxAttempts: 1 } },
            { id: 'report', type: 'shell', with: { script: 'echo report' }, dependsOn: ['load'], when: 'steps.load.status = "succeeded"' },
            {
              id: 'page',
              type: 'http',
              dependsOn: ['load'],
              when: 'steps.load.status = "failed"',
              retry: { maxAttempts: 1 },
              with: { method: 'POST', url: receiver.url('/paged'), headers: { 'X-Source': 'dolphinscheduler' }, body: { reason: 'load failed' } },
            },
          ],
        };
        const template = await call(api, 'POST', '/api/v1/templates', { json: { name: uniqueName('branching'), spec } });
        expect(template.status).toBe(201);
        const published = await waitForPublish(api, (await call(api, 'POST', `/api/v1/templates/${template.body.id}/versions/1/publish`, { json: { target } })).body.id);
        expect(published.status).toBe('published');
        const { projectCode, definitionCode, taskCodes } = published.dolphinScheduler;

        await dolphin.startInstance(projectCode, { definitionCode, failureStrategy: 'CONTINUE' });
        const deadline = Date.now() + 60_000;
        let instance;
        for (;;) {
          [instance] = (await dolphin.listInstances(projectCode, { definitionCode, pageNo: 1, pageSize: 1 })).items;
          if (instance && ['SUCCESS', 'FAILURE', 'STOP'].includes(instance.state)) break;
          if (Date.now() > deadline) throw new Error(`the instance is still ${instance?.state}`);
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        const tasks = await dolphin.getInstanceTasks(projectCode, instance.id);
        const stateOf = (key: string) => tasks.find((t) => t.taskCode === taskCodes[key])?.state;
        expect({ load: stateOf('load'), page: stateOf('page'), report: stateOf('report') }).toEqual({ load: 'FAILURE', page: 'SUCCESS', report: undefined });
        expect(receiver.requests).toEqual([
          expect.objectContaining({ method: 'POST', path: '/paged', headers: expect.objectContaining({ 'x-source': 'dolphinscheduler' }) }),
        ]);
        expect(JSON.parse(receiver.requests[0]!.body)).toEqual({ reason: 'load failed' });
      } finally {
        await receiver.close();
      }
    }, 90_000);
  },
);
