import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import { stopChild } from '../../scripts/lib/temporal-dev-server';
import { validateSpec } from '../../workflows/spec/validate';
import type { BenchEnvironment } from '../environment';
import { historyEventCounts, peakPendingActivities, runInput, startEngineRun } from '../runs';
import { approvalOnlySpec, linearNoopSpec, wideNoopSpec } from '../specs';
import { mapConcurrently, median, round } from '../stats';

export async function measureValidation(steps: number, repetitions: number): Promise<{ steps: number; medianMs: number }> {
  const spec = linearNoopSpec(steps);
  const samples: number[] = [];
  for (let i = 0; i < repetitions + 1; i++) {
    const begin = performance.now();
    const result = validateSpec(spec);
    const ms = performance.now() - begin;
    if (!result.ok) throw new Error(`the ${steps}-step spec is invalid: ${result.issues[0]?.message}`);
    if (i > 0) samples.push(ms); // the first parse warms the JIT
  }
  return { steps, medianMs: round(median(samples)) };
}

export interface LongRunResult {
  steps: number;
  completed: boolean;
  wallSeconds: number;
  runsInChain: number;
  maxEventsPerRun: number;
  totalEvents: number;
}

/** A run far longer than one history should hold: continue-as-new must carry it to the end. */
export async function measureLongRun(env: BenchEnvironment, taskQueue: string, steps: number): Promise<LongRunResult> {
  const begin = performance.now();
  const handle = await startEngineRun(env, runInput(linearNoopSpec(steps)), taskQueue);
  const result = (await handle.result()) as { status: string };
  const counts = await historyEventCounts(env, handle.workflowId);
  return {
    steps,
    completed: result.status === 'succeeded',
    wallSeconds: round((performance.now() - begin) / 1000, 1),
    runsInChain: counts.length,
    maxEventsPerRun: Math.max(...counts),
    totalEvents: counts.reduce((a, b) => a + b, 0),
  };
}

export interface WideRunResult {
  width: number;
  completed: boolean;
  wallSeconds: number;
  runsInChain: number;
  maxEventsPerRun: number;
  /** The most activities pending at once in any run of the chain: the engine's cap on steps in flight. */
  peakPendingActivities: number;
}

/**
 * A run wider than Temporal allows pending activities (2,000): every step is ready at once, the
 * engine keeps its default cap in flight and starts the rest as slots free, continuing as new on the way.
 */
export async function measureWideRun(env: BenchEnvironment, taskQueue: string, width: number): Promise<WideRunResult> {
  const begin = performance.now();
  const handle = await startEngineRun(env, runInput(wideNoopSpec(width)), taskQueue);
  const result = (await handle.result()) as { status: string };
  const wallSeconds = round((performance.now() - begin) / 1000, 1);
  const counts = await historyEventCounts(env, handle.workflowId);
  return {
    width,
    completed: result.status === 'succeeded',
    wallSeconds,
    runsInChain: counts.length,
    maxEventsPerRun: Math.max(...counts),
    peakPendingActivities: await peakPendingActivities(env, handle.workflowId),
  };
}

export interface WaitingMemorySide {
  workerRssMbBefore: number;
  workerRssMbAfter: number;
  perRunKb: number;
}

export interface WaitingMemoryResult {
  runs: number;
  /** Each worker's cache, sized to hold every run: an evicted run would cost no memory. */
  maxCachedWorkflows: number;
  engine: WaitingMemorySide;
  /** The same number of hand-written workflows waiting on an update: Temporal's own cost per run. */
  handWritten: WaitingMemorySide;
}

/**
 * One worker process holding `runs` runs, each waiting on an approval, then a fresh one holding as
 * many hand-written workflows waiting on an update.
 */
export async function measureWaitingMemory(env: BenchEnvironment, runs: number): Promise<WaitingMemoryResult> {
  const maxCachedWorkflows = runs + 100;
  const input = runInput(approvalOnlySpec('nobody'));
  const engine = await measureWaitingSide(env, runs, maxCachedWorkflows, (taskQueue) => startEngineRun(env, input, taskQueue));
  const handWritten = await measureWaitingSide(env, runs, maxCachedWorkflows, (taskQueue) =>
    env.client.workflow.start('handWrittenApproval', { taskQueue, workflowId: `wait-${randomUUID()}` }),
  );
  return { runs, maxCachedWorkflows, engine, handWritten };
}

async function measureWaitingSide(
  env: BenchEnvironment,
  runs: number,
  maxCachedWorkflows: number,
  start: (taskQueue: string) => Promise<WorkflowHandle>,
): Promise<WaitingMemorySide> {
  const taskQueue = `bench-memory-${randomUUID()}`;
  const worker = await env.startWorkerProcess(taskQueue, { bundle: 'bench', config: { WORKER_MAX_CACHED_WORKFLOWS: String(maxCachedWorkflows) } });
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const before = rssMb(worker.pid!);
    const handles = await mapConcurrently(Array.from({ length: runs }), 32, () => start(taskQueue));
    // Both kinds mark themselves waiting_approval in visibility once they wait.
    const query = `RunStatus = 'waiting_approval' AND TaskQueue = '${taskQueue}'`;
    const deadline = Date.now() + 600_000;
    while ((await env.client.workflow.count(query)).count < runs) {
      if (Date.now() > deadline) throw new Error('runs did not all reach their approval within 10 minutes');
      await new Promise((r) => setTimeout(r, 1000));
    }
    const after = rssMb(worker.pid!);
    await mapConcurrently(handles, 32, (handle) => handle.terminate('benchmark done').catch(() => undefined));
    return { workerRssMbBefore: before, workerRssMbAfter: after, perRunKb: round(((after - before) * 1024) / runs, 1) };
  } finally {
    await stopChild(worker);
  }
}

function rssMb(pid: number): number {
  // tsx runs the worker in a child node process; measure the whole tree the worker owns.
  const pids = [pid, ...childPids(pid)];
  const kb = pids.reduce((sum, p) => sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0), 0);
  return round(kb / 1024, 1);
}

function childPids(pid: number): number[] {
  let children: number[];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...childPids(child)]);
}
