import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { PrismaClient } from '@prisma/client';
import type { Client } from '@temporalio/client';
import { createApp } from '../../apps/api/src/app';
import { RateLimits, type RateLimitOptions } from '../../apps/api/src/http/rate-limit';
import { AuditTrail } from '../../apps/api/src/audit/trail';
import type { RefusalBudgets } from '../../apps/api/src/audit/refusal-budget';
import type { OidcSettings } from '../../apps/api/src/auth/oidc';
import { createApiServer } from '../../apps/api/src/http/server';
import { TemplateChangeFeed } from '../../apps/api/src/templates/template-changes';
import { StepLogFeed } from '../../apps/api/src/run-logs/feed';
import type { ArtifactStore } from '../../apps/common/artifacts/artifact-store';
import { issueToken } from '../../apps/api/src/tokens/service';
import { newTokenSecret } from '../../apps/api/src/auth/api-tokens';
import { defaultDependencyTimeouts } from '../../apps/common/config';
import { createPrismaClient } from '../../apps/common/database';
import { createLogger, type Logger } from '../../apps/common/logger';
import { createTemporalClient } from '../../apps/common/temporal';
import type { Keyring } from '../../apps/common/crypto/keyring';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import type { PayloadCodec } from '@temporalio/common';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * The API on a real port, over the real PostgreSQL and Temporal of the global setup, with a tenant
 * of its own and that tenant's admin token, which `call` sends unless told otherwise.
 * Test files run in parallel on one database: every test names its templates with `uniqueName()`.
 */
export interface Api {
  baseUrl: string;
  tenant: TestTenant;
  /** The tenant's admin token (subject `alice`). */
  token: string;
  prisma: PrismaClient;
  temporal: Client;
  templateChanges: TemplateChangeFeed;
  /** Notifications of step log growth, for live tails. */
  stepLogFeed: StepLogFeed;
  /** Run control and refusals queued for the audit log; `flush()` writes them now. */
  audit: AuditTrail;
  close(): Promise<void>;
}

export interface ApiOptions {
  /** Where runs start; by default a queue no worker polls. */
  taskQueue?: string;
  logger?: Logger;
  /** Where the template change feed listens; an unreachable address is a feed that lost its connection. */
  templateChangesUrl?: string;
  /** Another database or Temporal than the global setup's (one a test stops, or where nothing listens). */
  databaseUrl?: string;
  temporalAddress?: string;
  runCancelGraceMs?: number;
  /** Keys of the secrets API; without them it answers 503. */
  secretsKeys?: Keyring;
  /** The payload codec of the API's Temporal client and codec endpoints. */
  payloadCodecs?: PayloadCodec[];
  codecCorsOrigins?: string[];
  /** An OIDC issuer whose JWTs the API accepts. */
  oidc?: OidcSettings;
  /** Another instance's tenant, for several instances serving one tenant; a fresh tenant otherwise. */
  tenant?: TestTenant;
  /**
   * The database cannot be reached: no tenant or token can be stored, so the API's token is
   * well-formed but stored nowhere, and every call meets the outage when its token is looked up.
   */
  unreachableDatabase?: boolean;
  /** Per-credential rate limits over the test database (none by default). */
  rateLimits?: Omit<RateLimitOptions, 'databaseUrl' | 'logger'> & { databaseUrl?: string };
  /** HISTORY_REFRESH_WAIT_MS and INSPECTION_RUN_WAIT_MS; the defaults when absent. */
  historyRefreshWaitMs?: number;
  inspectionWaitMs?: number;
  /** HISTORY_REFRESH_MIN_INTERVAL_MS and INSPECTION_RUN_MIN_INTERVAL_MS; the defaults when absent. */
  historyRefreshMinIntervalMs?: number;
  inspectionMinIntervalMs?: number;
  /** RUN_INPUT_MAX_BYTES; the default when absent. */
  runInputMaxBytes?: number;
  /** How many refusals the audit log records (audit/refusal-budget.ts); its defaults when absent. */
  auditBudgets?: Partial<RefusalBudgets>;
  /** Where artifacts are read; PostgreSQL only when absent. */
  artifacts?: ArtifactStore;
}

export interface TestTenant {
  id: string;
  slug: string;
}

