import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../scripts/lib/embedded-postgres';
import { migrateDatabase } from '../../scripts/lib/migrate';
import { startTemporalDevServer, type DevServer } from '../../scripts/lib/temporal-dev-server';
import { freePort } from '../../scripts/lib/free-port';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../../apps/common/temporal';

/**
 * Brings up the real parts once per test run: a fresh PostgreSQL with the committed migrations
 * applied, and a Temporal dev server. DATABASE_URL or TEMPORAL_ADDRESS, when set, are used instead.
 * Test files read the addresses from the environment, which Jest's workers inherit.
 */
export default async function globalSetup(): Promise<void> {
  const started: { database?: EmbeddedDatabase; temporal?: DevServer; runDir?: string } = {};
  (globalThis as Record<string, unknown>).__realParts = started;

  const runDir = mkdtempSync(join(tmpdir(), 'flowpilot-test-'));
  started.runDir = runDir;
  chmodSync(runDir, 0o755); // the database server may run as another user (see startEmbeddedPostgres)

  if (!process.env.DATABASE_URL) {
    const dataDir = join(runDir, 'postgres');
    started.database = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: 'flowpilot_test' });
    process.env.DATABASE_URL = started.database.url;
  }
  await migrateDatabase(process.env.DATABASE_URL);

  if (!process.env.TEMPORAL_ADDRESS) {
    started.temporal = await startTemporalDevServer({
      port: await freePort(),
      uiPort: await freePort(),
      logFile: join(runDir, 'temporal.log'),
    });
    process.env.TEMPORAL_ADDRESS = started.temporal.address;
  }
  process.env.TEMPORAL_NAMESPACE ??= 'default';
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  try {
    await ensureSearchAttributes(connection, process.env.TEMPORAL_NAMESPACE);
  } finally {
    await connection.close();
  }
}
