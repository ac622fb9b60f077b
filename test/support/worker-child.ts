import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workflowBundle } from './worker';

/**
 * A run worker in a separate process (test/support/worker-process.ts, run with tsx as `npm run
 * worker` runs apps/worker), for tests that kill a worker part-way. It is started in a process group
 * of its own, so killing it kills tsx and the node process tsx starts, and `kill()` proves none is
 * left. Every wait is bounded.
 */

/** What the worker process prints once it polls its task queue. */
export const READY_LINE = 'worker-process: polling';

export interface WorkerProcess {
  /** The process id of tsx, which is also the id of the process group. */
  readonly pid: number;
  /** What the process wrote to stdout and stderr so far (for failure messages). */
  output(): string;
  /** SIGKILLs the whole group, then waits until no process of it is left. */
  kill(): Promise<void>;
}

const ROOT = join(__dirname, '..', '..');
const TSX_CLI = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const SCRIPT = join(__dirname, 'worker-process.ts');

export async function startWorkerProcess(options: {
  taskQueue: string;
  /** One keyring entry (Keyring.generateEntry), the same as the API's. */
  secretsKeys: string;
  requestTimeoutMs?: number;
  readyTimeoutMs?: number;
}): Promise<WorkerProcess> {
  const { TEMPORAL_ADDRESS, DATABASE_URL } = process.env;
  if (!TEMPORAL_ADDRESS || !DATABASE_URL) throw new Error('TEMPORAL_ADDRESS and DATABASE_URL are unset: run through jest (global setup)');
  // The parent's bundle, so the child starts in seconds instead of bundling the workflows again.
  const bundleDir = mkdtempSync(join(tmpdir(), 'worker-process-'));
  const bundlePath = join(bundleDir, 'workflows.js');
  writeFileSync(bundlePath, (await workflowBundle()).code);

  const child: ChildProcess = spawn(process.execPath, [TSX_CLI, SCRIPT], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TASK_QUEUE: options.taskQueue,
      SECRETS_KEYS: options.secretsKeys,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      DOLPHINSCHEDULER_REQUEST_TIMEOUT_MS: String(options.requestTimeoutMs ?? 15_000),
    },
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('the worker process did not start');
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let killed = false;

  const kill = async (): Promise<void> => {
    if (!killed) {
      killed = true;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
    await within(exited, 10_000, 'the worker process did not exit after SIGKILL');
    const deadline = Date.now() + 10_000;
    while (livingMembersOf(pid).length > 0) {
      if (Date.now() > deadline) throw new Error(`processes of the worker's group are still alive: ${livingMembersOf(pid).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    rmSync(bundleDir, { recursive: true, force: true });
  };

  try {
    await within(
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (output.includes(READY_LINE)) resolve();
        };
        child.stdout!.on('data', check);
        child.once('exit', (code, signal) => reject(new Error(`the worker process exited (${code ?? signal}) before polling:\n${output}`)));
      }),
      options.readyTimeoutMs ?? 90_000,
      'the worker process did not start polling',
    );
  } catch (error) {
    await kill();
    throw error;
  }
  return { pid, output: () => output, kill };
}

/** The processes of a process group that are alive (zombies, already dead, are not). */
function livingMembersOf(processGroup: number): number[] {
  const living: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses, so read after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === processGroup && state !== 'Z' && state !== 'X') living.push(Number(entry));
  }
  return living;
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
