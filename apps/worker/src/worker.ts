import type { Duration } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../../../activities';
import { createLogger } from '../../common/logger';

export interface RunWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** A prebuilt bundle (production, tests); without it the workflows are bundled at start-up. */
  workflowBundle?: { code: string } | { codePath: string };
  logger?: Logger;
  /** How long in-flight activities may finish after shutdown starts. */
  shutdownGraceTime?: Duration;
}

/**
 * A worker for runs. It keeps no state of its own, so any number of them can share a task queue.
 *
 * Heartbeats are sent at least every second: an HTTP step learns of its cancellation (failFast,
 * `any`, run cancel) through its next heartbeat, so this bounds how long a cancelled call lingers.
 */
export async function createRunWorker(options: RunWorkerOptions): Promise<Worker> {
  const logger = options.logger ?? createLogger('worker');
  const workflows = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath: require.resolve('../../../workflows') };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...workflows,
    activities: createActivities({ logger }),
    maxHeartbeatThrottleInterval: '1s',
    shutdownGraceTime: options.shutdownGraceTime ?? '30s',
  });
}
