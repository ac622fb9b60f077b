/**
 * Brings the whole system up on one machine: PostgreSQL (embedded, migrated), a Temporal dev
 * server with file persistence, one worker and the API. DATABASE_URL and TEMPORAL_ADDRESS, when
 * set, point at existing services instead. Ctrl-C stops everything this started; the next start
 * finds the data of the previous one in `.data/`. The first start also makes a development tenant
 * and its admin token (a system administrator too), printed with a curl line to try it.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { hashTokenSecret } from '../apps/api/src/auth/api-tokens';
import { createPrismaClient } from '../apps/common/database';
import { ensureSearchAttributes } from '../apps/common/temporal';
import { issueBootstrapCredential } from './lib/credentials';
import { developmentSecretsKeys } from './lib/dev-keys';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './lib/embedded-postgres';
import { migrateDatabase } from './lib/migrate';
import { Supervisor, type SupervisorEvent } from './lib/supervisor';
import { startTemporalDevServer, type DevServer } from './lib/temporal-dev-server';

const root = resolve(__dirname, '..');
const dataDir = resolve(root, process.env.DATA_DIR ?? '.data');
const ports = {
  postgres: Number(process.env.EMBEDDED_POSTGRES_PORT ?? 54320),
  temporal: Number(process.env.TEMPORAL_PORT ?? 7233),
  temporalUi: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
  api: Number(process.env.API_PORT ?? 3000),
};

const running: { database?: EmbeddedDatabase; temporal?: DevServer; apps: Supervisor[] } = { apps: [] };
let stopping = false;

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    log(`starting PostgreSQL (data in ${resolve(dataDir, 'postgres')})`);
    running.database = await startEmbeddedPostgres({
      dataDir: resolve(dataDir, 'postgres'),
      port: ports.postgres,
      database: 'flowpilot',
    });
    databaseUrl = running.database.url;
  }
  log('applying database migrations');
  await migrateDatabase(databaseUrl);
  const token = await developmentToken(databaseUrl);

  let secretsKeys = process.env.SECRETS_KEYS;
  if (!secretsKeys) {
    const generated = developmentSecretsKeys(dataDir);
    if (generated.created) log(`generated a development secrets key in ${generated.file}`);
    secretsKeys = generated.keys;
  }

  const api = `http://127.0.0.1:${ports.api}`;
  // With the payload codec on, the Web UI is pointed at the API's codec endpoint; it answers only
  // to a credential, which a UI with a login on the API's OIDC issuer can pass.
  const codecEndpoint = process.env.PAYLOAD_CODEC_KEYS ? `${api}/api/v1/codec` : undefined;
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  let temporalUi = process.env.TEMPORAL_UI_URL;
  if (!temporalAddress) {
    log(`starting Temporal dev server (state in ${resolve(dataDir, 'temporal.db')})`);
    running.temporal = await startTemporalDevServer({
      port: ports.temporal,
      uiPort: ports.temporalUi,
      dbFilename: resolve(dataDir, 'temporal.db'),
      uiCodecEndpoint: codecEndpoint,
    });
    temporalAddress = running.temporal.address;
    temporalUi = running.temporal.uiUrl;
  }
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = process.env.TASK_QUEUE ?? 'flowpilot';
  const connection = await Connection.connect({ address: temporalAddress });
  await ensureSearchAttributes(connection, namespace);

  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
    TASK_QUEUE: taskQueue,
    API_PORT: String(ports.api),
    SECRETS_KEYS: secretsKeys,
    CODEC_CORS_ORIGINS: process.env.CODEC_CORS_ORIGINS ?? temporalUi ?? '',
    // Links in notices lead here.
    PUBLIC_BASE_URL: process.env.PUBLIC_BASE_URL ?? api,
  };
  startApp('worker', 'apps/worker/src/main.ts', env);
  startApp('api', 'apps/api/src/main.ts', env);

  await waitForHttp(`${api}/healthz`);
  await waitForWorker(connection, namespace, taskQueue).finally(() => connection.close());
  log('ready');
  log(`  API            ${api}/api/v1`);
  log(`  API docs       ${api}/docs  (OpenAPI: ${api}/openapi.json)`);
  log(`  Temporal UI    ${temporalUi ?? '(external Temporal: see its own UI)'}`);
  if (codecEndpoint) {
    // The endpoint needs a credential, and this UI has no login to send one with (README, "The codec endpoint").
    log(`  codec endpoint ${codecEndpoint}  (payloads are encrypted; decode with the API token: this UI sends no credential)`);
  }
  log(`  Temporal gRPC  ${temporalAddress}  namespace ${namespace}`);
  log(`  API token      ${token}`);
  log(`                 tenant ${DEV_TENANT}: admin, approver and system administrator (kept in ${tokenFile})`);
  log(`  try it         curl -s -H 'Authorization: Bearer ${token}' ${api}/api/v1/templates`);
  log('press Ctrl-C to stop');
}

const DEV_TENANT = 'dev';
const tokenFile = resolve(dataDir, 'dev-token');

/**
 * The development tenant's admin token, made once. Its secret is kept only in .data/dev-token,
 * readable by its owner alone, so a second start can print it again while the database holds
 * nothing but its hash; a token that has since been revoked (or a database that was replaced) gets
 * a new one.
 */
