import { randomUUID } from 'node:crypto';
import { RUN_WORKFLOW_TYPE } from '../../workflows/contract';
import { TemplateIdKey } from '../../workflows/search-attributes';
import { call, createTemplate, expectProblem, startApi, type Api } from './harness';

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});

test('archiving is refused with 409 while a run of the template is active, and allowed after', async () => {
  const template = await createTemplate(api);
  // Nobody polls this task queue, so the run stays Running until terminated.
  const handle = await api.temporal.workflow.start(RUN_WORKFLOW_TYPE, {
    taskQueue: `unpolled-${randomUUID()}`,
    workflowId: `archive-test-${randomUUID()}`,
    args: [],
    typedSearchAttributes: [{ key: TemplateIdKey, value: template.id }],
  });
  try {
    await waitForVisibleRuns(template.id, 1);
    const refused = await call(api, 'DELETE', `/api/v1/templates/${template.id}`);
    expectProblem(refused, 409);
    expect(refused.body).toMatchObject({ activeRuns: 1 });
    expect((await call(api, 'GET', `/api/v1/templates/${template.id}`)).body.archived).toBe(false);
  } finally {
    await handle.terminate('test finished');
  }
  await waitForVisibleRuns(template.id, 0);
  expect((await call(api, 'DELETE', `/api/v1/templates/${template.id}`)).status).toBe(204);
});

/** Visibility is eventually consistent: poll until it counts what the test expects. */
async function waitForVisibleRuns(templateId: string, expected: number): Promise<void> {
  const query = `TemplateId = '${templateId}' AND ExecutionStatus = 'Running'`;
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await api.temporal.workflow.count(query)).count === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`visibility never counted ${expected} running workflow(s) for ${templateId}`);
}
