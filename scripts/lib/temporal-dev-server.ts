import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { Connection } from '@temporalio/client';

export interface DevServer {
  readonly address: string;
  readonly uiUrl: string;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  port: number;
  uiPort: number;
  /** SQLite file that keeps the server's state across restarts; in memory when omitted. */
  dbFilename?: string;
  namespace?: string;
  /** Where the server's own log goes; the terminal when omitted. */
  logFile?: string;
  /** A codec server the Web UI decodes payloads through (the API's /api/v1/codec). */
  uiCodecEndpoint?: string;
}

const toolsBin = resolve(__dirname, '..', '..', '.tools', 'venv', 'bin');

/** The Temporal CLI installed by scripts/bootstrap.sh, unless TEMPORAL_CLI names another. */
export function temporalCliPath(): string {
  return process.env.TEMPORAL_CLI ?? resolve(toolsBin, 'temporal');
}

export function temporalTestServerPath(): string {
  return process.env.TEMPORAL_TEST_SERVER ?? resolve(toolsBin, 'temporal-test-server');
}

export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = temporalCliPath();
  if (!existsSync(cli)) throw new Error(`Temporal CLI not found at ${cli}; run scripts/bootstrap.sh`);
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(options.port),
    '--ui-port', String(options.uiPort),
    '--namespace', options.namespace ?? 'default',
    '--log-level', 'error',
    // Lets one run hold thousands of pending approvals and large fan-outs without rate limiting.
    '--dynamic-config-value', 'frontend.namespaceRPS=100000',
  ];
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  if (options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  // Its own process group, so Ctrl-C in a terminal reaches it through its owner, in order.
  const log = options.logFile ? openSync(options.logFile, 'a') : 'inherit';
  const child = spawn(cli, args, { stdio: ['ignore', 'ignore', log], detached: true });
  if (typeof log === 'number') closeSync(log);
  const address = `127.0.0.1:${options.port}`;
  await waitUntilServing(address, child);
  return {
    address,
    uiUrl: `http://127.0.0.1:${options.uiPort}`,
    stop: () => stopChild(child),
  };
}

async function waitUntilServing(address: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Temporal dev server exited with code ${child.exitCode}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`Temporal dev server at ${address} did not come up: ${String(lastError)}`);
}

export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(killer);
      done();
    });
    child.kill('SIGTERM');
  });
}
