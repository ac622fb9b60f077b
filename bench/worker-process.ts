/**
 * A worker process like apps/worker's (same code path, settings and configuration), running the
 * benchmark's bundle: the engine's workflow and the hand-written ones, so that the two can be
 * measured in identical processes.
 */
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { loadWorkerConfig } from '../apps/common/config';
import { createLogger } from '../apps/common/logger';
import { runWorkerUntilShutdown, runWorkflowBundlerOptions } from '../apps/worker/src/worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    ...runWorkflowBundlerOptions,
    logger: new DefaultLogger('ERROR'),
  });
  await runWorkerUntilShutdown(config, { workflowBundle, logger: createLogger('bench-worker', config.LOG_LEVEL), shutdownGraceTime: '1s' });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
