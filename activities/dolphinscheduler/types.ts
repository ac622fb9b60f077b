/**
 * What the DolphinScheduler client sends and returns, in one dialect-neutral shape: the client
 * translates paths, field names and answers of each server line (see dialects.ts), so callers
 * never see `process` vs `workflow`.
 *
 * Codes (projects, definitions, tasks) are numbers: DolphinScheduler's snowflake-like codes are
 * about 14 digits, well inside Number.MAX_SAFE_INTEGER (its own web UI holds them as JS numbers).
 * Instances, task instances and schedules have integer ids.
 */

/**
 * Which server line a target speaks.
 * - `v3.1`: 3.1 and 3.2: `process-definition`, `process-instances`, `start-process-instance`,
 *   `processDefinitionCode`, and `tenantCode` sent with the definition (3.1) and on start and
 *   schedule (3.2, which 3.1 ignores).
 * - `v3.3`: 3.3 and later: `workflow-definition`, `workflow-instances`, `start-workflow-instance`,
 *   `workflowDefinitionCode`, `workflowInstanceId`, and `tenantCode` on start and schedule only.
 */
export const DOLPHINSCHEDULER_DIALECTS = ['v3.1', 'v3.3'] as const;
export type DolphinSchedulerDialect = (typeof DOLPHINSCHEDULER_DIALECTS)[number];

export type ReleaseState = 'ONLINE' | 'OFFLINE';
export type Priority = 'HIGHEST' | 'HIGH' | 'MEDIUM' | 'LOW' | 'LOWEST';
export type ExecutionType = 'PARALLEL' | 'SERIAL_WAIT' | 'SERIAL_DISCARD' | 'SERIAL_PRIORITY';
export type FailureStrategy = 'END' | 'CONTINUE';
export type WarningType = 'NONE' | 'SUCCESS' | 'FAILURE' | 'ALL';
/** What `execute` asks of a running or finished instance. */
export type ExecuteType = 'REPEAT_RUNNING' | 'RECOVER_SUSPENDED_PROCESS' | 'START_FAILURE_TASK_PROCESS' | 'STOP' | 'PAUSE';

/** A workflow or task parameter. */
export interface Property {
  prop: string;
  direct: 'IN' | 'OUT';
  type: 'VARCHAR' | 'INTEGER' | 'LONG' | 'FLOAT' | 'DOUBLE' | 'DATE' | 'TIME' | 'TIMESTAMP' | 'BOOLEAN' | 'LIST' | 'FILE';
  value: string;
}

/** A task of a definition as sent: `code` comes from `genTaskCodes` and is kept across updates. */
export interface TaskDefinitionInput {
  code: number;
  name: string;
  /** 0 or 1 on create; the server keeps counting. */
  version?: number;
  description?: string;
  /** `SHELL`, `HTTP`, `CONDITIONS`, `SUB_PROCESS`, ... */
  taskType: string;
  /** Task-type specific; SHELL: `{ rawScript, resourceList: [], localParams: [] }`. */
  taskParams: Record<string, unknown>;
  /** `NO` keeps the task in the DAG but does not run it. @default 'YES' */
  flag?: 'YES' | 'NO';
  /** @default 'MEDIUM' */
  taskPriority?: Priority;
  /** @default 'default' */
  workerGroup?: string;
  /** -1: none. @default -1 */
  environmentCode?: number;
  /** @default 0 */
  failRetryTimes?: number;
  /** Minutes. @default 1 */
  failRetryInterval?: number;
  /** @default 'CLOSE' */
  timeoutFlag?: 'OPEN' | 'CLOSE';
  timeoutNotifyStrategy?: 'WARN' | 'FAILED' | 'WARNFAILED';
  /** Minutes; only with `timeoutFlag: 'OPEN'`. @default 0 */
  timeout?: number;
  /** Minutes. @default 0 */
  delayTime?: number;
  /** -1: unlimited. @default -1 */
  cpuQuota?: number;
  /** -1: unlimited. @default -1 */
  memoryMax?: number;
  /** @default 'BATCH' */
  taskExecuteType?: 'BATCH' | 'STREAM';
}

/** One edge; a root task gets one row with `preTaskCode: 0`, so every task is a `postTaskCode` once. */
export interface TaskRelationInput {
  name?: string;
  preTaskCode: number;
  preTaskVersion?: number;
  postTaskCode: number;
  postTaskVersion?: number;
  /** @default 'NONE' */
  conditionType?: 'NONE' | 'JUDGE' | 'DELAY';
  /** @default {} */
  conditionParams?: Record<string, unknown>;
}

