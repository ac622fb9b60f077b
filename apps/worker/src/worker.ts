import type { PrismaClient } from '@prisma/client';
import type { Duration, PayloadCodec } from '@temporalio/common';
import { bundleWorkflowCode, NativeConnection, Worker, type BundleOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../../../activities';
import { EgressPolicy } from '../../../activities/egress';
import type { SecretResolver } from '../../../activities/secrets';
import { prismaTemplateVersions, type TemplateVersionReader } from '../../../activities/template-runs';
import type { WorkerConfig } from '../../common/config';
import { payloadCodecsOf } from '../../common/crypto/payload-codec';
import { createPrismaClient } from '../../common/database';
import { createLogger } from '../../common/logger';
import { SecretStore } from '../../common/secrets/secret-store';

export interface RunWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /**
   * A prebuilt bundle (production, tests); without it the workflows are bundled at start-up.
   * Build it with `bundleRunWorkflows()` so that it shares the heavy libraries between runs.
   */
  workflowBundle?: { code: string } | { codePath: string };
  logger?: Logger;
  /** How long in-flight activities may finish after shutdown starts. */
  shutdownGraceTime?: Duration;
  /** Runs kept in memory between tasks; the SDK's default (sized from the heap) when absent. */
  maxCachedWorkflows?: number;
  /** Where HTTP steps may connect; the default policy (link-local and cloud metadata refused) when absent. */
  egressPolicy?: EgressPolicy;
  /** Where steps read the secrets they reference; without it, a step referencing one fails (SecretsUnavailable). */
  secrets?: SecretResolver;
  /** Where `template` steps load the versions they run; without it (no DATABASE_URL) they fail as TemplatesUnavailable. */
  templates?: TemplateVersionReader;
  /** The payload codec (PAYLOAD_CODEC_KEYS): the same as the API's client, or neither reads the other's payloads. */
  payloadCodecs?: PayloadCodec[];
}

const workflowsPath = require.resolve('../../../workflows');

/**
 * Past this wall-clock time the SDK terminates a workflow activation mid-way, which kills the whole
 * worker process (Node's async-hook stack is left corrupted), and the next worker to take the task
 * dies the same way. The expression bounds keep an activation near a second of CPU, but a starved
 * machine stretches that past the SDK's default of 5 s, so the limit is set well beyond it. The SDK
 * reads the option (worker-options.js) though 1.24 leaves it out of its public types; a test checks
 * that it takes effect.
 */
export const ACTIVATION_TIME_LIMIT = { isolateExecutionTimeout: '60s' };

/**
 * With the default reuseV8Context, each cached workflow gets its own webpack module cache, so every
 * run evaluated zod and jsonata again: ≈1.5 MB of worker memory per cached run. Preloaded modules are
 * evaluated once per workflow thread and shared (see workflows/engine/shared-modules.ts).
 */
const sharedWorkflowModules = require.resolve('../../../workflows/engine/shared-modules');

/** Bundler options for the run workflows: the ones at start-up and `bundleRunWorkflows` use. */
export const runWorkflowBundlerOptions: Pick<BundleOptions, 'preloadModules'> = {
  preloadModules: [sharedWorkflowModules],
};

/** Bundles the run workflows ahead of time (a build step, tests), with the same options as at start-up. */
export function bundleRunWorkflows(options: Omit<BundleOptions, 'workflowsPath'> = {}): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, ...runWorkflowBundlerOptions, ...options });
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
    : { workflowsPath, bundlerOptions: runWorkflowBundlerOptions };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...workflows,
    activities: createActivities({
      logger,
      egressPolicy: options.egressPolicy ?? new EgressPolicy(),
      secrets: options.secrets,
      templates: options.templates,
    }),
    dataConverter: { payloadCodecs: options.payloadCodecs ?? [] },
    maxHeartbeatThrottleInterval: '1s',
    ...ACTIVATION_TIME_LIMIT,
    shutdownGraceTime: options.shutdownGraceTime ?? '30s',
    ...(options.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: options.maxCachedWorkflows }),
  });
}

/**
 * Connects as `config` says and runs a worker until SIGINT or SIGTERM: the Temporal runtime catches
 * those itself and shuts the worker down gracefully (polling stops, activities get the grace time).
 */
export async function runWorkerUntilShutdown(
  config: WorkerConfig,
  options: Pick<RunWorkerOptions, 'workflowBundle' | 'shutdownGraceTime'> & { logger: Logger },
): Promise<void> {
  const egressPolicy = egressPolicyOf(config);
  const prisma = config.DATABASE_URL ? createPrismaClient(config.DATABASE_URL) : undefined;
  const secretStore = prisma && config.SECRETS_KEYS ? new SecretStore(prisma, config.SECRETS_KEYS) : undefined;
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const worker = await createRunWorker({
      ...options,
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TASK_QUEUE,
      maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
      egressPolicy,
      secrets: secretStore,
      templates: prisma ? prismaTemplateVersions(prisma) : undefined,
      payloadCodecs: payloadCodecsOf(config.PAYLOAD_CODEC_KEYS),
    });
    options.logger.info(
      {
        address: config.TEMPORAL_ADDRESS,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: config.TASK_QUEUE,
        maxCachedWorkflows: worker.options.maxCachedWorkflows,
        egress: egressPolicy.describe(),
        // Key ids only: they say which keys are loaded, and reveal nothing.
        secrets: config.SECRETS_KEYS && secretStore ? { keys: config.SECRETS_KEYS.keyIds } : 'off (set DATABASE_URL and SECRETS_KEYS)',
        templateSteps: prisma ? 'on' : 'off (set DATABASE_URL)',
        payloadCodec: config.PAYLOAD_CODEC_KEYS ? { keys: config.PAYLOAD_CODEC_KEYS.keyIds } : 'off',
      },
      'worker started',
    );
    await worker.run();
    options.logger.info('worker stopped');
  } finally {
    await Promise.allSettled([connection.close(), prisma?.$disconnect()]);
  }
}

/** The worker's egress policy, from EGRESS_ALLOW, EGRESS_DENY and EGRESS_MAX_REDIRECTS (already validated). */
export function egressPolicyOf(config: WorkerConfig): EgressPolicy {
  return new EgressPolicy({ allow: config.EGRESS_ALLOW, deny: config.EGRESS_DENY, maxRedirects: config.EGRESS_MAX_REDIRECTS });
}
