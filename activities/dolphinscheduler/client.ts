import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { DIALECTS } from './dialects';
import { decode, decoders } from './decode';
import { DolphinSchedulerStateConflictError } from './errors';
import { call, type CallSpec, type Fields } from './transport';
import type {
  CallOptions,
  DolphinSchedulerDialect,
  ExecuteType,
  InstanceQuery,
  Page,
  PageQuery,
  Project,
  ReleaseState,
  RunSettings,
  Schedule,
  ScheduleInput,
  ScheduleUpdate,
  StartInstanceInput,
  StartInstanceResult,
  TaskInstance,
  WorkflowDefinition,
  WorkflowDefinitionDag,
  WorkflowDefinitionInput,
  WorkflowDefinitionUpdate,
  WorkflowDefinitionVersion,
  WorkflowInstance,
} from './types';

export * from './types';
export * from './errors';

export interface DolphinSchedulerClientOptions {
  /** The API's root including its context path, e.g. `http://ds.example:12345/dolphinscheduler`. */
  baseUrl: string;
  /** An access token (sent in the `token` header; never logged, never in an error). */
  token: string;
  dialect: DolphinSchedulerDialect;
  /** The longest a call may take, connection to last byte. @default 30000 */
  timeoutMs?: number;
  /** The connection pool to use (e.g. one per target, or the worker's egress-guarded agent). */
  dispatcher?: Dispatcher;
  /** Calls are logged at debug, failures at info, without the token. */
  logger?: Logger;
}

/**
 * A typed DolphinScheduler client for one target. Every method resolves to the answer's data, or
 * rejects with a DolphinSchedulerError subclass (see errors.ts) that says whether retrying may help.
 */
export interface DolphinSchedulerClient {
  readonly dialect: DolphinSchedulerDialect;

  createProject(input: { name: string; description?: string }, options?: CallOptions): Promise<Project>;
  getProject(projectCode: number, options?: CallOptions): Promise<Project>;
  /** The project with exactly this name, or undefined. */
  findProjectByName(name: string, options?: CallOptions): Promise<Project | undefined>;

  /** `count` new task codes (any number: asked for in batches of the server's 100). */
  genTaskCodes(projectCode: number, count: number, options?: CallOptions): Promise<number[]>;

  /** Created OFFLINE; its `code` addresses it from then on. */
  createDefinition(projectCode: number, input: WorkflowDefinitionInput, options?: CallOptions): Promise<WorkflowDefinition>;
  /**
   * Replaces name, tasks, relations and layout; refused while ONLINE (DolphinSchedulerOnlineNotEditableError).
   * 3.1.1 answers with the version from before the update: `getDefinition` has the new one.
   */
  updateDefinition(
    projectCode: number,
    definitionCode: number,
    input: WorkflowDefinitionUpdate,
    options?: CallOptions,
  ): Promise<WorkflowDefinition>;
  getDefinition(projectCode: number, definitionCode: number, options?: CallOptions): Promise<WorkflowDefinitionDag>;
  /** The definition with exactly this name in the project, or undefined. */
  findDefinitionByName(projectCode: number, name: string, options?: CallOptions): Promise<WorkflowDefinitionDag | undefined>;
  /** ONLINE checks the DAG; OFFLINE also takes its schedule offline. */
  releaseDefinition(projectCode: number, definitionCode: number, state: ReleaseState, options?: CallOptions): Promise<void>;
  /** Needs OFFLINE (otherwise DolphinSchedulerStateConflictError). */
  deleteDefinition(projectCode: number, definitionCode: number, options?: CallOptions): Promise<void>;
  listDefinitionVersions(
    projectCode: number,
    definitionCode: number,
    page?: PageQuery,
    options?: CallOptions,
  ): Promise<Page<WorkflowDefinitionVersion>>;

  /** The definition must be ONLINE; the schedule is created OFFLINE. */
  createSchedule(projectCode: number, input: ScheduleInput, options?: CallOptions): Promise<Schedule>;
  /** Refused while the schedule is online. */
  updateSchedule(projectCode: number, scheduleId: number, input: ScheduleUpdate, options?: CallOptions): Promise<void>;
  onlineSchedule(projectCode: number, scheduleId: number, options?: CallOptions): Promise<void>;
  offlineSchedule(projectCode: number, scheduleId: number, options?: CallOptions): Promise<void>;
  /** The definition's schedules (3.2+ allow at most one). */
  listSchedules(projectCode: number, definitionCode: number, options?: CallOptions): Promise<Schedule[]>;
  deleteSchedule(projectCode: number, scheduleId: number, options?: CallOptions): Promise<void>;

