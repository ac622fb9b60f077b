import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for a DolphinScheduler 3.3+ API, speaking the 3.3 renames (`workflow-definition`,
 * `workflow-instances`, `start-workflow-instance`, `workflowDefinitionCode`, `workflowInstanceId`,
 * `tenantCode` on start and schedule, none on the definition) over real HTTP, with the envelope,
 * the form encoding and the codes of the real server (../shared/dolphinscheduler-api.md).
 *
 * No 3.3 server can be had here (the Maven registry serves 3.1.1 only), so this fake runs the same
 * scenarios as the real 3.1.1 server (test/dolphinscheduler/scenarios.ts), which keeps it honest
 * where the two lines agree. It also shows what the real server cannot be made to: 5xx, slow
 * answers, bodies that are not an envelope, a token revoked between calls (`inject`).
 *
 * Instances run on the clock instead of a worker: a task's `sleep N` makes it last N seconds, an
 * `exit 1` fails it, anything else finishes after `taskMs`.
 */
export interface FakeDolphinScheduler {
  /** The API root with its context path, for the client's `baseUrl`. */
  readonly url: string;
  /** The administrator's token. */
  readonly token: string;
  /** A general user's token: projects it did not create answer 30002, as on the real server. */
  readonly otherUserToken: string;
  /** Every request, in order: method, path (with query), parsed form fields, the token header. */
  readonly requests: RecordedRequest[];
  /** Answers the next matching request(s) differently; see Fault. */
  inject(fault: Fault): void;
  /** Forgets the faults not used up yet. */
  clearFaults(): void;
  /** Adds `count` finished instances of a definition, the newest first in lists (for paging and syncs). */
  seedInstances(projectCode: number, definitionCode: number, count: number, state?: string): void;
  close(): Promise<void>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  form: Record<string, string>;
  token: string | undefined;
}

export interface Fault {
  method?: string;
  /** Tested against the path after the context path, with its query. */
  path?: RegExp;
  /** How many matching requests it applies to. @default 1 */
  times?: number;
  /** Wait this long before answering (normally, unless status or body are set too). */
  delayMs?: number;
  /**
   * Do what the request asks at once, but hold the answer this long: the server has done it and the
   * caller has not heard yet (a caller that dies meanwhile never will).
   */
  answerAfterMs?: number;
  /** Answer with this status... */
  status?: number;
  /** ...and this body (default empty). */
  body?: string;
}

const CONTEXT = '/dolphinscheduler';
const SUCCESS = { code: 0, msg: 'success' };

class Refusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Project {
  /** The token of the user who created it. */
  owner: string;
  id: number;
  code: number;
  name: string;
  description: string;
  userName: string;
  createTime: string;
  updateTime: string;
}

interface StoredTask {
  code: number;
  name: string;
  version: number;
  taskType: string;
  taskParams: Record<string, unknown>;
  [field: string]: unknown;
}

interface StoredRelation {
  preTaskCode: number;
  postTaskCode: number;
  [field: string]: unknown;
}

interface Definition {
  id: number;
  code: number;
  projectCode: number;
  name: string;
  description: string;
  version: number;
  releaseState: 'ONLINE' | 'OFFLINE';
  globalParams: string;
  locations: string;
  timeout: number;
  executionType: string;
  tasks: StoredTask[];
  relations: StoredRelation[];
  createTime: string;
  updateTime: string;
  versions: { version: number; name: string; description: string; operateTime: string; updateTime: string }[];
}

interface Schedule {
  id: number;
  projectCode: number;
  workflowDefinitionCode: number;
  startTime: string;
  endTime: string;
  timezoneId: string;
  crontab: string;
  failureStrategy: string;
  warningType: string;
  warningGroupId: number;
  workerGroup: string;
  environmentCode: number;
  tenantCode: string;
  releaseState: 'ONLINE' | 'OFFLINE';
  createTime: string;
  updateTime: string;
}

interface Instance {
  id: number;
  projectCode: number;
  definitionCode: number;
  definitionVersion: number;
  name: string;
  startedAt: number;
  /** Per task: how long it runs and whether it fails. */
  plan: { task: StoredTask; ms: number; fails: boolean }[];
  stoppedAt?: number;
  fixedState?: string;
  tenantCode: string;
}

