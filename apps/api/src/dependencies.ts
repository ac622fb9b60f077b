import type { PrismaClient } from '@prisma/client';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { RunLimits } from '../../../workflows/contract';
import type { Logger } from '../../common/logger';
import type { SecretStore } from '../../common/secrets/secret-store';
import type { ArtifactStore } from '../../common/artifacts/artifact-store';
import type { AuditTrail } from './audit/trail';
import type { StepLogFeed } from './run-logs/feed';
import type { OidcSettings } from './auth/oidc';
import type { RateLimits } from './http/rate-limit';
import type { TemplateChanges } from './templates/template-changes';

/** What the API's handlers need; built once in main.ts (or by a test) and passed down. */
export interface ApiDependencies {
  prisma: PrismaClient;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  /** Template changes made through any API instance, for what the API caches of templates. */
  templateChanges: TemplateChanges;
  /** Engine limits every run starts with (from the configuration); the engine's defaults when absent. */
  runLimits?: RunLimits;
  /** The OIDC issuer whose JWTs are accepted beside API tokens; API tokens only when absent. */
  oidc?: OidcSettings;
  /** How long a cancelled run has to take its cancellation before the API terminates it; RUN_CANCEL_GRACE_MS's default when absent. */
  runCancelGraceMs?: number;
  /** Tenants' secrets; absent when SECRETS_KEYS is not configured (the secrets API then answers 503). */
  secrets?: SecretStore;
  /** The payload codec the Temporal client uses, which the codec endpoints apply for the Web UI; none when off. */
  payloadCodecs?: PayloadCodec[];
  /** Browser origins allowed to call the codec endpoints (the Temporal Web UI's). */
  codecCorsOrigins?: string[];
  /** Per-credential rate limits (http/rate-limit.ts); none when absent. */
  rateLimits?: RateLimits;
  /** The largest run `input` a start accepts, as JSON bytes; RUN_INPUT_MAX_BYTES's default when absent. */
  runInputMaxBytes?: number;
  /** How long an executions refresh waits for its sync (HISTORY_REFRESH_WAIT_MS); 15 s when absent. */
  historyRefreshWaitMs?: number;
  /** A refresh within this long of the template's last sync answers from the cache (HISTORY_REFRESH_MIN_INTERVAL_MS); 5 s when absent. */
  historyRefreshMinIntervalMs?: number;
  /** How long an on-demand inspection is waited for (INSPECTION_RUN_WAIT_MS); 30 s when absent. */
  inspectionWaitMs?: number;
  /** An on-demand inspection within this long of the tenant's last answers that one (INSPECTION_RUN_MIN_INTERVAL_MS); 10 s when absent. */
  inspectionMinIntervalMs?: number;
  /** Where run control and refusals are queued for the audit log; `createApp` makes one when absent. */
  audit?: AuditTrail;
  /** Where artifacts are read (with the object store when configured); PostgreSQL only when absent. */
  artifacts?: ArtifactStore;
  /** Notifications that a run's step log grew, for live tails; they poll when absent. */
  stepLogFeed?: StepLogFeed;
}