  /** The definition must be ONLINE (otherwise DolphinSchedulerNotOnlineError). */
  startInstance(projectCode: number, input: StartInstanceInput, options?: CallOptions): Promise<StartInstanceResult>;
  /** Newest first. */
  listInstances(projectCode: number, query: InstanceQuery, options?: CallOptions): Promise<Page<WorkflowInstance>>;
  getInstance(projectCode: number, instanceId: number, options?: CallOptions): Promise<WorkflowInstance>;
  getInstanceTasks(projectCode: number, instanceId: number, options?: CallOptions): Promise<TaskInstance[]>;
  /** STOP, PAUSE, REPEAT_RUNNING...; a state that forbids it is DolphinSchedulerStateConflictError. */
  executeInstance(projectCode: number, instanceId: number, executeType: ExecuteType, options?: CallOptions): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** 3.2+'s stand-in for "the user the worker runs as". */
const DEFAULT_TENANT = 'default';
/** The server's cap on one gen-task-codes call. */
const TASK_CODES_PER_CALL = 100;
/** 3.2+'s code for a second schedule of one definition, which the client gives on 3.1 as well. */
const ALREADY_SCHEDULED = 10204;
/** Large pages for the lookups that filter by exact name. */
const LOOKUP_PAGE_SIZE = 100;

export function createDolphinSchedulerClient(options: DolphinSchedulerClientOptions): DolphinSchedulerClient {
  const dialect = DIALECTS[options.dialect];
  if (!dialect) throw new TypeError(`unknown DolphinScheduler dialect ${JSON.stringify(options.dialect)}`);
  const transport = {
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    token: options.token,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    dispatcher: options.dispatcher,
    logger: options.logger,
  };

  /** Calls for effect: the answer's data carries nothing the caller needs. */
  async function send(spec: CallSpec): Promise<void> {
    await call(transport, spec);
  }

  /** The call's data read by `schema`; an answer that does not fit is a protocol error naming the call. */
  async function request<T extends z.ZodType>(schema: T, spec: CallSpec): Promise<z.output<T>> {
    const data = await call(transport, spec);
    return decode(schema, data, { operation: spec.operation, method: spec.method, path: spec.path });
  }

  /** Each page's items in turn, from the first page until the last (or an empty one). */
  async function* pages<T>(schema: z.ZodType<Page<T>>, specOfPage: (pageNo: number) => CallSpec): AsyncGenerator<T[]> {
    for (let pageNo = 1; ; pageNo++) {
      const page = await request(schema, specOfPage(pageNo));
      yield page.items;
      if (pageNo >= page.totalPage || page.items.length === 0) return;
    }
  }

  const project = (projectCode: number) => `/projects/${code(projectCode)}`;
  const definitions = (projectCode: number) => `${project(projectCode)}/${dialect.definitionsPath}`;
  const definition = (projectCode: number, definitionCode: number) => `${definitions(projectCode)}/${code(definitionCode)}`;
  const instances = (projectCode: number) => `${project(projectCode)}/${dialect.instancesPath}`;
  const schedule = (projectCode: number, scheduleId: number) => `${project(projectCode)}/schedules/${code(scheduleId)}`;

  function definitionForm(input: WorkflowDefinitionInput): Fields {
    return {
      name: input.name,
      description: input.description ?? '',
      globalParams: input.globalParams ?? [],
      locations: input.locations ?? [],
      timeout: input.timeout ?? 0,
      taskDefinitionJson: input.tasks.map((task) => ({
        code: task.code,
        name: task.name,
        version: task.version ?? 0,
        description: task.description ?? '',
        taskType: task.taskType,
        taskParams: task.taskParams,
        flag: task.flag ?? 'YES',
        taskPriority: task.taskPriority ?? 'MEDIUM',
        workerGroup: task.workerGroup ?? 'default',
        environmentCode: task.environmentCode ?? -1,
        failRetryTimes: task.failRetryTimes ?? 0,
        failRetryInterval: task.failRetryInterval ?? 1,
        timeoutFlag: task.timeoutFlag ?? 'CLOSE',
        timeoutNotifyStrategy: task.timeoutNotifyStrategy ?? null,
        timeout: task.timeout ?? 0,
        delayTime: task.delayTime ?? 0,
        cpuQuota: task.cpuQuota ?? -1,
        memoryMax: task.memoryMax ?? -1,
        taskExecuteType: task.taskExecuteType ?? 'BATCH',
      })),
      taskRelationJson: input.relations.map((relation) => ({
        name: relation.name ?? '',
        preTaskCode: relation.preTaskCode,
        preTaskVersion: relation.preTaskVersion ?? 0,
        postTaskCode: relation.postTaskCode,
        postTaskVersion: relation.postTaskVersion ?? 0,
        conditionType: relation.conditionType ?? 'NONE',
        conditionParams: relation.conditionParams ?? {},
      })),
      executionType: input.executionType ?? 'PARALLEL',
      tenantCode: dialect.tenantCodeWithDefinition ? input.tenantCode : undefined,
    };
  }

  function scheduleForm(input: ScheduleUpdate): Fields {
    return {
      schedule: { startTime: input.startTime, endTime: input.endTime, crontab: input.crontab, timezoneId: input.timezoneId },
      ...runSettingsForm(input),
      tenantCode: input.tenantCode ?? DEFAULT_TENANT,
    };
  }

  async function findProjectByName(name: string, callOptions?: CallOptions): Promise<Project | undefined> {
    // searchVal is a substring match: page through the candidates for the exact name.
    const candidates = pages(decoders.projectPage, (pageNo) => ({
      operation: 'findProjectByName',
      method: 'GET',
      path: '/projects',
      query: { pageNo, pageSize: LOOKUP_PAGE_SIZE, searchVal: name },
      signal: callOptions?.signal,
    }));
    for await (const items of candidates) {
      const found = items.find((candidate) => candidate.name === name);
      if (found) return found;
    }
    return undefined;
  }

  const client: DolphinSchedulerClient = {
    dialect: options.dialect,

    async createProject(input, callOptions) {
      return request(decoders.project, {
        operation: 'createProject',
        method: 'POST',
        path: '/projects',
        form: { projectName: input.name, description: input.description ?? '' },
        signal: callOptions?.signal,
      });
    },

    async getProject(projectCode, callOptions) {
      return request(decoders.project, { operation: 'getProject', method: 'GET', path: project(projectCode), signal: callOptions?.signal });
    },

    findProjectByName,

    async genTaskCodes(projectCode, count, callOptions) {
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`task code count must be a non-negative integer, got ${count}`);
      const codes: number[] = [];
      while (codes.length < count) {
        const genNum = Math.min(TASK_CODES_PER_CALL, count - codes.length);
        const batch = await request(decoders.taskCodes, {
          operation: 'genTaskCodes',
          method: 'GET',
          path: `${project(projectCode)}/task-definition/gen-task-codes`,
          query: { genNum },
          signal: callOptions?.signal,
        });
        codes.push(...batch);
      }
      return codes;
    },

    async createDefinition(projectCode, input, callOptions) {
      return request(decoders.definition, {
        operation: 'createDefinition',
        method: 'POST',
        path: definitions(projectCode),
        form: definitionForm(input),
        signal: callOptions?.signal,
      });
    },

    async updateDefinition(projectCode, definitionCode, input, callOptions) {
      return request(decoders.definition, {
        operation: 'updateDefinition',
        method: 'PUT',
        path: definition(projectCode, definitionCode),
        form: { ...definitionForm(input), releaseState: input.releaseState },
        signal: callOptions?.signal,
      });
    },

    async getDefinition(projectCode, definitionCode, callOptions) {
      return request(decoders.dag, {
        operation: 'getDefinition',
        method: 'GET',
        path: definition(projectCode, definitionCode),
        signal: callOptions?.signal,
      });
    },

    async findDefinitionByName(projectCode, name, callOptions) {
      // Not `query-by-name`: 3.1.1 answers 50003 there for names that exist. The paged list's
      // searchVal is a substring match, so the exact name is looked for page by page.
      const candidates = pages(decoders.definitionPage, (pageNo) => ({
        operation: 'findDefinitionByName',
        method: 'GET',
        path: definitions(projectCode),
        query: { pageNo, pageSize: LOOKUP_PAGE_SIZE, searchVal: name },
        signal: callOptions?.signal,
      }));
      for await (const items of candidates) {
        const found = items.find((candidate) => candidate.name === name);
        if (found) return client.getDefinition(projectCode, found.code, callOptions);
      }
      return undefined;
    },

    async releaseDefinition(projectCode, definitionCode, state, callOptions) {
      await send({
        operation: 'releaseDefinition',
        method: 'POST',
        path: `${definition(projectCode, definitionCode)}/release`,
        form: { releaseState: state },
        signal: callOptions?.signal,
      });
    },

    async deleteDefinition(projectCode, definitionCode, callOptions) {
      await send({ operation: 'deleteDefinition', method: 'DELETE', path: definition(projectCode, definitionCode), signal: callOptions?.signal });
    },

    async listDefinitionVersions(projectCode, definitionCode, page, callOptions) {
      return request(decoders.versionPage, {
        operation: 'listDefinitionVersions',
        method: 'GET',
        path: `${definition(projectCode, definitionCode)}/versions`,
        query: { pageNo: page?.pageNo ?? 1, pageSize: page?.pageSize ?? LOOKUP_PAGE_SIZE },
        signal: callOptions?.signal,
      });
    },

    async createSchedule(projectCode, input, callOptions) {
      if (dialect.oneSchedulePerDefinitionCheckedByClient) {
        const existing = await client.listSchedules(projectCode, input.definitionCode, callOptions);
        if (existing.length > 0) {
          throw new DolphinSchedulerStateConflictError(`definition ${input.definitionCode} already has schedule ${existing[0]!.id}`, {
            operation: 'createSchedule',
            method: 'POST',
            path: `${project(projectCode)}/schedules`,
            code: ALREADY_SCHEDULED,
          });
        }
      }
      return request(decoders.schedule, {
        operation: 'createSchedule',
        method: 'POST',
        path: `${project(projectCode)}/schedules`,
        form: { [dialect.definitionCodeField]: input.definitionCode, ...scheduleForm(input) },
        signal: callOptions?.signal,
      });
    },

    async updateSchedule(projectCode, scheduleId, input, callOptions) {
      await send({
        operation: 'updateSchedule',
        method: 'PUT',
        path: schedule(projectCode, scheduleId),
        form: scheduleForm(input),
        signal: callOptions?.signal,
      });
    },

    async onlineSchedule(projectCode, scheduleId, callOptions) {
      await send({ operation: 'onlineSchedule', method: 'POST', path: `${schedule(projectCode, scheduleId)}/online`, signal: callOptions?.signal });
    },

    async offlineSchedule(projectCode, scheduleId, callOptions) {
      await send({ operation: 'offlineSchedule', method: 'POST', path: `${schedule(projectCode, scheduleId)}/offline`, signal: callOptions?.signal });
    },

    async listSchedules(projectCode, definitionCode, callOptions) {
      const schedules: Schedule[] = [];
      const all = pages(decoders.schedulePage, (pageNo) => ({
        operation: 'listSchedules',
        method: 'GET',
        path: `${project(projectCode)}/schedules`,
        query: { [dialect.definitionCodeField]: definitionCode, pageNo, pageSize: LOOKUP_PAGE_SIZE },
        signal: callOptions?.signal,
      }));
      for await (const items of all) schedules.push(...items.filter((candidate) => candidate.definitionCode === definitionCode));
      return schedules;
    },

    async deleteSchedule(projectCode, scheduleId, callOptions) {
      await send({ operation: 'deleteSchedule', method: 'DELETE', path: schedule(projectCode, scheduleId), signal: callOptions?.signal });
    },

    async startInstance(projectCode, input, callOptions) {
      return request(decoders.startResult, {
        operation: 'startInstance',
        method: 'POST',
        path: `${project(projectCode)}/${dialect.startInstancePath}`,
        form: {
          [dialect.definitionCodeField]: input.definitionCode,
          scheduleTime: '',
          execType: 'START_PROCESS',
          ...runSettingsForm(input),
          startParams: input.startParams,
          dryRun: input.dryRun ? 1 : 0,
          tenantCode: input.tenantCode ?? DEFAULT_TENANT,
        },
        signal: callOptions?.signal,
      });
    },

    async listInstances(projectCode, query, callOptions) {
      const { definitionCode, ...filters } = query;
      return request(decoders.instancePage, {
        operation: 'listInstances',
        method: 'GET',
        path: instances(projectCode),
        query: { ...filters, [dialect.instanceListDefinitionCodeParam]: definitionCode },
        signal: callOptions?.signal,
      });
    },

    async getInstance(projectCode, instanceId, callOptions) {
      return request(decoders.instance, {
        operation: 'getInstance',
        method: 'GET',
        path: `${instances(projectCode)}/${code(instanceId)}`,
        signal: callOptions?.signal,
      });
    },

    async getInstanceTasks(projectCode, instanceId, callOptions) {
      return request(decoders.taskInstances, {
        operation: 'getInstanceTasks',
        method: 'GET',
        path: `${instances(projectCode)}/${code(instanceId)}/tasks`,
        signal: callOptions?.signal,
      });
    },

    async executeInstance(projectCode, instanceId, executeType, callOptions) {
      await send({
        operation: 'executeInstance',
        method: 'POST',
        path: `${project(projectCode)}/executors/execute`,
        form: { [dialect.executeInstanceIdField]: instanceId, executeType },
        signal: callOptions?.signal,
      });
    },
  };
  return client;
}

/** The run settings as the server's form fields, with its defaults filled in. */
function runSettingsForm(input: RunSettings): Fields {
  return {
    failureStrategy: input.failureStrategy ?? 'END',
    warningType: input.warningType ?? 'NONE',
    warningGroupId: input.warningGroupId ?? 0,
    processInstancePriority: input.processInstancePriority ?? 'MEDIUM',
    workerGroup: input.workerGroup ?? 'default',
    environmentCode: input.environmentCode ?? -1,
  };
}

/** A code or id in a path: only a non-negative integer may shape the URL. */
function code(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`not a DolphinScheduler code or id: ${value}`);
  return String(value);
}
