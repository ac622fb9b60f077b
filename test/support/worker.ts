import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleRunWorkflows, createRunWorker, type RunWorkerOptions } from '../../apps/worker/src/worker';
import { createLogger } from '../../apps/common/logger';

/**
 * A run worker for tests, against the Temporal server of the global setup (TEMPORAL_ADDRESS).
 *
 *   const env = await startTestWorker();          // unique task queue
 *   const handle = await env.client.workflow.start(runTemplate, runStartOptions(input, { workflowId, taskQueue: env.taskQueue }));
 *   ...
 *   await env.shutdown();                          // in afterAll
 *
 * The workflows are bundled once per test file (module scope), however many workers it starts.
 */
export interface TestWorker {
  worker: Worker;
  client: Client;
  taskQueue: string;
  shutdown(): Promise<void>;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The run workflows bundled once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleRunWorkflows({ logger: quietLogger() });
  return bundle;
}

let runtimeInstalled = false;

/**
 * Keeps the SDK's logs (and the workflows' expected warnings) to errors so test output stays readable.
 * Call it before anything else creates the runtime (a TestWorkflowEnvironment does).
 */
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: quietLogger() });
  } catch {
    // Another helper of this test file installed it first; one runtime per process is all we need.
  }
}

function quietLogger(): DefaultLogger {
  return new DefaultLogger('ERROR');
}

/** What a test may give its worker beside the defaults; the client gets the same payload codecs. */
export type TestWorkerOptions = Pick<RunWorkerOptions, 'secrets' | 'payloadCodecs' | 'logger' | 'notifications' | 'prisma' | 'publishing' | 'inspections' | 'storage' | 'templates'>;

export async function startTestWorker(taskQueue = `test-${randomUUID()}`, options: TestWorkerOptions = {}): Promise<TestWorker> {
  const address = process.env.TEMPORAL_ADDRESS;
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run tests through jest (global setup starts Temporal)');
  installQuietRuntime();
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await createRunWorker({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowBundle: await workflowBundle(),
    logger: options.logger ?? createLogger('test-worker', process.env.LOG_LEVEL ?? 'warn'),
    shutdownGraceTime: '1s',
    secrets: options.secrets,
    templates: options.templates,
    payloadCodecs: options.payloadCodecs,
    notifications: options.notifications,
    prisma: options.prisma,
    publishing: options.publishing,
    inspections: options.inspections,
    ...(options.storage ? { storage: options.storage } : {}),
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace, dataConverter: { payloadCodecs: options.payloadCodecs ?? [] } });
  return {
    worker,
    client,
    taskQueue,
    async shutdown() {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/**
 * A test worker for the whole test file: started before its tests, shut down after them. Tests read
 * it through the returned function, since it exists only once `beforeAll` has run.
 */
export function useTestWorker(options: TestWorkerOptions | (() => TestWorkerOptions) = {}): () => TestWorker {
  let env: TestWorker | undefined;
  beforeAll(async () => {
    env = await startTestWorker(undefined, typeof options === 'function' ? options() : options);
  }, 120_000);
  afterAll(async () => {
    await env?.shutdown();
  });
  return () => {
    if (!env) throw new Error('the test worker is not started yet: read it inside a test');
    return env;
  };
}