/** Layout only: where the web UI draws a task. */
export interface TaskLocation {
  taskCode: number;
  x: number;
  y: number;
}

export interface WorkflowDefinitionInput {
  /** Unique within the project (a duplicate is DolphinSchedulerNameExistsError). */
  name: string;
  description?: string;
  globalParams?: Property[];
  locations?: TaskLocation[];
  /** Minutes, 0 for none. @default 0 */
  timeout?: number;
  tasks: TaskDefinitionInput[];
  relations: TaskRelationInput[];
  /** @default 'PARALLEL' */
  executionType?: ExecutionType;
  /**
   * The OS user its tasks run as (a DolphinScheduler tenant). `v3.1` sends it with the definition
   * (3.1 requires it there); 3.2+ take it from StartInstanceInput and ScheduleInput instead, so
   * pass it there too.
   */
  tenantCode: string;
}

export interface WorkflowDefinitionUpdate extends WorkflowDefinitionInput {
  /** `ONLINE` brings the definition online after the update; the server refuses updates while ONLINE (50008). */
  releaseState?: ReleaseState;
}

export interface Project {
  code: number;
  name: string;
  description: string | null;
  id?: number;
  userName?: string | null;
  createTime?: string | null;
  updateTime?: string | null;
}

export interface WorkflowDefinition {
  code: number;
  name: string;
  /** Bumped by each update; create answers 0 or 1 depending on the server. */
  version: number;
  /** Absent from create's answer (it is OFFLINE then). */
  releaseState: ReleaseState | null;
  projectCode: number;
  description: string | null;
  /** The release state of its schedule, if it has one. */
  scheduleReleaseState: ReleaseState | null;
  timeout: number;
  executionType: ExecutionType | null;
  /** Sent back by `v3.1` servers only (3.2+ keep no tenant on the definition). */
  tenantCode: string | null;
  globalParams: string | null;
  locations: string | null;
  createTime: string | null;
  updateTime: string | null;
}

/** A task as the server stores it: the input's fields, filled in. */
export interface TaskDefinition {
  code: number;
  name: string;
  version: number;
  description: string | null;
  taskType: string;
  taskParams: Record<string, unknown>;
  flag: 'YES' | 'NO';
  taskPriority: Priority | null;
  workerGroup: string | null;
  environmentCode: number;
  failRetryTimes: number;
  failRetryInterval: number;
  timeoutFlag: 'OPEN' | 'CLOSE' | null;
  timeoutNotifyStrategy: 'WARN' | 'FAILED' | 'WARNFAILED' | null;
  timeout: number;
  delayTime: number;
  cpuQuota: number | null;
  memoryMax: number | null;
}

export interface TaskRelation {
  name: string;
  preTaskCode: number;
  preTaskVersion: number;
  postTaskCode: number;
  postTaskVersion: number;
  conditionType: string;
  conditionParams: Record<string, unknown>;
}

/** A definition with its DAG, as `getDefinition` answers. */
export interface WorkflowDefinitionDag {
  definition: WorkflowDefinition;
  tasks: TaskDefinition[];
  relations: TaskRelation[];
}

/** One stored version of a definition (`versions`). */
export interface WorkflowDefinitionVersion {
  version: number;
  name: string;
  description: string | null;
  operateTime: string | null;
  updateTime: string | null;
}

/** How a run of a definition is carried out and warned about: the same for scheduled and manual starts. */
export interface RunSettings {
  /** @default 'END' */
  failureStrategy?: FailureStrategy;
  /** @default 'NONE' */
  warningType?: WarningType;
  /** @default 0 */
  warningGroupId?: number;
  /** @default 'MEDIUM' */
  processInstancePriority?: Priority;
  /** @default 'default' */
  workerGroup?: string;
  /** @default -1 */
  environmentCode?: number;
}

export interface ScheduleInput extends RunSettings {
  definitionCode: number;
  /** `yyyy-MM-dd HH:mm:ss`. */
  startTime: string;
  /** `yyyy-MM-dd HH:mm:ss`. */
  endTime: string;
  /** Quartz form with seconds: `0 0 3 * * ? *`. */
  crontab: string;
  /** e.g. `UTC`, `Europe/Berlin`. */
  timezoneId: string;
  /** The OS user scheduled runs use on 3.2+ servers (3.1 runs as the definition's tenant). @default 'default' */
  tenantCode?: string;
}

