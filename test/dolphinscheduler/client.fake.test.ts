import { Writable } from 'node:stream';
import { createServer } from 'node:net';
import pino from 'pino';
import {
  createDolphinSchedulerClient,
  DolphinSchedulerAuthError,
  DolphinSchedulerError,
  DolphinSchedulerNetworkError,
  DolphinSchedulerOnlineNotEditableError,
  DolphinSchedulerProtocolError,
  DolphinSchedulerServerError,
  DolphinSchedulerTimeoutError,
  toApplicationFailure,
  type DolphinSchedulerClient,
  type WorkflowDefinitionInput,
} from '../../activities/dolphinscheduler/client';
import { startFakeDolphinScheduler, type FakeDolphinScheduler } from '../support/dolphinscheduler-fake';
import { describeScenarios } from './scenarios';

/**
 * The 3.3+ dialect against the local fake (no 3.3 server can be had here), with the scenarios the
 * real 3.1.1 server runs too; then what the real server cannot be made to show: 5xx, timeouts,
 * answers that are not an envelope, a token refused between two calls.
 */
let fake: FakeDolphinScheduler;
beforeAll(async () => {
  fake = await startFakeDolphinScheduler();
});
afterAll(() => fake.close());

const TENANT = 'etl';
const clientFor = (overrides: Partial<Parameters<typeof createDolphinSchedulerClient>[0]> = {}) =>
  createDolphinSchedulerClient({ baseUrl: fake.url, token: fake.token, dialect: 'v3.3', ...overrides });

describeScenarios('DolphinScheduler client (v3.3) against the fake', () => ({
  client: clientFor(),
  clientWithWrongToken: clientFor({ token: 'not-the-token' }),
  clientOfAnotherUser: clientFor({ token: fake.otherUserToken }),
  tenantCode: TENANT,
}));

describe('DolphinScheduler client (v3.3) on the wire', () => {
  it('speaks the 3.3 renames: workflow paths and fields, tenantCode on start and schedule and not on the definition', async () => {
    const client = clientFor();
    const { project, definition, input } = await onlineDefinition(client);
    await client.createSchedule(project, { definitionCode: definition, startTime: '2026-01-01 00:00:00', endTime: '2099-01-01 00:00:00', crontab: '0 0 3 * * ? *', timezoneId: 'UTC', tenantCode: TENANT });
    await client.startInstance(project, { definitionCode: definition, tenantCode: TENANT, startParams: { day: '2026-11-29' } });

    const create = fake.requests.find((r) => r.method === 'POST' && r.path === `/projects/${project}/workflow-definition`)!;
    expect(create.form).not.toHaveProperty('tenantCode');
    expect(JSON.parse(create.form.taskDefinitionJson!)).toEqual([
      expect.objectContaining({ code: input.tasks[0]!.code, taskType: 'SHELL', taskParams: input.tasks[0]!.taskParams }),
      expect.objectContaining({ code: input.tasks[1]!.code }),
    ]);
    expect(JSON.parse(create.form.taskRelationJson!)).toHaveLength(2);

    const schedule = fake.requests.find((r) => r.method === 'POST' && r.path === `/projects/${project}/schedules`)!;
    expect(schedule.form).toMatchObject({ workflowDefinitionCode: String(definition), tenantCode: TENANT });
    expect(JSON.parse(schedule.form.schedule!)).toEqual({ startTime: '2026-01-01 00:00:00', endTime: '2099-01-01 00:00:00', crontab: '0 0 3 * * ? *', timezoneId: 'UTC' });

    const start = fake.requests.find((r) => r.path === `/projects/${project}/executors/start-workflow-instance`)!;
    expect(start.form).toMatchObject({ workflowDefinitionCode: String(definition), tenantCode: TENANT, scheduleTime: '' });
    expect(JSON.parse(start.form.startParams!)).toEqual({ day: '2026-11-29' });
    expect(fake.requests.filter((r) => r.path.startsWith(`/projects/${project}`)).every((r) => r.token === fake.token)).toBe(true);
  });

  it('answers with the started instance ids (3.3+), which the instance list shows', async () => {
    const client = clientFor();
    const { project, definition } = await onlineDefinition(client);
    const { instanceIds } = await client.startInstance(project, { definitionCode: definition, tenantCode: TENANT });
    expect(instanceIds).toHaveLength(1);
    const page = await client.listInstances(project, { definitionCode: definition, pageNo: 1, pageSize: 10 });
    expect(page.items.map((instance) => instance.id)).toEqual(instanceIds);
  });

  it('pages through a long instance history newest first', async () => {
    const client = clientFor();
    const { project, definition } = await onlineDefinition(client);
    fake.seedInstances(project, definition, 250, 'FAILURE');
    const first = await client.listInstances(project, { definitionCode: definition, pageNo: 1, pageSize: 100 });
    const last = await client.listInstances(project, { definitionCode: definition, pageNo: 3, pageSize: 100 });
    expect(first).toMatchObject({ total: 250, totalPage: 3, pageNo: 1, pageSize: 100 });
    expect(first.items).toHaveLength(100);
    expect(last.items).toHaveLength(50);
    expect(first.items[0]!.startTime! >= first.items[99]!.startTime!).toBe(true);
    expect(new Set([...first.items, ...last.items].map((instance) => instance.state))).toEqual(new Set(['FAILURE']));
  });

  it('a 3.1 client pointed at a 3.3 server fails as a protocol error that names the dialect', async () => {
    const client = clientFor({ dialect: 'v3.1' });
    const { project, definition } = await onlineDefinition(clientFor());
    const failure = await failureOf(client.getDefinition(project, definition));
    expect(failure).toBeInstanceOf(DolphinSchedulerProtocolError);
    expect(failure).toMatchObject({ httpStatus: 404, retryable: false });
    expect(failure.message).toContain('dialect');
  });
});

