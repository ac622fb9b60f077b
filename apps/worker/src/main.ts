import { Connection } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { loadWorkerConfig } from '../../common/config';
import { createLogger } from '../../common/logger';
import { ensureSearchAttributes } from '../../common/temporal';
import { sdkLoggerFor } from './sdk-logger';
import { runWorkerUntilShutdown } from './worker';

/** Runs a worker until SIGINT or SIGTERM. */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const logger = createLogger('worker', config.LOG_LEVEL);
  Runtime.install({ logger: sdkLoggerFor(logger) });

  const adminConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    await ensureSearchAttributes(adminConnection, config.TEMPORAL_NAMESPACE);
  } finally {
    await adminConnection.close();
  }

  await runWorkerUntilShutdown(config, { logger });
}

main().catch((error: unknown) => {
  createLogger('worker').fatal({ err: error }, 'worker failed');
  process.exit(1);
});