export type ScheduleUpdate = Omit<ScheduleInput, 'definitionCode'>;

export interface Schedule {
  id: number;
  definitionCode: number;
  startTime: string | null;
  endTime: string | null;
  timezoneId: string | null;
  crontab: string;
  failureStrategy: FailureStrategy | null;
  warningType: WarningType | null;
  releaseState: ReleaseState;
  workerGroup: string | null;
  environmentCode: number | null;
  createTime: string | null;
  updateTime: string | null;
}

export interface StartInstanceInput extends RunSettings {
  definitionCode: number;
  /** The OS user the run uses on 3.2+ servers (3.1 runs as the definition's tenant). @default 'default' */
  tenantCode?: string;
  /** Overrides of global parameters, by name. */
  startParams?: Record<string, string>;
  /** Goes through the motions without running task commands. @default false */
  dryRun?: boolean;
}

export interface StartInstanceResult {
  /**
   * The started instances' ids when the server says (3.3+); empty on 3.1, which answers nothing:
   * find the instance in `listInstances` (newest first).
   */
  instanceIds: number[];
  /** 3.2 answers a trigger code instead of ids. */
  triggerCode?: number;
}

/**
 * Instance states. 3.1 adds DELAY_EXECUTION, READY_BLOCK, BLOCK; 3.2 WAIT_TO_RUN; 3.3 FAILOVER.
 * Typed as string too: a state this code does not know must not break a sync.
 */
export type WorkflowInstanceState =
  | 'SUBMITTED_SUCCESS'
  | 'RUNNING_EXECUTION'
  | 'READY_PAUSE'
  | 'PAUSE'
  | 'READY_STOP'
  | 'STOP'
  | 'FAILURE'
  | 'SUCCESS'
  | 'SERIAL_WAIT'
  | 'DELAY_EXECUTION'
  | 'READY_BLOCK'
  | 'BLOCK'
  | 'WAIT_TO_RUN'
  | 'FAILOVER'
  | (string & {});

/** Instance states after which nothing more happens to the instance unless someone acts. */
export const FINISHED_INSTANCE_STATES: readonly WorkflowInstanceState[] = ['SUCCESS', 'FAILURE', 'STOP', 'PAUSE', 'BLOCK'];

export interface WorkflowInstance {
  id: number;
  definitionCode: number;
  definitionVersion: number | null;
  state: WorkflowInstanceState;
  name: string;
  startTime: string | null;
  endTime: string | null;
  /** As the server formats it, e.g. `3s`, `1m 2s`. */
  duration: string | null;
  runTimes: number | null;
  host: string | null;
  commandType: string | null;
  scheduleTime: string | null;
  executorName: string | null;
}

export type TaskInstanceState =
  | 'SUBMITTED_SUCCESS'
  | 'RUNNING_EXECUTION'
  | 'PAUSE'
  | 'STOP'
  | 'FAILURE'
  | 'SUCCESS'
  | 'NEED_FAULT_TOLERANCE'
  | 'KILL'
  | 'DELAY_EXECUTION'
  | 'FORCED_SUCCESS'
  | 'DISPATCH'
  | (string & {});

export interface TaskInstance {
  id: number;
  name: string;
  taskType: string;
  taskCode: number;
  taskDefinitionVersion: number | null;
  state: TaskInstanceState;
  submitTime: string | null;
  startTime: string | null;
  endTime: string | null;
  host: string | null;
  retryTimes: number;
  duration: string | null;
}

export interface InstanceQuery {
  /** Only this definition's instances. */
  definitionCode?: number;
  /** 1-based. */
  pageNo: number;
  /** 1 or more. */
  pageSize: number;
  stateType?: WorkflowInstanceState;
  /** `yyyy-MM-dd HH:mm:ss`: instances started at or after. */
  startDate?: string;
  /** `yyyy-MM-dd HH:mm:ss`. */
  endDate?: string;
  searchVal?: string;
  host?: string;
  executorName?: string;
}

export interface PageQuery {
  /** 1-based. @default 1 */
  pageNo?: number;
  /** @default 100 */
  pageSize?: number;
}

/** A page of a list, newest first where the server orders by time. */
export interface Page<T> {
  items: T[];
  total: number;
  totalPage: number;
  pageNo: number;
  pageSize: number;
}

/** Per call: the caller's cancellation (e.g. an activity's cancellationSignal). */
export interface CallOptions {
  signal?: AbortSignal;
}