export async function startFakeDolphinScheduler(options: { taskMs?: number } = {}): Promise<FakeDolphinScheduler> {
  const taskMs = options.taskMs ?? 200;
  const token = 'fake-dolphinscheduler-token';
  const otherUserToken = 'fake-dolphinscheduler-other-user-token';
  /** Whose request is being answered (handlers run synchronously, one at a time). */
  let caller = token;
  const requests: RecordedRequest[] = [];
  const faults: (Fault & { left: number })[] = [];
  const projects = new Map<number, Project>();
  const definitions = new Map<number, Definition>();
  const schedules = new Map<number, Schedule>();
  const instances = new Map<number, Instance>();
  let nextCode = 23_877_006_900_000;
  let nextId = 1;
  const newCode = () => nextCode++;
  const newId = () => nextId++;

  function project(projectCode: number): Project {
    const found = projects.get(projectCode);
    if (!found) throw new Refusal(10018, `project ${projectCode} not found`);
    if (caller !== token && found.owner !== caller) throw new Refusal(30002, `user is not has project ${found.name} permission`);
    return found;
  }

  function definition(projectCode: number, code: number): Definition {
    project(projectCode);
    const found = definitions.get(code);
    if (!found || found.projectCode !== projectCode) throw new Refusal(50003, `workflow definition ${code} does not exist`);
    return found;
  }

  function instance(projectCode: number, id: number): Instance {
    project(projectCode);
    const found = instances.get(id);
    if (!found || found.projectCode !== projectCode) throw new Refusal(50001, `workflow instance ${id} does not exist`);
    return found;
  }

  function schedule(projectCode: number, id: number): Schedule {
    project(projectCode);
    const found = schedules.get(id);
    if (!found || found.projectCode !== projectCode) throw new Refusal(10203, `schedule ${id} does not exist`);
    return found;
  }

  /** The DAG checks the real server makes on create and update. */
  function readDag(form: Record<string, string>): { tasks: StoredTask[]; relations: StoredRelation[] } {
    const tasks = parseJsonField<StoredTask[]>(form, 'taskDefinitionJson');
    const relations = parseJsonField<StoredRelation[]>(form, 'taskRelationJson');
    if (!Array.isArray(tasks) || !Array.isArray(relations)) throw new Refusal(50017, 'task definition or relation list invalid');
    if (tasks.length === 0) throw new Refusal(50035, 'workflow DAG is empty');
    const codes = new Set(tasks.map((task) => task.code));
    for (const task of tasks) {
      const params = typeof task.taskParams === 'string' ? (JSON.parse(task.taskParams) as Record<string, unknown>) : task.taskParams;
      if (task.taskType === 'SHELL' && !(typeof params?.rawScript === 'string' && params.rawScript.trim())) {
        throw new Refusal(50020, `task definition ${task.name} parameter invalid`);
      }
      task.taskParams = params;
    }
    for (const relation of relations) {
      if (relation.postTaskCode === 0) throw new Refusal(50036, 'the post task code of a relation cannot be 0');
      if (!codes.has(relation.postTaskCode) || (relation.preTaskCode !== 0 && !codes.has(relation.preTaskCode))) {
        throw new Refusal(50030, 'relation refers to a task not in the workflow');
      }
    }
    if (hasCycle(tasks, relations)) throw new Refusal(50019, 'workflow DAG has a cycle');
    return { tasks, relations };
  }

  /** The schedule's state is in the list's rows only; a single definition's answer has null (as 3.1.1). */
  function definitionView(def: Definition, withScheduleState = false) {
    return {
      id: def.id,
      code: def.code,
      name: def.name,
      version: def.version,
      releaseState: def.releaseState,
      projectCode: def.projectCode,
      description: def.description,
      globalParams: def.globalParams,
      locations: def.locations,
      scheduleReleaseState: withScheduleState
        ? ([...schedules.values()].find((s) => s.workflowDefinitionCode === def.code)?.releaseState ?? null)
        : null,
      timeout: def.timeout,
      executionType: def.executionType,
      createTime: def.createTime,
      updateTime: def.updateTime,
    };
  }

  function dagView(def: Definition) {
    return {
      workflowDefinition: definitionView(def),
      workflowTaskRelationList: def.relations.map((relation) => ({
        name: '',
        preTaskVersion: relation.preTaskCode === 0 ? 0 : def.version,
        postTaskVersion: def.version,
        conditionType: 'NONE',
        conditionParams: {},
        ...relation,
        workflowDefinitionCode: def.code,
        workflowDefinitionVersion: def.version,
      })),
      taskDefinitionList: def.tasks.map((task) => ({ ...task, version: def.version, projectCode: def.projectCode })),
    };
  }

  function instanceState(run: Instance, now = Date.now()): { state: string; endedAt?: number } {
    if (run.fixedState) return { state: run.fixedState, endedAt: run.startedAt };
    const total = run.plan.reduce((sum, step) => sum + step.ms, 0);
    const failedAt = run.plan.findIndex((step) => step.fails);
    const endsAt = run.startedAt + (failedAt >= 0 ? run.plan.slice(0, failedAt + 1).reduce((sum, step) => sum + step.ms, 0) : total);
    if (run.stoppedAt !== undefined && run.stoppedAt < endsAt) return { state: 'STOP', endedAt: run.stoppedAt };
    if (now < endsAt) return { state: 'RUNNING_EXECUTION' };
    return { state: failedAt >= 0 ? 'FAILURE' : 'SUCCESS', endedAt: endsAt };
  }

  function instanceView(run: Instance) {
    const { state, endedAt } = instanceState(run);
    return {
      id: run.id,
      workflowDefinitionCode: run.definitionCode,
      workflowDefinitionVersion: run.definitionVersion,
      projectCode: run.projectCode,
      state,
      name: run.name,
      startTime: formatDate(run.startedAt),
      endTime: endedAt !== undefined ? formatDate(endedAt) : null,
      duration: endedAt !== undefined ? `${Math.max(0, Math.round((endedAt - run.startedAt) / 1000))}s` : null,
      runTimes: 1,
      host: '127.0.0.1:5678',
      commandType: 'START_PROCESS',
      scheduleTime: null,
      executorName: 'admin',
      tenantCode: run.tenantCode,
    };
  }

  function taskInstancesView(run: Instance) {
    const now = Math.min(Date.now(), run.stoppedAt ?? Infinity);
    let offset = run.startedAt;
    const tasks = [];
    for (const [index, step] of run.plan.entries()) {
      if (offset > now) break;
      const ended = offset + step.ms <= now;
      tasks.push({
        id: run.id * 1000 + index,
        name: step.task.name,
        taskType: step.task.taskType,
        taskCode: step.task.code,
        taskDefinitionVersion: run.definitionVersion,
        workflowInstanceId: run.id,
        state: ended ? (step.fails ? 'FAILURE' : 'SUCCESS') : run.stoppedAt !== undefined ? 'KILL' : 'RUNNING_EXECUTION',
        submitTime: formatDate(offset),
        startTime: formatDate(offset),
        endTime: ended ? formatDate(offset + step.ms) : null,
        host: '127.0.0.1:1234',
        retryTimes: 0,
        duration: ended ? `${Math.round(step.ms / 1000)}s` : null,
      });
      if (step.fails && ended) break;
      offset += step.ms;
    }
    return tasks.reverse();
  }

  function plan(def: Definition): Instance['plan'] {
    // Topological order is enough for a clock-driven run: one task after the other.
    return topologicalOrder(def.tasks, def.relations).map((task) => {
      const script = typeof task.taskParams?.rawScript === 'string' ? task.taskParams.rawScript : '';
      const sleep = /\bsleep\s+(\d+)/.exec(script);
      return { task, ms: sleep ? Number(sleep[1]) * 1000 : taskMs, fails: /\bexit\s+[1-9]/.test(script) };
    });
  }

  type Handler = (match: RegExpExecArray, query: URLSearchParams, form: Record<string, string>) => { status?: number; data: unknown };
  const P = '/projects/(\\d+)';
  const routes: [string, RegExp, Handler][] = [
    ['POST', /^\/projects$/, (_m, _q, form) => {
      const name = required(form, 'projectName');
      if ([...projects.values()].some((p) => p.name === name)) throw new Refusal(10019, `project ${name} already exists`);
      const now = formatDate(Date.now());
      const created = { owner: caller, id: newId(), code: newCode(), name, description: form.description ?? '', userName: 'admin', createTime: now, updateTime: now };
      projects.set(created.code, created);
      const { owner: _owner, ...answer } = created;
      return { status: 201, data: answer };
    }],
    ['GET', /^\/projects$/, (_m, query) => {
      const search = query.get('searchVal') ?? '';
      const visible = [...projects.values()].filter((p) => p.name.includes(search) && (caller === token || p.owner === caller));
      return { data: page(visible.map(({ owner: _owner, ...answer }) => answer), query) };
    }],
    ['GET', new RegExp(`^${P}$`), (m) => {
      const { owner: _owner, ...answer } = project(Number(m[1]));
      return { data: answer };
    }],
    ['GET', new RegExp(`^${P}/task-definition/gen-task-codes$`), (m, query) => {
      project(Number(m[1]));
      const count = Number(query.get('genNum'));
      if (!Number.isInteger(count) || count < 1 || count > 100) throw new Refusal(10001, 'request parameter genNum is not valid');
      return { data: Array.from({ length: count }, newCode) };
    }],
    ['POST', new RegExp(`^${P}/workflow-definition$`), (m, _q, form) => {
      const projectCode = Number(m[1]);
      project(projectCode);
      const name = required(form, 'name');
      const dag = readDag(form);
      if ([...definitions.values()].some((d) => d.projectCode === projectCode && d.name === name)) {
        throw new Refusal(10168, `workflow definition name ${name} already exists`);
      }
      const now = formatDate(Date.now());
      const def: Definition = {
        id: newId(),
        code: newCode(),
        projectCode,
        name,
        description: form.description ?? '',
        version: 1,
        releaseState: 'OFFLINE',
        globalParams: form.globalParams ?? '[]',
        locations: form.locations ?? '[]',
        timeout: Number(form.timeout ?? 0),
        executionType: form.executionType ?? 'PARALLEL',
        ...dag,
        createTime: now,
        updateTime: now,
        versions: [],
      };
      def.versions.push({ version: 1, name, description: def.description, operateTime: now, updateTime: now });
      definitions.set(def.code, def);
      return { status: 201, data: definitionView(def) };
    }],
    ['GET', new RegExp(`^${P}/workflow-definition$`), (m, query) => {
      const projectCode = Number(m[1]);
      project(projectCode);
      const search = query.get('searchVal') ?? '';
      const found = [...definitions.values()].filter((d) => d.projectCode === projectCode && d.name.includes(search));
      return { data: page(found.map((def) => definitionView(def, true)), query, true) };
    }],
    ['GET', new RegExp(`^${P}/workflow-definition/(\\d+)$`), (m) => ({ data: dagView(definition(Number(m[1]), Number(m[2]))) })],
    ['PUT', new RegExp(`^${P}/workflow-definition/(\\d+)$`), (m, _q, form) => {
      const def = definition(Number(m[1]), Number(m[2]));
      if (def.releaseState === 'ONLINE') throw new Refusal(50008, `workflow definition ${def.name} does not allow edit`);
      const name = required(form, 'name');
      if ([...definitions.values()].some((d) => d.projectCode === def.projectCode && d.name === name && d.code !== def.code)) {
        throw new Refusal(10168, `workflow definition name ${name} already exists`);
      }
      Object.assign(def, readDag(form), {
        name,
        description: form.description ?? '',
        globalParams: form.globalParams ?? '[]',
        locations: form.locations ?? '[]',
        timeout: Number(form.timeout ?? 0),
        executionType: form.executionType ?? 'PARALLEL',
        version: def.version + 1,
        updateTime: formatDate(Date.now()),
      });
      def.versions.push({ version: def.version, name, description: def.description, operateTime: def.updateTime, updateTime: def.updateTime });
      if (form.releaseState === 'ONLINE') def.releaseState = 'ONLINE';
      return { data: definitionView(def) };
    }],
    ['POST', new RegExp(`^${P}/workflow-definition/(\\d+)/release$`), (m, _q, form) => {
      const def = definition(Number(m[1]), Number(m[2]));
      const state = form.releaseState;
      if (state !== 'ONLINE' && state !== 'OFFLINE') throw new Refusal(10108, 'release workflow definition error');
      def.releaseState = state;
      if (state === 'OFFLINE') {
        for (const s of schedules.values()) if (s.workflowDefinitionCode === def.code) s.releaseState = 'OFFLINE';
      }
      return { data: null };
    }],
    ['DELETE', new RegExp(`^${P}/workflow-definition/(\\d+)$`), (m) => {
      const def = definition(Number(m[1]), Number(m[2]));
      if (def.releaseState === 'ONLINE') throw new Refusal(50021, `workflow definition ${def.code} is already online`);
      definitions.delete(def.code);
      for (const [id, s] of schedules) if (s.workflowDefinitionCode === def.code) schedules.delete(id);
      return { data: null };
    }],
    ['GET', new RegExp(`^${P}/workflow-definition/(\\d+)/versions$`), (m, query) => {
      const def = definition(Number(m[1]), Number(m[2]));
      return { data: page([...def.versions].reverse(), query) };
    }],
    ['POST', new RegExp(`^${P}/schedules$`), (m, _q, form) => {
      const projectCode = Number(m[1]);
      const def = definition(projectCode, Number(required(form, 'workflowDefinitionCode')));
      if (def.releaseState !== 'ONLINE') throw new Refusal(50004, `workflow definition ${def.code} not online`);
      if ([...schedules.values()].some((s) => s.workflowDefinitionCode === def.code)) {
        throw new Refusal(10204, `workflow ${def.code} already has a schedule`);
      }
      const now = formatDate(Date.now());
      const created: Schedule = {
        id: newId(),
        projectCode,
        workflowDefinitionCode: def.code,
        ...readSchedule(form),
        releaseState: 'OFFLINE',
        createTime: now,
        updateTime: now,
      };
      schedules.set(created.id, created);
      return { status: 201, data: created };
    }],
    ['GET', new RegExp(`^${P}/schedules$`), (m, query) => {
      const projectCode = Number(m[1]);
      project(projectCode);
      const definitionCode = Number(query.get('workflowDefinitionCode') ?? 0);
      const found = [...schedules.values()].filter(
        (s) => s.projectCode === projectCode && (!definitionCode || s.workflowDefinitionCode === definitionCode),
      );
      return { data: page(found, query) };
    }],
    ['PUT', new RegExp(`^${P}/schedules/(\\d+)$`), (m, _q, form) => {
      const found = schedule(Number(m[1]), Number(m[2]));
      if (found.releaseState === 'ONLINE') throw new Refusal(10023, `online status does not allow update operations`);
      Object.assign(found, readSchedule(form), { updateTime: formatDate(Date.now()) });
      return { data: found };
    }],
    ['POST', new RegExp(`^${P}/schedules/(\\d+)/online$`), (m) => {
      const found = schedule(Number(m[1]), Number(m[2]));
      const def = definition(found.projectCode, found.workflowDefinitionCode);
      if (def.releaseState !== 'ONLINE') throw new Refusal(50004, `workflow definition ${def.code} not online`);
      found.releaseState = 'ONLINE';
      return { data: null };
    }],
    ['POST', new RegExp(`^${P}/schedules/(\\d+)/offline$`), (m) => {
      schedule(Number(m[1]), Number(m[2])).releaseState = 'OFFLINE';
      return { data: null };
    }],
    ['DELETE', new RegExp(`^${P}/schedules/(\\d+)$`), (m) => {
      const found = schedule(Number(m[1]), Number(m[2]));
      if (found.releaseState === 'ONLINE') throw new Refusal(50023, `the status of schedule ${found.id} is already online`);
      schedules.delete(found.id);
      return { data: null };
    }],
    ['POST', new RegExp(`^${P}/executors/start-workflow-instance$`), (m, _q, form) => {
      const projectCode = Number(m[1]);
      const def = definition(projectCode, Number(required(form, 'workflowDefinitionCode')));
      if (def.releaseState !== 'ONLINE') throw new Refusal(50004, `workflow definition ${def.code} workflow version ${def.version} not online`);
      const id = newId();
      const startedAt = Date.now();
      instances.set(id, {
        id,
        projectCode,
        definitionCode: def.code,
        definitionVersion: def.version,
        name: `${def.name}-${def.version}-${startedAt}`,
        startedAt,
        plan: plan(def),
        tenantCode: form.tenantCode ?? 'default',
      });
      return { data: [id] };
    }],
    ['GET', new RegExp(`^${P}/workflow-instances$`), (m, query) => {
      const projectCode = Number(m[1]);
      project(projectCode);
      const definitionCode = Number(query.get('workflowDefinitionCode') ?? 0);
      const stateType = query.get('stateType');
      const found = [...instances.values()]
        .filter((run) => run.projectCode === projectCode && (!definitionCode || run.definitionCode === definitionCode))
        .sort((a, b) => b.startedAt - a.startedAt || b.id - a.id)
        .map(instanceView)
        .filter((view) => !stateType || view.state === stateType);
      return { data: page(found, query, true) };
    }],
    ['GET', new RegExp(`^${P}/workflow-instances/(\\d+)$`), (m) => ({ data: instanceView(instance(Number(m[1]), Number(m[2]))) })],
    ['GET', new RegExp(`^${P}/workflow-instances/(\\d+)/tasks$`), (m) => {
      const run = instance(Number(m[1]), Number(m[2]));
      return { data: { workflowInstanceState: instanceState(run).state, taskList: taskInstancesView(run) } };
    }],
    ['POST', new RegExp(`^${P}/executors/execute$`), (m, _q, form) => {
      const run = instance(Number(m[1]), Number(required(form, 'workflowInstanceId')));
      const executeType = required(form, 'executeType');
      const { state } = instanceState(run);
      if (executeType !== 'STOP') throw new Refusal(10001, `the fake runs STOP only, not ${executeType}`);
      if (state !== 'RUNNING_EXECUTION') throw new Refusal(50006, `workflow instance ${run.id} state is ${state}, STOP not allowed`);
      run.stoppedAt = Date.now();
      return { data: null };
    }],
  ];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.startsWith(CONTEXT) ? url.pathname.slice(CONTEXT.length) : url.pathname;
    const body = await readBody(req);
    const form = Object.fromEntries(new URLSearchParams(body));
    const header = req.headers.token;
    requests.push({ method: req.method ?? 'GET', path: path + url.search, form, token: Array.isArray(header) ? header[0] : header });

    const fault = faults.find((f) => f.left > 0 && (!f.method || f.method === req.method) && (!f.path || f.path.test(path + url.search)));
    if (fault) {
      fault.left--;
      if (fault.delayMs) {
        await holdUnlessGone(res, fault.delayMs);
        if (res.destroyed) return;
      }
      if (fault.status !== undefined || fault.body !== undefined) {
        res.writeHead(fault.status ?? 200, { 'content-type': 'application/json' }).end(fault.body ?? '');
        return;
      }
    }
    if (header !== token && header !== otherUserToken) {
      res.writeHead(401).end();
      return;
    }
    caller = header;
    const route = routes.find(([method, pattern]) => method === req.method && pattern.test(path));
    if (!route) {
      // What Spring answers for an unknown path: JSON, but not the envelope.
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 404, error: 'Not Found', path: req.url }));
      return;
    }
    let status: number;
    let envelope: { code: number; msg: string; data: unknown };
    try {
      const answer = route[2](route[1].exec(path)!, url.searchParams, form);
      status = answer.status ?? 200;
      envelope = { ...SUCCESS, data: answer.data };
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      status = 200;
      envelope = { code: error.code, msg: error.message, data: null };
    }
    if (fault?.answerAfterMs) {
      await holdUnlessGone(res, fault.answerAfterMs);
      if (res.destroyed) return;
    }
    send(res, status, envelope);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      if (!res.headersSent) send(res, 500, { code: 10000, msg: `fake failed: ${error.message}`, data: null });
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${CONTEXT}`,
    token,
    otherUserToken,
    requests,
    inject(fault) {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    seedInstances(projectCode, definitionCode, count, state = 'SUCCESS') {
      const def = definition(projectCode, definitionCode);
      const base = Date.now() - count * 60_000;
      for (let i = 0; i < count; i++) {
        const id = newId();
        instances.set(id, {
          id,
          projectCode,
          definitionCode,
          definitionVersion: def.version,
          name: `${def.name}-seeded-${i}`,
          startedAt: base + i * 60_000,
          plan: [],
          fixedState: state,
          tenantCode: 'default',
        });
      }
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Waits `ms`, or less when the caller hangs up (then nobody waits for the answer). */
function holdUnlessGone(res: ServerResponse, ms: number): Promise<void> {
  return new Promise<void>((done) => {
    const timer = setTimeout(done, ms);
    res.once('close', () => {
      clearTimeout(timer);
      done();
    });
  });
}

function send(res: ServerResponse, status: number, envelope: { code: number; msg: string; data: unknown }): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ ...envelope, success: envelope.code === 0, failed: envelope.code !== 0 }));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

function required(form: Record<string, string>, name: string): string {
  const value = form[name];
  if (value === undefined || value === '') throw new Refusal(10001, `request parameter ${name} is not valid`);
  return value;
}

function parseJsonField<T>(form: Record<string, string>, name: string): T {
  try {
    return JSON.parse(required(form, name)) as T;
  } catch (error) {
    if (error instanceof Refusal) throw error;
    throw new Refusal(50017, `data ${name} not valid`);
  }
}

function readSchedule(form: Record<string, string>) {
  const schedule = parseJsonField<{ startTime?: string; endTime?: string; crontab?: string; timezoneId?: string }>(form, 'schedule');
  if (!schedule.crontab || schedule.crontab.trim().split(/\s+/).length < 6) throw new Refusal(10024, `${schedule.crontab} verify failure`);
  return {
    startTime: schedule.startTime ?? '',
    endTime: schedule.endTime ?? '',
    crontab: schedule.crontab,
    timezoneId: schedule.timezoneId ?? 'UTC',
    failureStrategy: form.failureStrategy ?? 'END',
    warningType: form.warningType ?? 'NONE',
    warningGroupId: Number(form.warningGroupId ?? 0),
    workerGroup: form.workerGroup ?? 'default',
    environmentCode: Number(form.environmentCode ?? -1),
    tenantCode: form.tenantCode ?? 'default',
  };
}

function page<T>(items: T[], query: URLSearchParams, pagingRequired = false) {
  const pageNo = Number(query.get('pageNo') ?? (pagingRequired ? NaN : 1));
  const pageSize = Number(query.get('pageSize') ?? (pagingRequired ? NaN : 10));
  if (!Number.isInteger(pageNo) || pageNo < 1 || !Number.isInteger(pageSize) || pageSize < 1) {
    throw new Refusal(10001, 'request parameter pageNo or pageSize is not valid');
  }
  return {
    totalList: items.slice((pageNo - 1) * pageSize, pageNo * pageSize),
    total: items.length,
    totalPage: Math.ceil(items.length / pageSize),
    pageSize,
    currentPage: pageNo,
    start: (pageNo - 1) * pageSize,
  };
}

function topologicalOrder(tasks: StoredTask[], relations: StoredRelation[]): StoredTask[] {
  const byCode = new Map(tasks.map((task) => [task.code, task]));
  const ordered: StoredTask[] = [];
  const done = new Set<number>();
  const visit = (code: number) => {
    if (done.has(code)) return;
    done.add(code);
    for (const r of relations) if (r.postTaskCode === code && r.preTaskCode !== 0) visit(r.preTaskCode);
    const task = byCode.get(code);
    if (task) ordered.push(task);
  };
  for (const task of tasks) visit(task.code);
  return ordered;
}

function hasCycle(tasks: StoredTask[], relations: StoredRelation[]): boolean {
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (code: number): boolean => {
    if (state.get(code) === 'done') return false;
    if (state.get(code) === 'visiting') return true;
    state.set(code, 'visiting');
    const cyclic = relations.some((r) => r.preTaskCode === code && visit(r.postTaskCode));
    state.set(code, 'done');
    return cyclic;
  };
  return tasks.some((task) => visit(task.code));
}

function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
