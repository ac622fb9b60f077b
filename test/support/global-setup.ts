import { chmodSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startEmbeddedPostgres } from '../../scripts/lib/embedded-postgres';
import { migrateDatabase } from '../../scripts/lib/migrate';
import { startTemporalDevServer } from '../../scripts/lib/temporal-dev-server';
import { freePort } from '../../scripts/lib/free-port';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../../apps/common/temporal';
import { useDolphinScheduler } from '../../scripts/lib/dolphinscheduler';
import globalTeardown, { type RealParts } from './global-teardown';

/** What of Jest's global configuration tells which test files run (Jest 29 names). */
interface TestSelection {
  testPathPattern?: string;
  findRelatedTests?: boolean;
  onlyChanged?: boolean;
  changedSince?: string;
  lastCommit?: boolean;
}

const dolphinSchedulerTests = resolve(__dirname, '..', 'dolphinscheduler');

/**
 * Brings up the real parts once per test run: a fresh PostgreSQL with the committed migrations
 * applied, and a Temporal dev server. DATABASE_URL or TEMPORAL_ADDRESS, when set, are used instead.
 * Test files read the addresses from the environment, which Jest's workers inherit.
 *
 * A run that includes a test file of test/dolphinscheduler/ other than `*.fake.test.ts` also gets
 * a real DolphinScheduler (DOLPHINSCHEDULER_URL, _TOKEN and _TENANT), started alongside the rest:
 * it costs ~20 s and ~700 MB, which the other suites (and the fake's) need not pay.
 */
export default async function globalSetup(selection: TestSelection = {}): Promise<void> {
  const started: RealParts = {};
  (globalThis as Record<string, unknown>).__realParts = started;

  const dolphinScheduler = includesRealDolphinSchedulerTests(selection)
    ? useDolphinScheduler((line) => process.stderr.write(`dolphinscheduler: ${line}\n`)).then((server) => {
        started.dolphinscheduler = server;
        process.env.DOLPHINSCHEDULER_URL = server.url;
        process.env.DOLPHINSCHEDULER_TOKEN = server.token;
        process.env.DOLPHINSCHEDULER_TENANT = server.tenantCode;
      })
    : undefined;
  // Handled where it is awaited; meanwhile a failure must not count as unhandled.
  dolphinScheduler?.catch(() => undefined);
  try {
    await startTheRest(started);
    await dolphinScheduler;
  } catch (error) {
    // Jest runs no global teardown after a failed setup: what did start is stopped here, so no
    // server outlives the run (the DolphinScheduler start is waited for, to be released too).
    await dolphinScheduler?.catch(() => undefined);
    // The set-up's failure is the one to read; one in stopping is printed beside it.
    await globalTeardown().catch((stopping: unknown) => process.stderr.write(`stopping what the failed set-up started also failed: ${String(stopping)}\n`));
    throw error;
  }
}

async function startTheRest(started: RealParts): Promise<void> {
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

/**
 * Whether the run's files may include a real-server test of test/dolphinscheduler/: Jest matches
 * its path pattern against absolute paths; runs selected by version control are assumed to.
 */
function includesRealDolphinSchedulerTests(selection: TestSelection): boolean {
  if (selection.findRelatedTests || selection.onlyChanged || selection.changedSince || selection.lastCommit) return true;
  if (!selection.testPathPattern) return true;
  const pattern = new RegExp(selection.testPathPattern, 'i');
  return readdirSync(dolphinSchedulerTests, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.test.ts') && !name.endsWith('.fake.test.ts'))
    .some((name) => pattern.test(join(dolphinSchedulerTests, name)));
}
