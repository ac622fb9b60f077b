import { Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadWorkerConfig } from '../../common/config';
import { createLogger } from '../../common/logger';
import { ensureSearchAttributes } from '../../common/temporal';
import { sdkLoggerFor } from './sdk-logger';
import { createRunWorker } from './worker';

/**
 * Runs a worker until SIGINT or SIGTERM. The Temporal runtime catches those signals itself and
 * starts a graceful shutdown: polling stops and in-flight activities get the grace time to finish.
 */
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

  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const worker = await createRunWorker({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TASK_QUEUE,
      logger,
    });
    logger.info({ address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TASK_QUEUE }, 'worker started');
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  createLogger('worker').fatal({ err: error }, 'worker failed');
  process.exit(1);
});
