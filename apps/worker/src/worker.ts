import type { PrismaClient } from '@prisma/client';
import { Client, Connection } from '@temporalio/client';
import type { Duration, PayloadCodec } from '@temporalio/common';
import { bundleWorkflowCode, NativeConnection, Worker, type BundleOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Logger } from 'pino';
import { ensureMaintenanceSchedules } from '../../common/dolphinscheduler/schedules';
import { createActivities, type ActivityDependencies } from '../../../activities';
import { EgressPolicy } from '../../../activities/egress';
import type { SecretResolver } from '../../../activities/secrets';
import type { TemplateVersionReader } from '../../../activities/template-runs';
import { StepLogSink } from '../../../activities/step-logs/step-log';
import { ArtifactStore } from '../../common/artifacts/artifact-store';
import { S3ContentBackend } from '../../common/artifacts/content-backends';
import { s3SettingsOf, type WorkerConfig } from '../../common/config';
import { payloadCodecsOf } from '../../common/crypto/payload-codec';
import { createPrismaClient } from '../../common/database';
import { createLogger } from '../../common/logger';
import { SecretStore } from '../../common/secrets/secret-store';
import { ensureRetentionSchedule } from './retention-schedule';

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
  /** PUBLIC_BASE_URL, which the links in notices start with. */
  notifications?: ActivityDependencies['notifications'];
  /**
   * The database (DATABASE_URL) publishing to DolphinScheduler reads and records in, and notices are
   * delivered from; publishes wait for a worker with one, and notices fail to deliver without it.
   */
  prisma?: PrismaClient;
  /** DolphinScheduler client settings of publishing (tests shorten timeouts). */
  publishing?: ActivityDependencies['publishing'];
  /** How many failures in a row make a finding (alerts go through the tenant's notification channels). */
  inspections?: ActivityDependencies['inspections'];
  /**
   * The database of step logs, artifacts and their retention (DATABASE_URL); without it steps keep
   * no logs, large outputs are replaced by their size, and this worker runs no retention cleanup.
   */
  storage?: WorkerStorage;
}

/** What the worker keeps in PostgreSQL (and an object store) beside secrets. */
export interface WorkerStorage {
  prisma: PrismaClient;
  stepLogs: StepLogSink;
  artifacts: ArtifactStore;
}

/** The storage of a worker with a database: logs batched into it, artifacts into it or the object store given. */
export function workerStorageOf(prisma: PrismaClient, logger: Logger, objectStore?: S3ContentBackend): WorkerStorage {
  return { prisma, stepLogs: new StepLogSink(prisma, logger), artifacts: new ArtifactStore(prisma, objectStore) };
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
      notifications: options.notifications,
      templates: options.templates,
      prisma: options.prisma,
      publishing: options.publishing,
      inspections: options.inspections,
      ...(options.storage
        ? {
            stepLogs: options.storage.stepLogs,
            artifacts: options.storage.artifacts,
            retention: { prisma: options.storage.prisma, artifacts: options.storage.artifacts, logger },
          }
        : {}),
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
  const s3 = s3SettingsOf(config);
  const objectStore = s3 ? new S3ContentBackend(s3) : undefined;
  const storage = prisma ? workerStorageOf(prisma, options.logger, objectStore) : undefined;
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
      prisma,
      payloadCodecs: payloadCodecsOf(config.PAYLOAD_CODEC_KEYS),
      ...(storage ? { storage } : {}),
      notifications: { publicBaseUrl: config.PUBLIC_BASE_URL },
      inspections: { consecutiveFailureThreshold: config.INSPECTION_FAILURE_THRESHOLD },
    });
    if (prisma) await ensureSchedules(config, options.logger);
    options.logger.info(
      {
        address: config.TEMPORAL_ADDRESS,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: config.TASK_QUEUE,
        maxCachedWorkflows: worker.options.maxCachedWorkflows,
        egress: egressPolicy.describe(),
        // Key ids only: they say which keys are loaded, and reveal nothing.
        secrets: config.SECRETS_KEYS && secretStore ? { keys: config.SECRETS_KEYS.keyIds } : 'off (set DATABASE_URL and SECRETS_KEYS)',
        'publishing and schedules': prisma ? 'on' : 'off (set DATABASE_URL)',
        stepLogs: storage ? 'on' : 'off (set DATABASE_URL)',
        artifacts: storage ? { storage: storage.artifacts.storage, ...(s3 ? { bucket: s3.bucket } : {}) } : 'off (set DATABASE_URL)',
        templateSteps: prisma ? 'on' : 'off (set DATABASE_URL)',
        payloadCodec: config.PAYLOAD_CODEC_KEYS ? { keys: config.PAYLOAD_CODEC_KEYS.keyIds } : 'off',
        notifications: prisma ? { publicBaseUrl: config.PUBLIC_BASE_URL } : 'off (set DATABASE_URL)',
      },
      'worker started',
    );
    await worker.run();
    options.logger.info('worker stopped');
  } finally {
    await storage?.stepLogs.close();
    objectStore?.close();
    await Promise.allSettled([connection.close(), prisma?.$disconnect()]);
  }
}

/** The history sync, inspection and retention schedules, which need a worker with the database to run. */
async function ensureSchedules(config: WorkerConfig, logger: Logger): Promise<void> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: { payloadCodecs: payloadCodecsOf(config.PAYLOAD_CODEC_KEYS) } });
    await ensureMaintenanceSchedules(client, {
      taskQueue: config.TASK_QUEUE,
      historySyncIntervalSeconds: config.HISTORY_SYNC_INTERVAL_SECONDS,
      inspectionIntervalSeconds: config.INSPECTION_INTERVAL_SECONDS,
      logger,
    });
    await ensureRetentionSchedule(client, config.TASK_QUEUE, logger);
  } finally {
    await connection.close();
  }
}

/** The worker's egress policy, from EGRESS_ALLOW, EGRESS_DENY and EGRESS_MAX_REDIRECTS (already validated). */
export function egressPolicyOf(config: WorkerConfig): EgressPolicy {
  return new EgressPolicy({ allow: config.EGRESS_ALLOW, deny: config.EGRESS_DENY, maxRedirects: config.EGRESS_MAX_REDIRECTS });
}
