import { randomUUID } from 'node:crypto';
import {
  DolphinSchedulerAuthError,
  DolphinSchedulerError,
  DolphinSchedulerInvalidDagError,
  DolphinSchedulerNameExistsError,
  DolphinSchedulerNotFoundError,
  DolphinSchedulerNotOnlineError,
  DolphinSchedulerOnlineNotEditableError,
  DolphinSchedulerPermissionError,
  DolphinSchedulerStateConflictError,
  FINISHED_INSTANCE_STATES,
  type DolphinSchedulerClient,
  type Project,
  type ScheduleUpdate,
  type WorkflowDefinitionInput,
  type WorkflowInstance,
} from '../../activities/dolphinscheduler/client';

/**
 * One scenario suite, run against the real 3.1.1 server (real-server.test.ts, dialect v3.1) and
 * the 3.3+ fake (fake.test.ts, dialect v3.3): whatever the fake answers here, the real server
 * answers too, which keeps the fake honest where the two lines agree.
 */
export interface ScenarioTarget {
  client: DolphinSchedulerClient;
  /** The same server with a token it does not know. */
  clientWithWrongToken: DolphinSchedulerClient;
  /** The same server as a general user who was granted nothing. */
  clientOfAnotherUser: DolphinSchedulerClient;
  tenantCode: string;
}

/** A real instance of two short shell tasks takes 3–5 s; the machine may be busy. */
const RUN_TIMEOUT_MS = 90_000;

