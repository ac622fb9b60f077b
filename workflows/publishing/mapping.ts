import { parseDuration } from '../spec/duration';
import { findExpressions, formatValuePath } from '../spec/expressions';
import type { Spec, Step } from '../spec/schema';
import { secretNameOf } from '../spec/secret-references';
import { DEFAULT_STEP_RETRY } from '../engine/limits';
import { HttpWithSchema, ShellWithSchema, type HttpWith } from '../spec/step-types';

/**
 * How a template version becomes a DolphinScheduler workflow definition. Pure and deterministic:
 * the same spec, settings and task codes give the same definition, byte for byte.
 *
 * | flowpilot                              | DolphinScheduler                                                  |
 * |----------------------------------------|-------------------------------------------------------------------|
 * | `http` step                            | HTTP task (method, URL, headers, flat string body, status check)  |
 * | `shell` step                           | SHELL task (`rawScript`)                                          |
 * | `dependsOn` (steps, or a group)        | one relation per edge, and a row with preTaskCode 0 per root task |
 * | `retry.maxAttempts`, `initialInterval` | `failRetryTimes` = attempts − 1, `failRetryInterval` in minutes   |
 * | step `timeout`                         | `timeoutFlag` OPEN, `timeout` in minutes, FAILED on timeout       |
 * | spec `timeout`                         | the definition's `timeout` in minutes                             |
 * | `onError: continue` + dependants whose `when` is `steps.X.status = "succeeded"` / `"failed"` | a CONDITIONS task after X routing to them |
 * | groups with `join: all` and no timeout | nothing (a dependency on the group is one on each member)         |
 *
 * Refused, naming the step: `delay` (no waiting task in DolphinScheduler; a task's `delayTime`
 * delays the task itself, which is not what a step in the DAG means), `approval` (a publish can
 * require an approval before anything reaches the server: `requireApproval`), `noop`, any other
 * `when`, `onError: pause`, `{{ }}` expressions and secret references anywhere in `with` (they are
 * evaluated by flowpilot's engine, which does not run there; tokens never leave flowpilot),
 * `nonRetryableErrors`, HTTP methods DolphinScheduler lacks (PATCH), bodies that are not a flat
 * object of strings, and several expected statuses. Minutes round up: a 30 s timeout becomes 1 min.
 */

/** Where a mapped definition places its tasks on DolphinScheduler's canvas (layout only). */
const LAYOUT = { left: 80, top: 80, columnWidth: 240, rowHeight: 110 };

export interface MappingProblem {
  stepId?: string;
  path: (string | number)[];
  message: string;
}

export class UnmappableSpecError extends Error {
  constructor(readonly problems: MappingProblem[]) {
    super(`the spec cannot be published to DolphinScheduler: ${problems.map((p) => p.message).join('; ')}`);
    this.name = 'UnmappableSpecError';
  }
}

/** What the target and template contribute beside the spec. */
export interface DefinitionSettings {
  name: string;
  description: string;
  tenantCode: string;
  workerGroup: string;
}

export type DolphinTaskType = 'HTTP' | 'SHELL' | 'CONDITIONS';

export interface MappedTask {
  code: number;
  name: string;
  version: number;
  description: string;
  taskType: DolphinTaskType;
  taskParams: Record<string, unknown>;
  flag: 'YES';
  taskPriority: 'MEDIUM';
  workerGroup: string;
  environmentCode: -1;
  failRetryTimes: number;
  failRetryInterval: number;
  timeoutFlag: 'OPEN' | 'CLOSE';
  /** Present with a timeout: the task fails when it runs out. */
  timeoutNotifyStrategy?: 'FAILED';
  timeout: number;
  delayTime: 0;
  cpuQuota: -1;
  memoryMax: -1;
  taskExecuteType: 'BATCH';
}

export interface MappedRelation {
  name: '';
  preTaskCode: number;
  preTaskVersion: 0;
  postTaskCode: number;
  postTaskVersion: 0;
  conditionType: 'NONE';
  conditionParams: Record<string, never>;
}

export interface MappedLocation {
  taskCode: number;
  x: number;
  y: number;
}

export interface MappedDefinition {
  name: string;
  description: string;
  tenantCode: string;
  /** Minutes; 0 for none. */
  timeout: number;
  executionType: 'PARALLEL';
  globalParams: [];
  locations: MappedLocation[];
  tasks: MappedTask[];
  relations: MappedRelation[];
}

/** A branch after a step that may fail: its CONDITIONS task routes to the steps conditioned on its outcome. */
interface Branch {
  /** The step whose outcome decides. */
  stepId: string;
  successSteps: string[];
  failedSteps: string[];
}

