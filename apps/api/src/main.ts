import type { AddressInfo } from 'node:net';
import { loadApiConfig, runLimitsOf, s3SettingsOf } from '../../common/config';
import { createPrismaClient } from '../../common/database';
import { createLogger } from '../../common/logger';
import { payloadCodecsOf } from '../../common/crypto/payload-codec';
import { SecretStore } from '../../common/secrets/secret-store';
import { createTemporalClient } from '../../common/temporal';
import { createApp } from './app';
import { AuditTrail } from './audit/trail';
import { oidcSettingsOf } from './auth/oidc';
import { RateLimits } from './http/rate-limit';
import { RunSummaryCollector } from './insights/collector';
import { createApiServer } from './http/server';
import { TemplateChangeFeed } from './templates/template-changes';
import { StepLogFeed } from './run-logs/feed';
import { ArtifactStore } from '../../common/artifacts/artifact-store';
import { S3ContentBackend } from '../../common/artifacts/content-backends';

/** Shutting down waits this long for in-flight requests before closing connections anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = createLogger('flowpilot-api', config.LOG_LEVEL);
  const prisma = createPrismaClient(config.DATABASE_URL, config);
  const payloadCodecs = payloadCodecsOf(config.PAYLOAD_CODEC_KEYS);
  const temporal = createTemporalClient({
    address: config.TEMPORAL_ADDRESS,
    namespace: config.TEMPORAL_NAMESPACE,
    callTimeoutMs: config.TEMPORAL_CALL_TIMEOUT_MS,
    payloadCodecs,
  });
  const secrets = config.SECRETS_KEYS ? new SecretStore(prisma, config.SECRETS_KEYS) : undefined;

  const templateChanges = await TemplateChangeFeed.start(config.DATABASE_URL, logger);
  const stepLogFeed = await StepLogFeed.start(config.DATABASE_URL, logger);
  const s3 = s3SettingsOf(config);
  const artifacts = new ArtifactStore(prisma, s3 ? new S3ContentBackend(s3) : undefined);

  const oidc = oidcSettingsOf(config);
  const rateLimits = new RateLimits({
    databaseUrl: config.DATABASE_URL,
    logger,
    readsPerMinute: config.RATE_LIMIT_READS_PER_MINUTE,
    writesPerMinute: config.RATE_LIMIT_WRITES_PER_MINUTE,
  });
  const audit = new AuditTrail(prisma, logger);
  const app = createApp({
    audit,
    prisma,
    temporal,
    taskQueue: config.TASK_QUEUE,
    logger,
    templateChanges,
    runLimits: runLimitsOf(config),
    ...(oidc ? { oidc } : {}),
    runCancelGraceMs: config.RUN_CANCEL_GRACE_MS,
    secrets,
    payloadCodecs,
    codecCorsOrigins: config.CODEC_CORS_ORIGINS,
    rateLimits,
    runInputMaxBytes: config.RUN_INPUT_MAX_BYTES,
    historyRefreshWaitMs: config.HISTORY_REFRESH_WAIT_MS,
    historyRefreshMinIntervalMs: config.HISTORY_REFRESH_MIN_INTERVAL_MS,
    inspectionWaitMs: config.INSPECTION_RUN_WAIT_MS,
    inspectionMinIntervalMs: config.INSPECTION_RUN_MIN_INTERVAL_MS,
    artifacts,
    stepLogFeed,
  });
  const runSummaries = new RunSummaryCollector({ prisma, temporal, logger });
  if (config.RUN_SUMMARY_INTERVAL_MS > 0) runSummaries.start(config.RUN_SUMMARY_INTERVAL_MS);
  const server = createApiServer(app).listen(config.API_PORT, () => {
    const { port } = server.address() as AddressInfo;
    logger.info({ url: `http://localhost:${port}`, docs: `http://localhost:${port}/docs` }, 'API listening');
  });
  server.on('error', (error) => {
    logger.fatal({ err: error, port: config.API_PORT }, 'API cannot listen');
    process.exit(1);
  });

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const closeIdle = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    closeIdle.unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await audit.close();
    await runSummaries.stop();
    await Promise.allSettled([prisma.$disconnect(), temporal.connection.close(), templateChanges.close(), stepLogFeed.close(), rateLimits.close()]);
    logger.info('stopped');
    process.exit(0);
  };
  // A signal handler's promise has no caller: a failed shutdown is logged and still ends the process.
  const shutdownOn = (signal: NodeJS.Signals) => {
    shutdown(signal).catch((error: unknown) => {
      logger.fatal({ err: error, signal }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGINT', shutdownOn);
  process.once('SIGTERM', shutdownOn);
}

main().catch((error: unknown) => {
  createLogger('flowpilot-api').fatal({ err: error }, 'API failed to start');
  process.exit(1);
});
