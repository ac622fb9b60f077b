import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { startEmbeddedPostgres } from '../../scripts/lib/embedded-postgres';
import { freePort } from '../../scripts/lib/free-port';
import { migrateDatabase } from '../../scripts/lib/migrate';

/**
 * A PostgreSQL of a test's own, with the migrations applied, for tests that stop or freeze it.
 * embedded-postgres is an ES module, which Jest's CommonJS sandbox cannot import, so the server is
 * started and stopped by a small process of its own (this file, run with tsx).
 *
 *   const database = await startDedicatedPostgres(dataDir);   // database.url
 *   database.postmasterPid()                                   // to SIGSTOP / SIGCONT
 *   await database.stop();
 */
export interface DedicatedPostgres {
  readonly url: string;
  postmasterPid(): number;
  stop(): Promise<void>;
}

export async function startDedicatedPostgres(dataDir: string): Promise<DedicatedPostgres> {
  const tsx = resolve(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, [__filename, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await firstLine(child);
  let stopped: Promise<void> | undefined;
  return {
    url,
    postmasterPid: () => Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]),
    stop() {
      stopped ??= new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      });
      return stopped;
    },
  };
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolveLine, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolveLine(line.trim()));
    child.once('exit', (code) => reject(new Error(`the dedicated PostgreSQL exited (${code}) before it was ready`)));
  });
}

/** The process side: start, migrate, print the URL, and stop the server on SIGTERM. */
async function serve(dataDir: string): Promise<void> {
  const database = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: 'dedicated' });
  process.once('SIGTERM', () => {
    void database.stop().finally(() => process.exit(0));
  });
  await migrateDatabase(database.url);
  process.stdout.write(`${database.url}\n`);
}

if (require.main === module) {
  serve(process.argv[2]!).catch((error: unknown) => {
    process.stderr.write(`dedicated PostgreSQL failed: ${String(error)}\n`);
    process.exit(1);
  });
}