async function developmentToken(databaseUrl: string): Promise<string> {
  const prisma = createPrismaClient(databaseUrl);
  try {
    if (existsSync(tokenFile)) {
      const secret = readFileSync(tokenFile, 'utf8').trim();
      const stored = await prisma.apiToken.findUnique({ where: { secretHash: hashTokenSecret(secret) } });
      if (stored && !stored.revokedAt) return secret;
      log(`the token in ${tokenFile} is no longer valid; making a new one`);
    } else {
      log(`making the development tenant "${DEV_TENANT}" and its admin token`);
    }
    const { secret } = await issueBootstrapCredential(prisma, {
      tenantSlug: DEV_TENANT,
      name: 'dev-admin',
      roles: ['admin', 'approver'],
      system: true,
      expiresAt: null,
    });
    writeFileSync(tokenFile, `${secret}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600); // an existing file keeps its mode through writeFileSync
    return secret;
  } finally {
    await prisma.$disconnect();
  }
}

/** The worker and the API are supervised: one that exits is restarted with backoff, and the rest keep running. */
function startApp(name: string, entry: string, env: NodeJS.ProcessEnv): void {
  const app = new Supervisor(
    { name, command: resolve(root, 'node_modules/.bin/tsx'), args: [resolve(root, entry)], cwd: root, env },
    reportApp,
  );
  app.start();
  running.apps.push(app);
}

function reportApp(event: SupervisorEvent): void {
  if (stopping) return;
  if (event.kind === 'started' && event.restarts > 0) log(`${event.name} restarted (pid ${event.pid}, restart ${event.restarts})`);
  if (event.kind === 'exited') {
    const how = event.signal ? `signal ${event.signal}` : `code ${event.code}`;
    log(`${event.name} exited unexpectedly (${how}); restarting in ${event.restartInMs / 1000}s`);
  }
}

async function waitForHttp(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000}s`);
}

/** The worker bundles the workflow code before it polls; runs started before then would only wait. */
async function waitForWorker(connection: Connection, namespace: string, taskQueue: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    if (pollers.length > 0) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`no worker polled task queue ${taskQueue} within ${timeoutMs / 1000}s`);
}

async function shutdown(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping');
  await Promise.all(running.apps.map((app) => app.stop(15_000)));
  await running.temporal?.stop().catch((error) => log(`Temporal stop: ${String(error)}`));
  await running.database?.stop().catch((error) => log(`PostgreSQL stop: ${String(error)}`));
  log('stopped');
  process.exit(exitCode);
}

function log(message: string): void {
  process.stdout.write(`[up] ${message}\n`);
}

// shutdown ends the process itself, and its stops do not reject (the child's exit is awaited, the
// servers' failures are logged): a signal handler has no one to hand its promise to.
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
main().catch((error) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown(1);
});
