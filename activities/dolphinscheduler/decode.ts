import { z } from 'zod';
import { DolphinSchedulerProtocolError, type DolphinSchedulerCallContext } from './errors';
import type {
  Page,
  Project,
  Schedule,
  TaskDefinition,
  TaskInstance,
  TaskRelation,
  WorkflowDefinition,
  WorkflowDefinitionDag,
  WorkflowDefinitionVersion,
  WorkflowInstance,
} from './types';

/**
 * Reads the envelope's `data` into the client's types. Both server lines are read by one set of
 * schemas: 3.3+ renamed `process…` fields to `workflow…`, so either name is accepted. Fields the
 * client does not use are ignored; a field it needs that is missing is a DolphinSchedulerProtocolError.
 */

const nullable = <T extends z.ZodType>(schema: T) => schema.nullish().transform((value) => value ?? null);
const text = nullable(z.string());
const integer = z.number().int();
/** Some servers send taskParams and conditionParams as a JSON string, others as an object. */
const jsonObject = z
  .union([z.record(z.string(), z.unknown()), z.string()])
  .nullish()
  .transform((value): Record<string, unknown> => {
    if (typeof value !== 'string') return value ?? {};
    try {
      const parsed: unknown = JSON.parse(value);
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  });
const releaseState = nullable(z.enum(['ONLINE', 'OFFLINE']));

const projectSchema = z.object({
  code: integer,
  name: z.string(),
  description: text,
  id: integer.optional(),
  userName: text.optional(),
  createTime: text.optional(),
  updateTime: text.optional(),
});

const definitionSchema = z.object({
  code: integer,
  name: z.string(),
  version: integer.nullish().transform((v) => v ?? 0),
  releaseState,
  projectCode: integer,
  description: text,
  scheduleReleaseState: releaseState,
  timeout: integer.nullish().transform((v) => v ?? 0),
  executionType: nullable(z.enum(['PARALLEL', 'SERIAL_WAIT', 'SERIAL_DISCARD', 'SERIAL_PRIORITY'])),
  tenantCode: text,
  globalParams: text,
  locations: text,
  createTime: text,
  updateTime: text,
});

const taskDefinitionSchema = z.object({
  code: integer,
  name: z.string(),
  version: integer,
  description: text,
  taskType: z.string(),
  taskParams: jsonObject,
  flag: z.enum(['YES', 'NO']).nullish().transform((v) => v ?? 'YES'),
  taskPriority: nullable(z.enum(['HIGHEST', 'HIGH', 'MEDIUM', 'LOW', 'LOWEST'])),
  workerGroup: text,
  environmentCode: integer.nullish().transform((v) => v ?? -1),
  failRetryTimes: integer.nullish().transform((v) => v ?? 0),
  failRetryInterval: integer.nullish().transform((v) => v ?? 0),
  timeoutFlag: nullable(z.enum(['OPEN', 'CLOSE'])),
  timeoutNotifyStrategy: nullable(z.enum(['WARN', 'FAILED', 'WARNFAILED'])),
  timeout: integer.nullish().transform((v) => v ?? 0),
  delayTime: integer.nullish().transform((v) => v ?? 0),
  cpuQuota: nullable(integer),
  memoryMax: nullable(integer),
}) satisfies z.ZodType<TaskDefinition>;

const relationSchema = z.object({
  name: z.string().nullish().transform((v) => v ?? ''),
  preTaskCode: integer,
  preTaskVersion: integer.nullish().transform((v) => v ?? 0),
  postTaskCode: integer,
  postTaskVersion: integer.nullish().transform((v) => v ?? 0),
  conditionType: z.string().nullish().transform((v) => v ?? 'NONE'),
  conditionParams: jsonObject,
}) satisfies z.ZodType<TaskRelation>;

const dagSchema = z
  .object({
    processDefinition: definitionSchema.optional(),
    workflowDefinition: definitionSchema.optional(),
    processTaskRelationList: z.array(relationSchema).optional(),
    workflowTaskRelationList: z.array(relationSchema).optional(),
    taskDefinitionList: z.array(taskDefinitionSchema).nullish(),
  })
  .transform((dag, ctx): WorkflowDefinitionDag => {
    const definition = dag.workflowDefinition ?? dag.processDefinition;
    if (!definition) {
      ctx.addIssue({ code: 'custom', message: 'no workflowDefinition or processDefinition' });
      return z.NEVER;
    }
    return {
      definition,
      tasks: dag.taskDefinitionList ?? [],
      relations: dag.workflowTaskRelationList ?? dag.processTaskRelationList ?? [],
    };
  });

const versionSchema = z.object({
  version: integer,
  name: z.string(),
  description: text,
  operateTime: text,
  updateTime: text,
}) satisfies z.ZodType<WorkflowDefinitionVersion>;

const scheduleSchema = z
  .object({
    id: integer,
    processDefinitionCode: integer.optional(),
    workflowDefinitionCode: integer.optional(),
    startTime: text,
    endTime: text,
    timezoneId: text,
    crontab: z.string(),
    failureStrategy: nullable(z.enum(['END', 'CONTINUE'])),
    warningType: nullable(z.enum(['NONE', 'SUCCESS', 'FAILURE', 'ALL'])),
    releaseState: z.enum(['ONLINE', 'OFFLINE']),
    workerGroup: text,
    environmentCode: nullable(integer),
    createTime: text,
    updateTime: text,
  })
  .transform(({ processDefinitionCode, workflowDefinitionCode, ...schedule }, ctx): Schedule => {
    const definitionCode = workflowDefinitionCode ?? processDefinitionCode;
    if (definitionCode === undefined) {
      ctx.addIssue({ code: 'custom', message: 'no workflowDefinitionCode or processDefinitionCode' });
      return z.NEVER;
    }
    return { ...schedule, definitionCode };
  });

const instanceSchema = z
  .object({
    id: integer,
    processDefinitionCode: integer.optional(),
    workflowDefinitionCode: integer.optional(),
    processDefinitionVersion: nullable(integer),
    workflowDefinitionVersion: nullable(integer),
    state: z.string(),
    name: z.string(),
    startTime: text,
    endTime: text,
    duration: text,
    runTimes: nullable(integer),
    host: text,
    commandType: text,
    scheduleTime: text,
    executorName: text,
  })
  .transform(
    (
      { processDefinitionCode, workflowDefinitionCode, processDefinitionVersion, workflowDefinitionVersion, ...instance },
      ctx,
    ): WorkflowInstance => {
      const definitionCode = workflowDefinitionCode ?? processDefinitionCode;
      if (definitionCode === undefined) {
        ctx.addIssue({ code: 'custom', message: 'no workflowDefinitionCode or processDefinitionCode' });
        return z.NEVER;
      }
      return { ...instance, definitionCode, definitionVersion: workflowDefinitionVersion ?? processDefinitionVersion };
    },
  );

const taskInstanceSchema = z.object({
  id: integer,
  name: z.string(),
  taskType: z.string(),
  taskCode: integer,
  taskDefinitionVersion: nullable(integer),
  state: z.string(),
  submitTime: text,
  startTime: text,
  endTime: text,
  host: text,
  retryTimes: integer.nullish().transform((v) => v ?? 0),
  duration: text,
}) satisfies z.ZodType<TaskInstance>;

function pageOf<T extends z.ZodType>(item: T) {
  return z
    .object({
      totalList: z.array(item).nullish(),
      total: integer.nullish(),
      totalPage: integer.nullish(),
      pageSize: integer.nullish(),
      currentPage: integer.nullish(),
    })
    .transform((page): Page<z.output<T>> => {
      const items = page.totalList ?? [];
      return {
        items,
        total: page.total ?? items.length,
        totalPage: page.totalPage ?? 1,
        pageNo: page.currentPage ?? 1,
        pageSize: page.pageSize ?? items.length,
      };
    });
}

export const decoders = {
  project: projectSchema satisfies z.ZodType<Project>,
  projectPage: pageOf(projectSchema),
  taskCodes: z.array(integer),
  definition: definitionSchema satisfies z.ZodType<WorkflowDefinition>,
  definitionPage: pageOf(definitionSchema),
  dag: dagSchema,
  versionPage: pageOf(versionSchema),
  schedule: scheduleSchema,
  schedulePage: pageOf(scheduleSchema),
  instance: instanceSchema,
  instancePage: pageOf(instanceSchema),
  taskInstances: z
    .object({ taskList: z.array(taskInstanceSchema).nullish() })
    .transform((data) => data.taskList ?? []),
  /** 3.1 answers null, 3.2 a trigger code, 3.3+ a list of instance ids. */
  startResult: z
    .union([z.null(), z.undefined(), integer, z.array(integer)])
    .transform((data) =>
      Array.isArray(data) ? { instanceIds: data } : typeof data === 'number' ? { instanceIds: [], triggerCode: data } : { instanceIds: [] },
    ),
};

/** `data` read by `schema`, or a DolphinSchedulerProtocolError naming what did not fit. */
export function decode<T extends z.ZodType>(schema: T, data: unknown, context: DolphinSchedulerCallContext): z.output<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : 'data';
  throw new DolphinSchedulerProtocolError(`unexpected answer at ${where}: ${issue?.message ?? 'invalid'}`, context);
}