describe('DolphinScheduler client faults (fake only)', () => {
  beforeEach(() => fake.clearFaults());

  it('a 5xx is a retryable server error, and the next call goes through', async () => {
    const client = clientFor();
    const { project } = await onlineDefinition(client);
    fake.inject({ path: /^\/projects\/\d+$/, status: 503, body: '<html>upstream unavailable</html>' });
    const failure = await failureOf(client.getProject(project));
    expect(failure).toBeInstanceOf(DolphinSchedulerServerError);
    expect(failure).toMatchObject({ httpStatus: 503, retryable: true, serverMessage: '<html>upstream unavailable</html>' });
    expect(await client.getProject(project)).toMatchObject({ code: project });
  });

  it('a 500 with an envelope is judged by its code: a known one keeps its class, an unknown one is a server error', async () => {
    const client = clientFor();
    const { project, definition, input } = await onlineDefinition(client);
    fake.inject({ method: 'PUT', status: 500, body: JSON.stringify({ code: 50008, msg: 'does not allow edit', data: null }) });
    expect(await failureOf(client.updateDefinition(project, definition, input))).toBeInstanceOf(DolphinSchedulerOnlineNotEditableError);
    fake.inject({ method: 'PUT', status: 500, body: JSON.stringify({ code: 10000, msg: 'internal server error', data: null }) });
    expect(await failureOf(client.updateDefinition(project, definition, input))).toMatchObject({ code: 10000, retryable: true, httpStatus: 500 });
  });

  it('an answer slower than the request timeout is a retryable timeout', async () => {
    const client = clientFor({ timeoutMs: 300 });
    const { project } = await onlineDefinition(clientFor());
    fake.inject({ path: /^\/projects\/\d+$/, delayMs: 2_000 });
    const started = Date.now();
    const failure = await failureOf(client.getProject(project));
    expect(failure).toBeInstanceOf(DolphinSchedulerTimeoutError);
    expect(failure.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('a body that is not the envelope is a protocol error, also with HTTP 200', async () => {
    const client = clientFor();
    const { project } = await onlineDefinition(client);
    fake.inject({ path: /^\/projects\/\d+$/, status: 200, body: '<!doctype html><title>Sign in</title>' });
    expect(await failureOf(client.getProject(project))).toMatchObject({ name: 'DolphinSchedulerProtocolError', httpStatus: 200, retryable: false });
    fake.inject({ path: /^\/projects\/\d+$/, status: 200, body: JSON.stringify({ status: 'ok', project: {} }) });
    expect(await failureOf(client.getProject(project))).toBeInstanceOf(DolphinSchedulerProtocolError);
  });

  it('a success envelope without the data the call needs is a protocol error naming the field', async () => {
    const client = clientFor();
    fake.inject({ method: 'POST', path: /^\/projects$/, status: 201, body: JSON.stringify({ code: 0, msg: 'success', data: { name: 'no code' } }) });
    const failure = await failureOf(client.createProject({ name: 'half-answered' }));
    expect(failure).toBeInstanceOf(DolphinSchedulerProtocolError);
    expect(failure.message).toContain('code');
  });

  it('a 401 between two calls of a publish is an authentication failure, and nothing half-made is left', async () => {
    const client = clientFor();
    const project = (await client.createProject({ name: `mid-publish-${Date.now()}` })).code;
    const input = await twoShells(client, project, 'mid-publish');
    fake.inject({ method: 'POST', path: /\/workflow-definition$/, status: 401, body: '' });
    const failure = await failureOf(client.createDefinition(project, input));
    expect(failure).toBeInstanceOf(DolphinSchedulerAuthError);
    expect(failure).toMatchObject({ httpStatus: 401, retryable: false, operation: 'createDefinition' });
    expect(await client.findDefinitionByName(project, input.name)).toBeUndefined();
  });

  it('a refused connection is a retryable network error', async () => {
    const port = await closedPort();
    const client = clientFor({ baseUrl: `http://127.0.0.1:${port}/dolphinscheduler` });
    const failure = await failureOf(client.getProject(1));
    expect(failure).toBeInstanceOf(DolphinSchedulerNetworkError);
    expect(failure.retryable).toBe(true);
  });

  it('the caller’s cancellation rejects with the caller’s reason, not as a DolphinScheduler failure', async () => {
    const client = clientFor();
    fake.inject({ path: /^\/projects\/\d+$/, delayMs: 2_000 });
    const controller = new AbortController();
    const pending = client.getProject(1, { signal: controller.signal });
    const seen = fake.requests.length;
    while (fake.requests.length === seen) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort(new Error('activity cancelled'));
    await expect(pending).rejects.toThrow('activity cancelled');
    await expect(pending).rejects.not.toBeInstanceOf(DolphinSchedulerError);
  });

  it('never puts the token in a log line, an error or a Temporal failure', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
    const client = clientFor({ logger });
    const { project, definition, input } = await onlineDefinition(client);
    const failure = await failureOf(client.updateDefinition(project, definition, input));
    fake.inject({ path: /^\/projects\/\d+$/, status: 502 });
    const serverFailure = await failureOf(client.getProject(project));

    expect(lines.length).toBeGreaterThan(3);
    const everything = [
      ...lines,
      JSON.stringify(failure),
      failure.stack ?? '',
      JSON.stringify(serverFailure),
      JSON.stringify(toApplicationFailure(failure)),
      String(toApplicationFailure(serverFailure).details),
    ].join('\n');
    expect(everything).not.toContain(fake.token);
    expect(toApplicationFailure(failure)).toMatchObject({ type: 'DolphinSchedulerOnlineNotEditableError', nonRetryable: true });
    expect(toApplicationFailure(serverFailure)).toMatchObject({ type: 'DolphinSchedulerServerError', nonRetryable: false });
  });
});

async function twoShells(client: DolphinSchedulerClient, project: number, name: string): Promise<WorkflowDefinitionInput> {
  const [first, second] = (await client.genTaskCodes(project, 2)) as [number, number];
  const shell = (code: number, taskName: string) => ({ code, name: taskName, taskType: 'SHELL', taskParams: { rawScript: `echo ${taskName}`, resourceList: [], localParams: [] } });
  return {
    name,
    tenantCode: TENANT,
    tasks: [shell(first, 'first'), shell(second, 'second')],
    relations: [
      { preTaskCode: 0, postTaskCode: first },
      { preTaskCode: first, postTaskCode: second },
    ],
  };
}

/** A new project with an online two-task definition. */
async function onlineDefinition(client: DolphinSchedulerClient) {
  const project = (await client.createProject({ name: `fake-${Date.now()}-${Math.random().toString(36).slice(2, 8)}` })).code;
  const input = await twoShells(client, project, 'nightly');
  const definition = (await client.createDefinition(project, input)).code;
  await client.releaseDefinition(project, definition, 'ONLINE');
  return { project, definition, input };
}

async function failureOf(promise: Promise<unknown>): Promise<DolphinSchedulerError> {
  const outcome = await promise.then(
    (value) => new Error(`expected a failure, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
  if (!(outcome instanceof DolphinSchedulerError)) throw outcome;
  return outcome;
}

/** A port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
