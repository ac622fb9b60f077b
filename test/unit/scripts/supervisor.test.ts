import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor, type SupervisorEvent } from '../../../scripts/lib/supervisor';

/** Real child processes: a crashing one is restarted with growing waits, and only stop() ends it. */

const node = process.execPath;

function collect(): { events: SupervisorEvent[]; report: (event: SupervisorEvent) => void } {
  const events: SupervisorEvent[] = [];
  return { events, report: (event) => events.push(event) };
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Supervisor', () => {
  it('restarts a process that keeps exiting, doubling the wait up to the maximum', async () => {
    const { events, report } = collect();
    const crashing = new Supervisor(
      { name: 'crasher', command: node, args: ['-e', 'process.exit(3)'], stdio: 'ignore' },
      report,
      { initialDelayMs: 50, maxDelayMs: 200, healthyAfterMs: 60_000 },
    );
    crashing.start();
    await until(() => events.filter((e) => e.kind === 'exited').length >= 5);
    await crashing.stop();

    const exits = events.filter((e) => e.kind === 'exited');
    expect(exits.slice(0, 5).map((e) => e.restartInMs)).toEqual([50, 100, 200, 200, 200]);
    expect(exits.every((e) => e.code === 3 && e.name === 'crasher')).toBe(true);
    const starts = events.filter((e) => e.kind === 'started');
    expect(starts.map((e) => e.restarts).slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(starts.map((e) => e.pid)).size).toBe(starts.length);
  });

  it('restarts a process killed by a signal, and stop() ends it for good', async () => {
    const { events, report } = collect();
    const server = new Supervisor(
      { name: 'server', command: node, args: ['-e', 'setInterval(() => {}, 1000)'], stdio: 'ignore' },
      report,
      { initialDelayMs: 20 },
    );
    server.start();
    await until(() => events.length === 1);
    const first = events[0] as Extract<SupervisorEvent, { kind: 'started' }>;
    process.kill(first.pid!, 'SIGKILL');
    await until(() => events.filter((e) => e.kind === 'started').length === 2);
    expect(events[1]).toMatchObject({ kind: 'exited', signal: 'SIGKILL', restartInMs: 20 });

    const second = events[2] as Extract<SupervisorEvent, { kind: 'started' }>;
    await server.stop(5_000);
    expect(() => process.kill(second.pid!, 0)).toThrow();
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toHaveLength(3);
  });

  it('waits the initial delay again after a process stayed up long enough to count as healthy', async () => {
    const { events, report } = collect();
    const flaky = new Supervisor(
      { name: 'flaky', command: node, args: ['-e', 'setTimeout(() => process.exit(1), 150)'], stdio: 'ignore' },
      report,
      { initialDelayMs: 30, maxDelayMs: 1000, healthyAfterMs: 100 },
    );
    flaky.start();
    await until(() => events.filter((e) => e.kind === 'exited').length >= 3);
    await flaky.stop();
    const waits = events.flatMap((e) => (e.kind === 'exited' ? [e.restartInMs] : []));
    expect(waits.slice(0, 3)).toEqual([30, 30, 30]);
  });

  it('kills what a dead process left running in its group before restarting it', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'supervisor-')), 'grandchild.pid');
    // Like tsx: a wrapper whose own child does the work; the wrapper dies, the child would linger.
    const wrapper = `
      const { spawn } = require('node:child_process');
      const worker = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(worker.pid));
      setTimeout(() => process.exit(1), 100);
    `;
    const { events, report } = collect();
    const app = new Supervisor({ name: 'wrapped', command: node, args: ['-e', wrapper], stdio: 'ignore' }, report, {
      initialDelayMs: 60_000,
    });
    app.start();
    await until(() => events.some((e) => e.kind === 'exited'));
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await until(() => {
      try {
        process.kill(grandchild, 0);
        return false;
      } catch {
        return true;
      }
    });
    await app.stop();
  });
});