export async function startApi(options: ApiOptions = {}): Promise<Api> {
  const databaseUrl = options.databaseUrl ?? requiredEnv('DATABASE_URL');
  const prisma = createPrismaClient(databaseUrl);
  const temporal = createTemporalClient({
    address: options.temporalAddress ?? requiredEnv('TEMPORAL_ADDRESS'),
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    callTimeoutMs: defaultDependencyTimeouts.TEMPORAL_CALL_TIMEOUT_MS,
    payloadCodecs: options.payloadCodecs,
  });
  const logger = options.logger ?? createLogger('flowpilot-api-test', process.env.LOG_LEVEL ?? 'silent');
  const templateChanges = await TemplateChangeFeed.start(options.templateChangesUrl ?? databaseUrl, logger);
  const stepLogFeed = await StepLogFeed.start(options.templateChangesUrl ?? databaseUrl, logger);
  const rateLimits = options.rateLimits ? new RateLimits({ databaseUrl, logger, ...options.rateLimits }) : undefined;
  const audit = new AuditTrail(prisma, logger, options.auditBudgets);
  const app = createApp({
    audit,
    prisma,
    temporal,
    taskQueue: options.taskQueue ?? `test-${randomUUID()}`,
    logger,
    templateChanges,
    ...(options.oidc ? { oidc: options.oidc } : {}),
    ...(options.runCancelGraceMs ? { runCancelGraceMs: options.runCancelGraceMs } : {}),
    secrets: options.secretsKeys ? new SecretStore(prisma, options.secretsKeys) : undefined,
    payloadCodecs: options.payloadCodecs,
    codecCorsOrigins: options.codecCorsOrigins,
    ...(rateLimits ? { rateLimits } : {}),
    ...(options.runInputMaxBytes ? { runInputMaxBytes: options.runInputMaxBytes } : {}),
    ...(options.historyRefreshWaitMs === undefined ? {} : { historyRefreshWaitMs: options.historyRefreshWaitMs }),
    ...(options.inspectionWaitMs === undefined ? {} : { inspectionWaitMs: options.inspectionWaitMs }),
    ...(options.historyRefreshMinIntervalMs === undefined ? {} : { historyRefreshMinIntervalMs: options.historyRefreshMinIntervalMs }),
    ...(options.inspectionMinIntervalMs === undefined ? {} : { inspectionMinIntervalMs: options.inspectionMinIntervalMs }),
    ...(options.artifacts ? { artifacts: options.artifacts } : {}),
    stepLogFeed,
  });
  const tenant = options.unreachableDatabase ? { id: randomUUID(), slug: 'unreachable' } : (options.tenant ?? (await createTestTenant(prisma)));
  const server = await new Promise<Server>((resolve) => {
    const listening = createApiServer(app).listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    tenant,
    token: options.unreachableDatabase ? newTokenSecret() : await createToken(prisma, { tenantId: tenant.id, name: 'alice', roles: ['admin'] }),
    prisma,
    temporal,
    templateChanges,
    stepLogFeed,
    audit,
    async close() {
      server.closeAllConnections(); // event streams stay open otherwise
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await audit.close();
      await prisma.$disconnect();
      await temporal.connection.close();
      await templateChanges.close();
      await stepLogFeed.close();
      await rateLimits?.close();
    },
  };
}

/**
 * A test worker and an API on its task queue for the whole test file: started before its tests,
 * closed after them. Tests read the API through the returned function, since it exists only once
 * `beforeAll` has run.
 */
export function useApiWithWorker(): () => Api {
  let worker: TestWorker | undefined;
  let api: Api | undefined;
  beforeAll(async () => {
    worker = await startTestWorker();
    api = await startApi({ taskQueue: worker.taskQueue });
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await worker?.shutdown();
  });
  return () => {
    if (!api) throw new Error('the API is not started yet: read it inside a test');
    return api;
  };
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run the tests through jest (global setup provides it)`);
  return value;
}

export interface Answer<Body = any> {
  status: number;
  headers: Headers;
  contentType: string;
  body: Body;
}

/** A tenant of the test's own (slugs are unique across the parallel test files). */
export async function createTestTenant(prisma: PrismaClient): Promise<TestTenant> {
  const slug = `t-${randomUUID()}`;
  const { id } = await prisma.tenant.create({ data: { slug, name: slug } });
  return { id, slug };
}

export interface TokenOptions {
  tenantId: string;
  /** The subject the token speaks for. */
  name: string;
  roles: string[];
  system?: boolean;
  expiresAt?: Date;
}

/** An API token's secret, issued directly in the database (as `npm run token` does). */
export async function createToken(prisma: PrismaClient, options: TokenOptions): Promise<string> {
  const { secret } = await issueToken(prisma, {
    tenantId: options.tenantId,
    name: options.name,
    roles: options.roles,
    system: options.system ?? false,
    expiresAt: options.expiresAt ?? null,
    createdBy: 'test',
  });
  return secret;
}

/** A token of the API's own tenant. */
export function tokenFor(api: Api, name: string, roles: string[]): Promise<string> {
  return createToken(api.prisma, { tenantId: api.tenant.id, name, roles });
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export interface CallOptions {
  /** A value sent as JSON, unless `raw` is given. */
  json?: unknown;
  /** Sent as is, with `contentType`. */
  raw?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  /** The bearer token to send instead of the API's admin token; null sends none. */
  token?: string | null;
}

export async function call<Body = any>(api: Api, method: string, path: string, options: CallOptions = {}): Promise<Answer<Body>> {
  const token = options.token === undefined ? api.token : options.token;
  const headers: Record<string, string> = { ...(token === null ? {} : bearer(token)), ...options.headers };
  let body: string | Buffer | undefined;
  if (options.raw !== undefined) {
    body = options.raw;
    if (options.contentType) headers['content-type'] = options.contentType;
  } else if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = options.contentType ?? 'application/json';
  }
  const response = await fetch(api.baseUrl + path, { method, headers, body });
  const contentType = response.headers.get('content-type') ?? '';
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    contentType,
    body: text && /json/.test(contentType) ? JSON.parse(text) : text,
  };
}

export function uniqueName(prefix = 'template'): string {
  return `${prefix}-${randomUUID()}`;
}

/** A small valid spec: fetch, then wait. */
export function sampleSpec(overrides: { url?: string; duration?: string } = {}) {
  return {
    steps: [
      { id: 'fetch', type: 'http', with: { url: overrides.url ?? 'https://example.com/orders' } },
      { id: 'wait', type: 'delay', with: { duration: overrides.duration ?? '5m' }, dependsOn: ['fetch'] },
    ],
  };
}

export async function createTemplate(api: Api, extra: Record<string, unknown> = {}) {
  const answer = await call(api, 'POST', '/api/v1/templates', {
    json: { name: uniqueName(), spec: sampleSpec(), ...extra },
  });
  if (answer.status !== 201) throw new Error(`creating a template failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as { id: string; name: string; latestVersion: number; version: { number: number; specHash: string } };
}

export function expectProblem(answer: Answer, status: number): void {
  expect({ status: answer.status, contentType: answer.contentType }).toEqual({
    status,
    contentType: expect.stringContaining('application/problem+json'),
  });
  expect(answer.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
}