export function describeScenarios(name: string, target: () => ScenarioTarget): void {
  describe(name, () => {
    let client: DolphinSchedulerClient;
    let tenantCode: string;
    let project: Project;

    beforeAll(async () => {
      ({ client, tenantCode } = target());
      project = await client.createProject({ name: unique('flowpilot-scenarios'), description: 'client scenarios' });
    });

    /** Two shell tasks, `first` then `second`, with fresh codes from the server. */
    async function twoShellTasks(scripts: [string, string] = ['echo first', 'echo second']): Promise<WorkflowDefinitionInput> {
      const [first, second] = (await client.genTaskCodes(project.code, 2)) as [number, number];
      return {
        name: unique('two-shells'),
        description: 'two shell tasks',
        tenantCode,
        tasks: [shellTask(first, 'first', scripts[0]), shellTask(second, 'second', scripts[1])],
        relations: [
          { preTaskCode: 0, postTaskCode: first },
          { preTaskCode: first, postTaskCode: second },
        ],
        locations: [
          { taskCode: first, x: 100, y: 100 },
          { taskCode: second, x: 300, y: 100 },
        ],
      };
    }

    it('creates a project, finds it by name and by code, and refuses its name a second time', async () => {
      expect(await client.findProjectByName(project.name)).toMatchObject({ code: project.code, name: project.name });
      expect(await client.getProject(project.code)).toMatchObject({ code: project.code, name: project.name });
      expect(await client.findProjectByName(unique('no-such-project'))).toBeUndefined();
      await expectFailure(client.createProject({ name: project.name }), DolphinSchedulerNameExistsError, 10019);
    });

    it('hands out distinct task codes, also beyond the server’s 100 per call', async () => {
      const codes = await client.genTaskCodes(project.code, 150);
      expect(codes).toHaveLength(150);
      expect(new Set(codes).size).toBe(150);
    });

    it('creates a definition of two shell tasks with their relations, OFFLINE, and reads it back by code and by name', async () => {
      const input = await twoShellTasks();
      const created = await client.createDefinition(project.code, input);
      expect(created).toMatchObject({ name: input.name, projectCode: project.code });
      expect(created.code).toBeGreaterThan(0);

      const dag = await client.getDefinition(project.code, created.code);
      expect(dag.definition).toMatchObject({ code: created.code, name: input.name, releaseState: 'OFFLINE' });
      expect(dag.tasks.map((task) => [task.code, task.name, task.taskType, task.taskParams.rawScript]).sort()).toEqual(
        input.tasks.map((task) => [task.code, task.name, 'SHELL', task.taskParams.rawScript]).sort(),
      );
      expect(dag.relations.map((relation) => [relation.preTaskCode, relation.postTaskCode]).sort()).toEqual(
        input.relations.map((relation) => [relation.preTaskCode, relation.postTaskCode]).sort(),
      );

      expect((await client.findDefinitionByName(project.code, input.name))?.definition.code).toBe(created.code);
      expect(await client.findDefinitionByName(project.code, unique('no-such-definition'))).toBeUndefined();
    });

    it('refuses a definition name that exists in the project', async () => {
      const input = await twoShellTasks();
      await client.createDefinition(project.code, input);
      const sameName = { ...(await twoShellTasks()), name: input.name };
      await expectFailure(client.createDefinition(project.code, sameName), DolphinSchedulerNameExistsError, 10168);
    });

    it('updates an offline definition in place, keeping its task codes, and lists its versions', async () => {
      const input = await twoShellTasks();
      const created = await client.createDefinition(project.code, input);
      const renamed = { ...input, name: unique('renamed'), description: 'edited offline' };
      renamed.tasks = input.tasks.map((task) => ({ ...task, taskParams: { ...task.taskParams, rawScript: `${String(task.taskParams.rawScript)} again` } }));
      const updated = await client.updateDefinition(project.code, created.code, renamed);
      expect(updated).toMatchObject({ code: created.code, name: renamed.name, description: 'edited offline' });

      const dag = await client.getDefinition(project.code, created.code);
      expect(dag.definition.version).toBeGreaterThanOrEqual(2);
      expect(dag.tasks.map((task) => task.code).sort()).toEqual(input.tasks.map((task) => task.code).sort());
      expect(dag.tasks.map((task) => task.taskParams.rawScript).sort()).toEqual(['echo first again', 'echo second again']);

      const versions = await client.listDefinitionVersions(project.code, created.code);
      expect(versions.total).toBeGreaterThanOrEqual(2);
      expect(versions.items.map((version) => version.version)).toContain(dag.definition.version);
    });

    it('refuses to edit or delete an online definition and to start an offline one', async () => {
      const input = await twoShellTasks();
      const created = await client.createDefinition(project.code, input);
      await expectFailure(client.startInstance(project.code, { definitionCode: created.code, tenantCode }), DolphinSchedulerNotOnlineError, 50004);

      await client.releaseDefinition(project.code, created.code, 'ONLINE');
      expect((await client.getDefinition(project.code, created.code)).definition.releaseState).toBe('ONLINE');
      await expectFailure(client.updateDefinition(project.code, created.code, input), DolphinSchedulerOnlineNotEditableError, 50008);
      await expectFailure(client.deleteDefinition(project.code, created.code), DolphinSchedulerStateConflictError, 50021);

      // The publish cycle: offline, update, online.
      await client.releaseDefinition(project.code, created.code, 'OFFLINE');
      await client.updateDefinition(project.code, created.code, { ...input, description: 'republished' });
      await client.releaseDefinition(project.code, created.code, 'ONLINE');
      expect((await client.getDefinition(project.code, created.code)).definition).toMatchObject({
        releaseState: 'ONLINE',
        description: 'republished',
      });
    });

    it(
      'runs an online definition to SUCCESS and lists the instance and its tasks',
      async () => {
        const input = await twoShellTasks();
        const created = await client.createDefinition(project.code, input);
        await client.releaseDefinition(project.code, created.code, 'ONLINE');
        const started = await client.startInstance(project.code, { definitionCode: created.code, tenantCode });

        const finished = await waitForInstance(client, project.code, created.code, (instance) => FINISHED_INSTANCE_STATES.includes(instance.state));
        expect(finished.state).toBe('SUCCESS');
        if (started.instanceIds.length) expect(started.instanceIds).toContain(finished.id);
        expect(finished).toMatchObject({ definitionCode: created.code });
        expect(finished.startTime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        expect(finished.endTime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        expect(await client.getInstance(project.code, finished.id)).toMatchObject({ id: finished.id, state: 'SUCCESS' });

        const tasks = await client.getInstanceTasks(project.code, finished.id);
        expect(tasks.map((task) => [task.taskCode, task.state]).sort()).toEqual(input.tasks.map((task) => [task.code, 'SUCCESS']).sort());
      },
      RUN_TIMEOUT_MS + 10_000,
    );

    it(
      'stops a running instance',
      async () => {
        const input = await twoShellTasks(['sleep 120', 'echo never']);
        const created = await client.createDefinition(project.code, input);
        await client.releaseDefinition(project.code, created.code, 'ONLINE');
        await client.startInstance(project.code, { definitionCode: created.code, tenantCode });
        const running = await waitForInstance(client, project.code, created.code, (instance) => instance.state === 'RUNNING_EXECUTION');

        await client.executeInstance(project.code, running.id, 'STOP');
        const stopped = await waitForInstance(client, project.code, created.code, (instance) => FINISHED_INSTANCE_STATES.includes(instance.state));
        expect(stopped).toMatchObject({ id: running.id, state: 'STOP' });
        await expectFailure(client.executeInstance(project.code, running.id, 'STOP'), DolphinSchedulerStateConflictError, 50006);
      },
      2 * RUN_TIMEOUT_MS + 10_000,
    );

    it('schedules an online definition: create, list, online, offline, update, delete, one per definition', async () => {
      const created = await client.createDefinition(project.code, await twoShellTasks());
      const daily: ScheduleUpdate = {
        startTime: '2026-01-01 00:00:00',
        endTime: '2099-12-31 00:00:00',
        crontab: '0 0 3 * * ? *',
        timezoneId: 'UTC',
        tenantCode,
      };
      await expectFailure(client.createSchedule(project.code, { definitionCode: created.code, ...daily }), DolphinSchedulerNotOnlineError, 50004);
      await client.releaseDefinition(project.code, created.code, 'ONLINE');

      const schedule = await client.createSchedule(project.code, { definitionCode: created.code, ...daily });
      expect(schedule).toMatchObject({ definitionCode: created.code, crontab: daily.crontab, releaseState: 'OFFLINE' });
      await expectFailure(
        client.createSchedule(project.code, { definitionCode: created.code, ...daily, crontab: '0 0 4 * * ? *' }),
        DolphinSchedulerStateConflictError,
        10204,
      );
      expect(await client.listSchedules(project.code, created.code)).toEqual([expect.objectContaining({ id: schedule.id })]);

      await client.onlineSchedule(project.code, schedule.id);
      expect(await client.listSchedules(project.code, created.code)).toEqual([expect.objectContaining({ releaseState: 'ONLINE' })]);
      await expectFailure(client.updateSchedule(project.code, schedule.id, { ...daily, crontab: '0 0 5 * * ? *' }), DolphinSchedulerStateConflictError, 10023);
      await expectFailure(client.deleteSchedule(project.code, schedule.id), DolphinSchedulerStateConflictError, 50023);

      await client.offlineSchedule(project.code, schedule.id);
      await client.updateSchedule(project.code, schedule.id, { ...daily, crontab: '0 0 5 * * ? *' });
      expect(await client.listSchedules(project.code, created.code)).toEqual([
        expect.objectContaining({ id: schedule.id, crontab: '0 0 5 * * ? *', releaseState: 'OFFLINE' }),
      ]);
      await client.deleteSchedule(project.code, schedule.id);
      expect(await client.listSchedules(project.code, created.code)).toEqual([]);
    });

    it('takes a definition’s schedule offline with the definition', async () => {
      const created = await client.createDefinition(project.code, await twoShellTasks());
      await client.releaseDefinition(project.code, created.code, 'ONLINE');
      const schedule = await client.createSchedule(project.code, {
        definitionCode: created.code,
        startTime: '2026-01-01 00:00:00',
        endTime: '2099-12-31 00:00:00',
        crontab: '0 30 2 * * ? *',
        timezoneId: 'UTC',
        tenantCode,
      });
      await client.onlineSchedule(project.code, schedule.id);
      await client.releaseDefinition(project.code, created.code, 'OFFLINE');
      expect(await client.listSchedules(project.code, created.code)).toEqual([expect.objectContaining({ releaseState: 'OFFLINE' })]);
      await expectFailure(client.onlineSchedule(project.code, schedule.id), DolphinSchedulerNotOnlineError, 50004);
    });

    it('deletes an offline definition, after which it is not found', async () => {
      const created = await client.createDefinition(project.code, await twoShellTasks());
      await client.deleteDefinition(project.code, created.code);
      await expectFailure(client.getDefinition(project.code, created.code), DolphinSchedulerNotFoundError, 50003);
    });

    it('answers a missing definition, instance or project as not found', async () => {
      await expectFailure(client.getDefinition(project.code, 123), DolphinSchedulerNotFoundError, 50003);
      await expectFailure(client.releaseDefinition(project.code, 123, 'ONLINE'), DolphinSchedulerNotFoundError, 50003);
      await expectFailure(client.getInstance(project.code, 987_654), DolphinSchedulerNotFoundError, 50001);
      await expectFailure(client.executeInstance(project.code, 987_654, 'STOP'), DolphinSchedulerNotFoundError, 50001);
      await expectFailure(client.getProject(123), DolphinSchedulerNotFoundError);
    });

    it('refuses a DAG with a cycle, a relation to an unknown task, or an empty shell script', async () => {
      const input = await twoShellTasks();
      const [first, second] = input.tasks.map((task) => task.code) as [number, number];
      await expectFailure(
        client.createDefinition(project.code, { ...input, relations: [...input.relations, { preTaskCode: second, postTaskCode: first }] }),
        DolphinSchedulerInvalidDagError,
        50019,
      );
      await expectFailure(
        client.createDefinition(project.code, { ...input, relations: [{ preTaskCode: 0, postTaskCode: first }, { preTaskCode: first, postTaskCode: 424_242 }] }),
        DolphinSchedulerInvalidDagError,
        50030,
      );
      await expectFailure(
        client.createDefinition(project.code, { ...input, tasks: [shellTask(first, 'first', ''), input.tasks[1]!] }),
        DolphinSchedulerInvalidDagError,
        50020,
      );
      expect(await client.findDefinitionByName(project.code, input.name)).toBeUndefined();
    });

    it('refuses a user without permission on the project, not retried', async () => {
      const created = await client.createDefinition(project.code, await twoShellTasks());
      const stranger = target().clientOfAnotherUser;
      await expectFailure(stranger.getProject(project.code), DolphinSchedulerPermissionError, 30002);
      await expectFailure(stranger.getDefinition(project.code, created.code), DolphinSchedulerPermissionError, 30002);
      const failure = await expectFailure(stranger.createDefinition(project.code, await twoShellTasks()), DolphinSchedulerPermissionError, 30002);
      expect(failure.retryable).toBe(false);
      expect(await stranger.findProjectByName(project.name)).toBeUndefined();
    });

    it('answers a token it does not know with an authentication failure that is not retried', async () => {
      const failure = await expectFailure(target().clientWithWrongToken.getProject(project.code), DolphinSchedulerAuthError);
      expect(failure).toMatchObject({ httpStatus: 401, retryable: false });
    });
  });
}

function shellTask(code: number, name: string, rawScript: string) {
  return { code, name, taskType: 'SHELL', taskParams: { rawScript, resourceList: [], localParams: [] } };
}

function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** The newest instance of the definition once `done` holds for it. */
async function waitForInstance(
  client: DolphinSchedulerClient,
  projectCode: number,
  definitionCode: number,
  done: (instance: WorkflowInstance) => boolean,
): Promise<WorkflowInstance> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let last: WorkflowInstance | undefined;
  while (Date.now() < deadline) {
    const page = await client.listInstances(projectCode, { definitionCode, pageNo: 1, pageSize: 10 });
    last = page.items[0];
    if (last && done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`instance of ${definitionCode} did not get there in time; last seen: ${JSON.stringify(last)}`);
}

/** The failure, asserted to be of the class (and code) given. */
async function expectFailure<T extends DolphinSchedulerError>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
  code?: number,
): Promise<T> {
  const failure = await promise.then(
    (value) => {
      throw new Error(`expected ${type.name}, got a success: ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(type);
  if (code !== undefined) expect((failure as T).code).toBe(code);
  return failure as T;
}
