import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PrismaClient } from '@prisma/client';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import { createApp } from '../apps/api/src/app';
import { RateLimits } from '../apps/api/src/http/rate-limit';
import { DEFAULT_READS_PER_MINUTE, DEFAULT_WRITES_PER_MINUTE } from '../apps/common/config';
import { TemplateChangeFeed } from '../apps/api/src/templates/template-changes';
import { issueToken } from '../apps/api/src/tokens/service';
import { createPrismaClient } from '../apps/common/database';
import pino from 'pino';
import { Keyring } from '../apps/common/crypto/keyring';
import { payloadCodecsOf } from '../apps/common/crypto/payload-codec';
import { createLogger } from '../apps/common/logger';
import { ensureSearchAttributes } from '../apps/common/temporal';
import { createRunWorker, runWorkflowBundlerOptions, type RunWorkerOptions } from '../apps/worker/src/worker';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../scripts/lib/embedded-postgres';
import { freePort } from '../scripts/lib/free-port';
import { migrateDatabase } from '../scripts/lib/migrate';
import { startTemporalDevServer, stopChild, type DevServer } from '../scripts/lib/temporal-dev-server';

const root = resolve(__dirname, '..');

/**
 * What every scenario runs against: a Temporal server and PostgreSQL (reused when TEMPORAL_ADDRESS
 * or DATABASE_URL are set, otherwise started fresh and in memory), a client, and helpers to run
 * workers and the API on chosen task queues.
 */
/** An API the benchmark calls: its URL, its tenant, and tokens of that tenant. */
export interface BenchApi {
  url: string;
  tenantId: string;
  tokenFor(name: string, roles: string[]): Promise<string>;
}

export class BenchEnvironment {
  private readonly cleanups: (() => Promise<void>)[] = [];
  private bundle?: Promise<{ code: string }>;

  private constructor(
    readonly temporalAddress: string,
    readonly namespace: string,
    readonly databaseUrl: string,
    readonly client: Client,
    readonly prisma: PrismaClient,
    /** PAYLOAD_CODEC_KEYS of every worker and client, when the benchmark runs with the payload codec. */
    private readonly codecKeys: string | undefined,
    private readonly payloadCodecs: PayloadCodec[],
  ) {}

