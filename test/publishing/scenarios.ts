import { call, tokenFor } from '../api/harness';
import { addVersion, createShellTemplate, waitForApprovalGate, waitForPublish, type PublishingEnvironment, type ServerUnderTest } from './support';
import { startPublishing } from './support';
import { publishQueueWorkflowId } from '../../workflows/publishing/contract';

/**
 * Publishing scenarios every server runs: the real 3.1.1 server (test/dolphinscheduler/) and the
 * 3.3+ fake (test/publishing/publish-fake.test.ts), so the fake cannot drift from what the real
 * server does where the two lines agree.
 */
export function publishingScenarios(serverUnderTest: () => Promise<ServerUnderTest>, extra: (env: () => PublishingEnvironment, server: () => ServerUnderTest) => void = () => {}) {
  let env: PublishingEnvironment;
  let server: ServerUnderTest;

  beforeAll(async () => {
    server = await serverUnderTest();
    env = await startPublishing(server);
  }, 120_000);
  afterAll(async () => {
    await env?.close();
  });

  test('a version is published online, a repeat is the same publish, and a new version updates the same definition while online', async () => {
    const { api, dolphin, target } = env;
    const template = await createShellTemplate(api, { extract: 'echo extract', load: 'echo load' });

    const first = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target } });
    expect(first.status).toBe(202);
    expect(first.headers.get('location')).toBe(`/api/v1/publishes/${first.body.id}`);
    const published = await waitForPublish(api, first.body.id);
    expect(published).toMatchObject({ status: 'published', version: 1, target, action: 'publish', requestedBy: 'alice', error: null });
    expect(published.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`)).toEqual([
      'project:succeeded',
      'task-codes:succeeded',
      'definition:succeeded',
      'online:succeeded',
      'schedule:skipped',
    ]);
    const { projectCode, definitionCode, taskCodes } = published.dolphinScheduler;
    expect(Object.keys(taskCodes).sort()).toEqual(['extract', 'load']);

    const onServer = await dolphin.getDefinition(projectCode, definitionCode);
    expect(onServer.definition).toMatchObject({ name: template.name, releaseState: 'ONLINE' });
    expect(onServer.tasks.map((t) => [t.name, t.code, t.taskType]).sort()).toEqual([
      ['extract', taskCodes.extract, 'SHELL'],
      ['load', taskCodes.load, 'SHELL'],
    ]);
    expect(onServer.relations.map((r) => [r.preTaskCode, r.postTaskCode]).sort()).toEqual(
      [
        [0, taskCodes.extract],
        [taskCodes.extract, taskCodes.load],
      ].sort(),
    );

    // The same request again: the same publish, nothing new sent.
    const again = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target } });
    expect([again.status, again.body.id]).toEqual([200, first.body.id]);

    // Version 2 keeps `extract`, drops `load`, adds `report`: the same definition, updated while online.
    const v2 = await addVersion(api, template.id, { extract: 'echo extract v2', report: 'echo report' });
    const second = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/${v2}/publish`, { json: { target } });
    expect(second.status).toBe(202);
    const republished = await waitForPublish(api, second.body.id);
    expect(republished.status).toBe('published');
    expect(republished.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`)).toEqual([
      'project:succeeded',
      'task-codes:succeeded',
      'offline:started',
      'offline:succeeded',
      'definition:succeeded',
      'online:succeeded',
      'schedule:skipped',
    ]);
    expect(republished.dolphinScheduler).toMatchObject({ projectCode, definitionCode });
    expect(republished.dolphinScheduler.taskCodes.extract).toBe(taskCodes.extract);
    expect(republished.dolphinScheduler.definitionVersion).toBeGreaterThan(published.dolphinScheduler.definitionVersion);

    const updated = await dolphin.getDefinition(projectCode, definitionCode);
    expect(updated.definition.releaseState).toBe('ONLINE');
    expect(updated.tasks.map((t) => t.name).sort()).toEqual(['extract', 'report']);
    expect(updated.tasks.find((t) => t.name === 'extract')!.taskParams).toMatchObject({ rawScript: 'echo extract v2' });

    const listed = await call(api, 'GET', `/api/v1/publishes?templateId=${template.id}&target=${target}&status=published&limit=1`);
    expect(listed.body.items.map((p: { id: string }) => p.id)).toEqual([second.body.id]);
    const next = await call(api, 'GET', `/api/v1/publishes?templateId=${template.id}&limit=1&cursor=${listed.body.nextCursor}`);
    expect(next.body.items.map((p: { id: string }) => p.id)).toEqual([first.body.id]);
  });

  test('a schedule is created and brought online; offline takes definition and schedule offline, online brings both back', async () => {
    const { api, dolphin, target } = env;
    const template = await createShellTemplate(api, { nightly: 'echo nightly' });
    const schedule = { crontab: '0 0 3 * * ? *', startTime: '2026-01-01 00:00:00', endTime: '2030-12-31 00:00:00', timezoneId: 'UTC' };
    const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target, schedule } });
    const published = await waitForPublish(api, answer.body.id);
    expect(published).toMatchObject({ status: 'published', schedule: expect.objectContaining({ crontab: schedule.crontab }) });
    const { projectCode, definitionCode, scheduleId } = published.dolphinScheduler;
    expect(scheduleId).toEqual(expect.any(Number));
    const [onServer] = await dolphin.listSchedules(projectCode, definitionCode);
    expect(onServer).toMatchObject({ id: scheduleId, crontab: schedule.crontab, releaseState: 'ONLINE' });

    const offline = await call(api, 'POST', `/api/v1/templates/${template.id}/targets/${target}/offline`);
    expect(offline.status).toBe(202);
    expect(await waitForPublish(api, offline.body.id)).toMatchObject({ status: 'offline', action: 'offline', version: 1 });
    expect((await dolphin.getDefinition(projectCode, definitionCode)).definition.releaseState).toBe('OFFLINE');
    expect((await dolphin.listSchedules(projectCode, definitionCode))[0]!.releaseState).toBe('OFFLINE');

    const online = await call(api, 'POST', `/api/v1/templates/${template.id}/targets/${target}/online`);
    expect(await waitForPublish(api, online.body.id)).toMatchObject({ status: 'online', action: 'online' });
    expect((await dolphin.getDefinition(projectCode, definitionCode)).definition.releaseState).toBe('ONLINE');
    expect((await dolphin.listSchedules(projectCode, definitionCode))[0]!.releaseState).toBe('ONLINE');

    // Re-publishing without a schedule keeps the one that was online.
    const v2 = await addVersion(api, template.id, { nightly: 'echo nightly v2' });
    const again = await waitForPublish(api, (await call(api, 'POST', `/api/v1/templates/${template.id}/versions/${v2}/publish`, { json: { target } })).body.id);
    expect(again.status).toBe('published');
    expect((await dolphin.listSchedules(projectCode, definitionCode))[0]!.releaseState).toBe('ONLINE');
  });

  test('publishes of one template to one target run one after the other, never interleaved', async () => {
    const { api, target } = env;
    const template = await createShellTemplate(api, { a: 'echo a' });
    const v2 = await addVersion(api, template.id, { a: 'echo a2', b: 'echo b' });
    const v3 = await addVersion(api, template.id, { a: 'echo a3' });
    const answers = await Promise.all(
      [1, v2, v3].map((n) => call(api, 'POST', `/api/v1/templates/${template.id}/versions/${n}/publish`, { json: { target } })),
    );
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    const records = await Promise.all(answers.map((a) => waitForPublish(api, a.body.id)));
    expect(records.map((r) => r.status)).toEqual(['published', 'published', 'published']);
    // Ordered by when each took its first step, each started after the one before finished.
    const spans = records
      .map((r) => ({ start: Date.parse(r.steps[0].at), end: Date.parse(r.finishedAt) }))
      .sort((x, y) => x.start - y.start);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
    // One definition for all three.
    expect(new Set(records.map((r) => r.dolphinScheduler.definitionCode)).size).toBe(1);
  });

  test('a publish that requires approval waits for an approver other than the requester; a rejection sends nothing', async () => {
    const { api, target } = env;
    const template = await createShellTemplate(api, { gated: 'echo gated' });
    const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target, requireApproval: true } });
    expect(answer.body.status).toBe('awaiting_approval');
    await waitForApprovalGate(api.temporal, publishQueueWorkflowId(api.tenant.id, template.id, target), answer.body.id);

    const own = await call(api, 'POST', `/api/v1/publishes/${answer.body.id}/approve`);
    expect(own.status).toBe(403);
    const bob = await tokenFor(api, 'bob', ['approver']);
    const approved = await call(api, 'POST', `/api/v1/publishes/${answer.body.id}/approve`, { token: bob, json: { comment: 'looks right' } });
    expect(approved.body).toMatchObject({ decision: 'approved', by: 'bob', comment: 'looks right' });
    const done = await waitForPublish(api, answer.body.id);
    expect(done).toMatchObject({ status: 'published', approvals: [expect.objectContaining({ decision: 'approved', by: 'bob' })] });
    expect(done.steps[0]).toMatchObject({ step: 'approval', status: 'succeeded' });

    const v2 = await addVersion(api, template.id, { gated: 'echo gated v2' });
    const second = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/${v2}/publish`, { json: { target, requireApproval: true } });
    await waitForApprovalGate(api.temporal, publishQueueWorkflowId(api.tenant.id, template.id, target), second.body.id);
    const rejected = await call(api, 'POST', `/api/v1/publishes/${second.body.id}/reject`, { token: bob, json: { comment: 'not tonight' } });
    expect(rejected.status).toBe(200);
    const ended = await waitForPublish(api, second.body.id);
    expect(ended).toMatchObject({ status: 'rejected', dolphinScheduler: { definitionCode: null } });
    expect(ended.steps.map((s: { step: string }) => s.step)).toEqual(['approval']);
    const late = await call(api, 'POST', `/api/v1/publishes/${second.body.id}/approve`, { token: bob });
    expect(late.status).toBe(409);
  });

  test('the target token appears in no answer, publish record or workflow history', async () => {
    const { api, target } = env;
    const template = await createShellTemplate(api, { quiet: 'echo quiet' });
    const answer = await call(api, 'POST', `/api/v1/templates/${template.id}/versions/1/publish`, { json: { target } });
    await waitForPublish(api, answer.body.id);
    const seen = [
      await call(api, 'GET', `/api/v1/dolphinscheduler/targets/${target}`),
      await call(api, 'GET', `/api/v1/publishes/${answer.body.id}`),
      await call(api, 'GET', '/api/v1/publishes'),
    ].map((a) => JSON.stringify(a.body));
    const history = await api.temporal.workflow.getHandle(publishQueueWorkflowId(api.tenant.id, template.id, target)).fetchHistory();
    seen.push(JSON.stringify(history));
    for (const text of seen) expect(text).not.toContain(server.token);
  });

  extra(() => env, () => server);
}
