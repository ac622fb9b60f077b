import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from './temporal-dev-server';

/** How a supervised process is restarted after it exits on its own. */
export interface RestartPolicy {
  /**
   * Wait before the first restart; each quick exit doubles it.
   * @default 1000
   */
  initialDelayMs?: number;
  /**
   * The longest wait between restarts.
   * @default 30000
   */
  maxDelayMs?: number;
  /**
   * A process that stayed up this long counts as healthy: its next restart waits `initialDelayMs` again.
   * @default 60000
   */
  healthyAfterMs?: number;
}

export interface SupervisedProcess {
  /** Shown in every log line about the process. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the child's output goes. @default 'inherit' */
  readonly stdio?: 'inherit' | 'ignore';
}

/** What the supervisor reports; `scripts/up.ts` prints it, tests collect it. */
export type SupervisorEvent =
  | { readonly kind: 'started'; readonly name: string; readonly pid: number | undefined; readonly restarts: number }
  | {
      readonly kind: 'exited';
      readonly name: string;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly restartInMs: number;
    };

/**
 * Keeps a process running: when it exits on its own (a crash, an out-of-memory kill, a fatal error)
 * it is started again after an exponential backoff, so one failing process neither stops the rest
 * of the system nor spins the machine. Only `stop()` ends it for good.
 */
export class Supervisor {
  private child?: ChildProcess;
  private restartTimer?: NodeJS.Timeout;
  private restarts = 0;
  private delayMs: number;
  private stopped = false;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly healthyAfterMs: number;

  constructor(
    private readonly spec: SupervisedProcess,
    private readonly report: (event: SupervisorEvent) => void,
    policy: RestartPolicy = {},
  ) {
    this.initialDelayMs = policy.initialDelayMs ?? 1000;
    this.maxDelayMs = policy.maxDelayMs ?? 30_000;
    this.healthyAfterMs = policy.healthyAfterMs ?? 60_000;
    this.delayMs = this.initialDelayMs;
  }

  start(): void {
    const { command, args, cwd, env, stdio = 'inherit', name } = this.spec;
    // Its own process group, so a terminal's Ctrl-C reaches it through its owner, in order.
    const child = spawn(command, [...args], { cwd, env, stdio, detached: true });
    const startedAt = Date.now();
    this.child = child;
    this.report({ kind: 'started', name, pid: child.pid, restarts: this.restarts });
    child.once('exit', (code, signal) => {
      if (this.stopped) return;
      killGroupLeftovers(child);
      if (Date.now() - startedAt >= this.healthyAfterMs) this.delayMs = this.initialDelayMs;
      const restartInMs = this.delayMs;
      this.report({ kind: 'exited', name, code, signal, restartInMs });
      this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
      this.restarts++;
      this.restartTimer = setTimeout(() => this.start(), restartInMs);
    });
  }

  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`) and any pending restart. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    if (this.child) await stopChild(this.child, graceMs);
  }
}

/**
 * A wrapper (tsx) that dies leaves its own child running with the port or task queue it held, so
 * whatever is left of the process group goes with it before the restart.
 */
function killGroupLeftovers(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // The group is already empty.
  }
}