  /** With `codec`, every worker and client encrypts its payloads (PAYLOAD_CODEC_KEYS), as deployed with it on. */
  static async start(options: { codec?: boolean } = {}): Promise<BenchEnvironment> {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    const cleanups: (() => Promise<void>)[] = [];

    const dir = mkdtempSync(join(tmpdir(), 'flowpilot-bench-'));
    chmodSync(dir, 0o755); // the database server may run as another user (see startEmbeddedPostgres)
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));

    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const database: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await freePort(), database: 'bench' });
      cleanups.push(() => database.stop());
      databaseUrl = database.url;
    }
    await migrateDatabase(databaseUrl);

    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    if (!temporalAddress) {
      const server: DevServer = await startTemporalDevServer({ port: await freePort(), uiPort: await freePort(), logFile: join(dir, 'temporal.log') });
      cleanups.push(() => server.stop());
      temporalAddress = server.address;
    }
    const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
    const connection = await Connection.connect({ address: temporalAddress });
    await ensureSearchAttributes(connection, namespace);
    const codecKeys = options.codec ? Keyring.generateEntry('bench') : undefined;
    const payloadCodecs = payloadCodecsOf(codecKeys === undefined ? undefined : Keyring.parse(codecKeys, 'PAYLOAD_CODEC_KEYS'));
    const client = new Client({ connection, namespace, dataConverter: { payloadCodecs } });
    const prisma = createPrismaClient(databaseUrl);

    const environment = new BenchEnvironment(temporalAddress, namespace, databaseUrl, client, prisma, codecKeys, payloadCodecs);
    environment.cleanups.push(...cleanups.reverse());
    return environment;
  }

  /** The engine's workflow and the hand-written ones, bundled once. */
  workflowBundle(): Promise<{ code: string }> {
    this.bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('./workflows'), ...runWorkflowBundlerOptions, logger: new DefaultLogger('ERROR') });
    return this.bundle;
  }

  /** A worker in this process, with the production worker's settings. */
  async startWorker(taskQueue: string, extra: Pick<RunWorkerOptions, 'prisma' | 'secrets'> = {}): Promise<Worker> {
    const connection = await NativeConnection.connect({ address: this.temporalAddress });
    const worker = await createRunWorker({
      ...extra,
      connection,
      namespace: this.namespace,
      taskQueue,
      workflowBundle: await this.workflowBundle(),
      logger: createLogger('bench-worker', 'warn'),
      shutdownGraceTime: '1s',
      payloadCodecs: this.payloadCodecs,
    });
    const running = worker.run();
    this.cleanups.unshift(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    });
    return worker;
  }

  /**
   * A worker in its own process, resolving once it polls: as deployed (apps/worker), or with the
   * benchmark's bundle, which adds the hand-written workflows (bench/worker-process.ts).
   */
  async startWorkerProcess(taskQueue: string, options: { bundle?: 'deployed' | 'bench'; config?: Record<string, string> } = {}): Promise<ChildProcess> {
    const entry = options.bundle === 'bench' ? 'bench/worker-process.ts' : 'apps/worker/src/main.ts';
    const child = spawn(resolve(root, 'node_modules/.bin/tsx'), [resolve(root, entry)], {
      cwd: root,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: this.temporalAddress,
        TEMPORAL_NAMESPACE: this.namespace,
        TASK_QUEUE: taskQueue,
        LOG_LEVEL: 'warn',
        ...(this.codecKeys === undefined ? {} : { PAYLOAD_CODEC_KEYS: this.codecKeys }),
        ...options.config,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.cleanups.unshift(() => stopChild(child));
    await this.waitForPollers(taskQueue, await this.pollerCount(taskQueue) + 1);
    return child;
  }

  async pollerCount(taskQueue: string): Promise<number> {
    const answer = await this.client.workflowService.describeTaskQueue({
      namespace: this.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    return answer.pollers?.length ?? 0;
  }

  private async waitForPollers(taskQueue: string, count: number): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if ((await this.pollerCount(taskQueue)) >= count) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`no worker polled ${taskQueue} within 120s`);
  }

  /**
   * The API in this process, starting runs on `taskQueue`, with a tenant of its own. It logs as
   * deployed (level info, every line serialised and written) but to /dev/null, so the cost of
   * logging is measured too; callers authenticate with real tokens, so their cost is measured too.
   */
  async startApi(taskQueue: string): Promise<BenchApi> {
    const logger = pino({ name: 'bench-api', level: 'info', base: { service: 'bench-api' } }, pino.destination({ dest: '/dev/null', sync: true }));
    const templateChanges = await TemplateChangeFeed.start(this.databaseUrl, logger);
    this.cleanups.unshift(() => templateChanges.close());
    // Rate limits as deployed (the defaults, shared through PostgreSQL), so their cost is measured too; BENCH_RATE_LIMITS=off leaves them out.
    const rateLimits =
      process.env.BENCH_RATE_LIMITS === 'off'
        ? undefined
        : new RateLimits({ databaseUrl: this.databaseUrl, logger, readsPerMinute: DEFAULT_READS_PER_MINUTE, writesPerMinute: DEFAULT_WRITES_PER_MINUTE });
    if (rateLimits) this.cleanups.unshift(() => rateLimits.close());
    const app = createApp({ prisma: this.prisma, temporal: this.client, taskQueue, logger, templateChanges, ...(rateLimits ? { rateLimits } : {}) });
    const server = await new Promise<Server>((done) => {
      const listening = app.listen(0, '127.0.0.1', () => done(listening));
    });
    this.cleanups.unshift(() => new Promise<void>((done) => server.close(() => done())));
    const tenant = await this.prisma.tenant.create({ data: { slug: `bench-${randomUUID()}`, name: 'bench' } });
    const tokenFor = async (name: string, roles: string[]) =>
      (await issueToken(this.prisma, { tenantId: tenant.id, name, roles, system: false, expiresAt: null, createdBy: 'bench' })).secret;
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tenantId: tenant.id, tokenFor };
  }

  async stop(): Promise<void> {
    for (const cleanup of this.cleanups) await cleanup().catch((error) => console.error('cleanup:', error));
    await this.prisma.$disconnect();
    await this.client.connection.close();
  }
}