const CONDITION_WHEN = /^\s*steps\.([A-Za-z][A-Za-z0-9_-]{0,63})\.status\s*=\s*(["'])(succeeded|failed)\2\s*$/;

/** The key of the task code of the CONDITIONS task after `stepId` (step ids cannot hold "#"). */
export function conditionTaskKey(stepId: string): string {
  return `${stepId}#condition`;
}

/**
 * The task codes a definition of this spec needs, by key: each step's id, and one key per
 * CONDITIONS task. Ask the server for codes for the keys without one, then call `mapDefinition`.
 */
export function taskCodeKeys(spec: Spec): string[] {
  return [...spec.steps.map((step) => step.id), ...branchesOf(spec).map((branch) => conditionTaskKey(branch.stepId))];
}

/** Every reason the spec cannot become a DolphinScheduler definition; empty when it can. */
export function mappingProblems(spec: Spec): MappingProblem[] {
  const problems: MappingProblem[] = [];
  const stepIndex = new Map(spec.steps.map((step, i) => [step.id, i]));
  const at = (step: Step, ...rest: (string | number)[]) => ['steps', stepIndex.get(step.id)!, ...rest];

  spec.groups.forEach((group, i) => {
    if (group.join !== 'all' || group.timeout !== undefined) {
      problems.push({
        path: ['groups', i],
        message: `group ${group.id}: DolphinScheduler has no join policy or group timeout; only groups with join "all" and no timeout can be published`,
      });
    }
  });

  const continuing = new Set(spec.steps.filter((step) => step.onError === 'continue').map((step) => step.id));
  for (const step of spec.steps) {
    problems.push(...stepTypeProblems(step, at));
    for (const found of findExpressions(step.with)) {
      const where = `with.${formatValuePath(found.path)}`;
      problems.push({
        stepId: step.id,
        path: at(step, 'with', ...found.path),
        message:
          secretNameOf(found.source) !== undefined
            ? `step ${step.id}: ${where} references a secret; secrets are never sent to DolphinScheduler`
            : `step ${step.id}: ${where} holds the expression {{ ${found.source.trim()} }}, which only flowpilot's engine evaluates`,
      });
    }
    if (step.onError === 'pause') {
      problems.push({ stepId: step.id, path: at(step, 'onError'), message: `step ${step.id}: onError "pause" has no DolphinScheduler equivalent` });
    }
    if (step.retry && step.retry.nonRetryableErrors.length > 0) {
      problems.push({
        stepId: step.id,
        path: at(step, 'retry', 'nonRetryableErrors'),
        message: `step ${step.id}: DolphinScheduler retries every failure alike; remove retry.nonRetryableErrors to publish`,
      });
    }
    if (step.when !== undefined) {
      const condition = CONDITION_WHEN.exec(step.when);
      const decider = condition?.[1];
      if (!decider || !continuing.has(decider) || !step.dependsOn.includes(decider)) {
        problems.push({
          stepId: step.id,
          path: at(step, 'when'),
          message: `step ${step.id}: only a when of the form steps.X.status = "succeeded" (or "failed"), where the step depends on X and X has onError "continue", maps to a DolphinScheduler CONDITIONS task`,
        });
      }
    }
  }

  // A step that may fail and carry on must have every dependant decide on its outcome: DolphinScheduler
  // runs nothing downstream of a failed task except through a CONDITIONS task.
  for (const decider of continuing) {
    for (const dependant of spec.steps.filter((step) => step.dependsOn.includes(decider))) {
      const condition = dependant.when === undefined ? undefined : CONDITION_WHEN.exec(dependant.when);
      if (condition?.[1] !== decider) {
        problems.push({
          stepId: dependant.id,
          path: at(dependant, 'when'),
          message: `step ${dependant.id} depends on ${decider}, which has onError "continue": it needs when: steps.${decider}.status = "succeeded" (or "failed") to be published`,
        });
      } else if (dependant.dependsOn.length > 1) {
        problems.push({
          stepId: dependant.id,
          path: at(dependant, 'dependsOn'),
          message: `step ${dependant.id}: a step decided by a CONDITIONS task may depend on ${decider} only`,
        });
      }
    }
  }
  return problems;
}

function stepTypeProblems(step: Step, at: (step: Step, ...rest: (string | number)[]) => (string | number)[]): MappingProblem[] {
  const problem = (path: (string | number)[], message: string): MappingProblem => ({ stepId: step.id, path: at(step, ...path), message: `step ${step.id}: ${message}` });
  if (step.forEach) return [problem(['forEach'], 'forEach steps cannot be published: DolphinScheduler has no task that runs once per item of a list')];
  switch (step.type) {
    case 'http': {
      const parsed = HttpWithSchema.safeParse(step.with);
      if (!parsed.success) return [problem(['with'], 'its with is not a valid http step')];
      const http = parsed.data;
      const problems: MappingProblem[] = [];
      if (http.method === 'PATCH') problems.push(problem(['with', 'method'], 'DolphinScheduler HTTP tasks cannot send PATCH'));
      if (http.expectedStatuses && http.expectedStatuses.length > 1) {
        problems.push(problem(['with', 'expectedStatuses'], 'a DolphinScheduler HTTP task checks one status code; name at most one'));
      }
      if (http.body !== undefined) {
        if (http.method === 'GET' || http.method === 'HEAD') {
          problems.push(problem(['with', 'body'], `DolphinScheduler sends no body with ${http.method}`));
        } else if (!isFlatStringObject(http.body)) {
          problems.push(problem(['with', 'body'], 'DolphinScheduler HTTP tasks send a JSON object of string fields; the body must be one'));
        }
      }
      return problems;
    }
    case 'shell':
      return ShellWithSchema.safeParse(step.with).success ? [] : [problem(['with'], 'its with is not a valid shell step')];
    case 'delay':
      return [problem(['type'], 'delay steps cannot be published: DolphinScheduler has no task that waits (delayTime delays a task itself)')];
    case 'approval':
      return [problem(['type'], 'approval steps cannot be published: DolphinScheduler has no human approval; publish with requireApproval instead')];
    case 'noop':
      return [problem(['type'], 'noop steps cannot be published: DolphinScheduler has no task that does nothing; use a shell step')];
    case 'template':
      return [problem(['type'], 'template steps cannot be published: DolphinScheduler runs sub-processes of its own definitions only')];
  }
}

function isFlatStringObject(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/**
 * The definition for `spec`. `taskCodes` must hold a code for every key of `taskCodeKeys(spec)`;
 * an unmappable spec throws UnmappableSpecError listing every problem.
 */
export function mapDefinition(spec: Spec, settings: DefinitionSettings, taskCodes: Readonly<Record<string, number>>): MappedDefinition {
  const problems = mappingProblems(spec);
  if (problems.length > 0) throw new UnmappableSpecError(problems);
  const codeOf = (key: string): number => {
    const code = taskCodes[key];
    if (code === undefined) throw new Error(`no task code for ${key}: ask the server for codes for every taskCodeKeys() key first`);
    return code;
  };

  const groups = new Map(spec.groups.map((group) => [group.id, group.steps]));
  const branches = branchesOf(spec);
  const decidedBy = new Map<string, string>();
  for (const branch of branches) for (const id of [...branch.successSteps, ...branch.failedSteps]) decidedBy.set(id, branch.stepId);

  const tasks: MappedTask[] = spec.steps.map((step) => stepTask(step, codeOf(step.id), settings.workerGroup));
  for (const branch of branches) tasks.push(conditionTask(branch, codeOf, settings.workerGroup));

  // Upstream task codes of each task, in spec order, without repeats.
  const upstream = new Map<number, number[]>();
  for (const step of spec.steps) {
    const decider = decidedBy.get(step.id);
    const upstreamIds = decider ? [conditionTaskKey(decider)] : step.dependsOn.flatMap((id) => groups.get(id) ?? [id]);
    upstream.set(codeOf(step.id), [...new Set(upstreamIds.map(codeOf))]);
  }
  for (const branch of branches) upstream.set(codeOf(conditionTaskKey(branch.stepId)), [codeOf(branch.stepId)]);

  const relations: MappedRelation[] = [];
  for (const task of tasks) {
    const pre = upstream.get(task.code)!;
    for (const preTaskCode of pre.length === 0 ? [0] : pre) relations.push(relation(preTaskCode, task.code));
  }

  return {
    name: settings.name,
    description: settings.description,
    tenantCode: settings.tenantCode,
    timeout: spec.timeout ? minutesOf(spec.timeout) : 0,
    executionType: 'PARALLEL',
    globalParams: [],
    locations: layout(tasks.map((task) => task.code), upstream),
    tasks,
    relations,
  };
}

function branchesOf(spec: Spec): Branch[] {
  const branches = new Map<string, Branch>();
  for (const step of spec.steps) {
    const condition = step.when === undefined ? undefined : CONDITION_WHEN.exec(step.when);
    if (!condition) continue;
    const stepId = condition[1]!;
    const branch = branches.get(stepId) ?? { stepId, successSteps: [], failedSteps: [] };
    (condition[3] === 'succeeded' ? branch.successSteps : branch.failedSteps).push(step.id);
    branches.set(stepId, branch);
  }
  // In the order of the deciding steps, so the result does not depend on where dependants sit.
  const order = new Map(spec.steps.map((step, i) => [step.id, i]));
  return [...branches.values()].sort((a, b) => order.get(a.stepId)! - order.get(b.stepId)!);
}

function stepTask(step: Step, code: number, workerGroup: string): MappedTask {
  const retry = step.retry ?? DEFAULT_STEP_RETRY;
  const base = {
    code,
    name: step.id,
    version: 0,
    description: step.name ?? '',
    flag: 'YES',
    taskPriority: 'MEDIUM',
    workerGroup,
    environmentCode: -1,
    failRetryTimes: retry.maxAttempts - 1,
    failRetryInterval: Math.max(1, minutesOf(retry.initialInterval)),
    timeoutFlag: step.timeout ? 'OPEN' : 'CLOSE',
    ...(step.timeout ? { timeoutNotifyStrategy: 'FAILED' as const } : {}),
    timeout: step.timeout ? minutesOf(step.timeout) : 0,
    delayTime: 0,
    cpuQuota: -1,
    memoryMax: -1,
    taskExecuteType: 'BATCH',
  } as const;
  if (step.type === 'shell') {
    const shell = ShellWithSchema.parse(step.with);
    return { ...base, taskType: 'SHELL', taskParams: { rawScript: shell.script, localParams: [], resourceList: [] } };
  }
  return { ...base, taskType: 'HTTP', taskParams: httpParams(HttpWithSchema.parse(step.with)) };
}

function httpParams(http: HttpWith): Record<string, unknown> {
  const timeoutMs = parseDuration(http.timeout)!;
  const headers = Object.entries(http.headers).map(([prop, value]) => ({ prop, httpParametersType: 'HEADERS', value }));
  const body = isFlatStringObject(http.body)
    ? Object.entries(http.body).map(([prop, value]) => ({ prop, httpParametersType: 'BODY', value }))
    : [];
  const [expected] = http.expectedStatuses ?? [];
  return {
    url: http.url,
    httpMethod: http.method,
    httpParams: [...headers, ...body],
    // DolphinScheduler's default check accepts 200 only; a named status is checked as written.
    httpCheckCondition: expected === undefined ? 'STATUS_CODE_DEFAULT' : 'STATUS_CODE_CUSTOM',
    condition: expected === undefined ? '' : String(expected),
    connectTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    localParams: [],
  };
}

function conditionTask(branch: Branch, codeOf: (key: string) => number, workerGroup: string): MappedTask {
  return {
    code: codeOf(conditionTaskKey(branch.stepId)),
    name: conditionTaskKey(branch.stepId),
    version: 0,
    description: `Routes on the outcome of ${branch.stepId}`,
    taskType: 'CONDITIONS',
    taskParams: {
      localParams: [],
      dependence: {
        relation: 'AND',
        dependTaskList: [{ relation: 'AND', dependItemList: [{ depTaskCode: codeOf(branch.stepId), status: 'SUCCESS' }] }],
      },
      conditionResult: { successNode: branch.successSteps.map(codeOf), failedNode: branch.failedSteps.map(codeOf) },
    },
    flag: 'YES',
    taskPriority: 'MEDIUM',
    workerGroup,
    environmentCode: -1,
    failRetryTimes: 0,
    failRetryInterval: 1,
    timeoutFlag: 'CLOSE',
    timeout: 0,
    delayTime: 0,
    cpuQuota: -1,
    memoryMax: -1,
    taskExecuteType: 'BATCH',
  };
}

function relation(preTaskCode: number, postTaskCode: number): MappedRelation {
  return { name: '', preTaskCode, preTaskVersion: 0, postTaskCode, postTaskVersion: 0, conditionType: 'NONE', conditionParams: {} };
}

/** Columns by DAG level (longest path from a root), rows in task order within a column. */
function layout(codes: number[], upstream: ReadonlyMap<number, number[]>): MappedLocation[] {
  const level = new Map<number, number>();
  const levelOf = (code: number): number => {
    const known = level.get(code);
    if (known !== undefined) return known;
    const pre = upstream.get(code) ?? [];
    const value = pre.length === 0 ? 0 : 1 + Math.max(...pre.map(levelOf));
    level.set(code, value);
    return value;
  };
  const rows = new Map<number, number>();
  return codes.map((taskCode) => {
    const column = levelOf(taskCode);
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    return { taskCode, x: LAYOUT.left + column * LAYOUT.columnWidth, y: LAYOUT.top + row * LAYOUT.rowHeight };
  });
}

/** Whole minutes, rounded up: DolphinScheduler counts timeouts and retry intervals in minutes. */
function minutesOf(duration: string): number {
  return Math.ceil(parseDuration(duration)! / 60_000);
}
