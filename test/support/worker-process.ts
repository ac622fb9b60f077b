import { NativeConnection } from '@temporalio/worker';
import { createRunWorker } from '../../apps/worker/src/worker';
import { Keyring } from '../../apps/common/crypto/keyring';
import { createPrismaClient } from '../../apps/common/database';
import { createLogger } from '../../apps/common/logger';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { READY_LINE } from './worker-child';

/**
 * A run worker in a process of its own, started by test/support/worker-child.ts for tests that kill
 * a worker part-way (SIGKILL: no shutdown, no grace time, connections dropped as a crash drops them).
 * It is wired as production wires one with a database (createRunWorker, the database, the secret
 * store), from the environment the parent gives it:
 *
 *   TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TASK_QUEUE, DATABASE_URL, SECRETS_KEYS (one keyring entry),
 *   WORKFLOW_BUNDLE_PATH (the parent's bundle, so the child does not bundle again),
 *   DOLPHINSCHEDULER_REQUEST_TIMEOUT_MS.
 *
 * It prints READY_LINE on stdout once it polls.
 */

async function main(): Promise<void> {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`worker-process: ${name} is not set`);
    return value;
  };
  const logger = createLogger('worker-process', process.env.LOG_LEVEL ?? 'warn');
  const prisma = createPrismaClient(env('DATABASE_URL'));
  const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
  const worker = await createRunWorker({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env('TASK_QUEUE'),
    workflowBundle: { codePath: env('WORKFLOW_BUNDLE_PATH') },
    logger,
    prisma,
    secrets: new SecretStore(prisma, Keyring.parse(env('SECRETS_KEYS'), 'SECRETS_KEYS')),
    publishing: { requestTimeoutMs: Number(process.env.DOLPHINSCHEDULER_REQUEST_TIMEOUT_MS ?? 15_000) },
  });
  const running = worker.run();
  process.stdout.write(`${READY_LINE}\n`);
  await running;
}

main().catch((error: unknown) => {
  process.stderr.write(`worker-process failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
