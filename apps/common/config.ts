import { z } from 'zod';
import { InvalidEgressRule, parseEgressRule } from '../../activities/egress/rules';
import type { RunLimits } from '../../workflows/contract';
import { MAX_STEPS_IN_FLIGHT } from '../../workflows/engine/limits';
import { InvalidKeyring, Keyring } from './crypto/keyring';
import type { S3Settings } from './artifacts/content-backends';

const TemporalConfigSchema = z.object({
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TASK_QUEUE: z.string().default('flowpilot'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** A comma-separated list of egress rules (host, `*.domain`, IP, CIDR), each checked here so a typo stops the worker at start-up. */
const EgressRuleList = z
  .string()
  .default('')
  .transform((text) => text.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0))
  .superRefine((entries, context) => {
    for (const entry of entries) {
      try {
        parseEgressRule(entry);
      } catch (error) {
        if (!(error instanceof InvalidEgressRule)) throw error;
        context.addIssue({ code: 'custom', message: error.message });
      }
    }
  });

/** `id:<base64 of 32 bytes>,…`, first key active (crypto/keyring.ts); unset or empty means none. */
function keyringSetting(variable: string) {
  return z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined || text.trim() === '') return undefined;
      try {
        return Keyring.parse(text, variable);
      } catch (error) {
        if (!(error instanceof InvalidKeyring)) throw error;
        context.addIssue({ code: 'custom', message: error.message });
        return z.NEVER;
      }
    });
}

/** Settings both apps share: the payload codec has to be the same on each side of Temporal. */
const TemporalConfigWithCodecSchema = TemporalConfigSchema.extend({
  /** Keys of the payload codec: when set, every payload the apps send to Temporal is encrypted. */
  PAYLOAD_CODEC_KEYS: keyringSetting('PAYLOAD_CODEC_KEYS'),
});

/**
 * Where artifacts' bytes go (README, "Artifacts"): PostgreSQL unless ARTIFACTS_S3_BUCKET names a
 * bucket of an S3-compatible object store. Both apps need it: the worker writes, the API reads.
 * Credentials come from ARTIFACTS_S3_ACCESS_KEY_ID and _SECRET_ACCESS_KEY, or the AWS SDK's own chain.
 */
const ArtifactStorageConfigSchema = z.object({
  ARTIFACTS_S3_BUCKET: z.string().min(1).optional(),
  ARTIFACTS_S3_ENDPOINT: z.url().optional(),
  ARTIFACTS_S3_REGION: z.string().min(1).default('us-east-1'),
  ARTIFACTS_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('true').transform((value) => value === 'true'),
  ARTIFACTS_S3_PREFIX: z.string().default('artifacts/'),
  ARTIFACTS_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  ARTIFACTS_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
});
export type ArtifactStorageConfig = z.infer<typeof ArtifactStorageConfigSchema>;

/** The object store's settings, or undefined when artifacts stay in PostgreSQL. */
export function s3SettingsOf(config: ArtifactStorageConfig): S3Settings | undefined {
  if (!config.ARTIFACTS_S3_BUCKET) return undefined;
  const credentials =
    config.ARTIFACTS_S3_ACCESS_KEY_ID && config.ARTIFACTS_S3_SECRET_ACCESS_KEY
      ? { accessKeyId: config.ARTIFACTS_S3_ACCESS_KEY_ID, secretAccessKey: config.ARTIFACTS_S3_SECRET_ACCESS_KEY }
      : undefined;
  return {
    bucket: config.ARTIFACTS_S3_BUCKET,
    region: config.ARTIFACTS_S3_REGION,
    forcePathStyle: config.ARTIFACTS_S3_FORCE_PATH_STYLE,
    prefix: config.ARTIFACTS_S3_PREFIX,
    ...(config.ARTIFACTS_S3_ENDPOINT ? { endpoint: config.ARTIFACTS_S3_ENDPOINT } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

const WorkerConfigSchema = TemporalConfigWithCodecSchema.extend({
  /**
   * Where tenants' secrets are stored, and the keys that open them: needed only by runs whose
   * steps reference `{{ secrets.NAME }}`; without them such a step fails, saying why.
   */
  DATABASE_URL: z.string().min(1).optional(),
  SECRETS_KEYS: keyringSetting('SECRETS_KEYS'),
  /**
   * Runs kept in memory between their workflow tasks; one waiting on an approval costs a few
   * hundred KB. Unset, the SDK sizes the cache from the heap limit.
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
  /** Where HTTP steps may connect: only these hosts and ranges when set, everything not denied otherwise. */
  EGRESS_ALLOW: EgressRuleList,
  /** Hosts and ranges HTTP steps may not reach, on top of the defaults (link-local, cloud metadata, unspecified). */
  EGRESS_DENY: EgressRuleList,
  /** Redirects an HTTP step follows; one more fails the step. */
  EGRESS_MAX_REDIRECTS: z.coerce.number().int().min(0).max(20).default(5),
  /** How often the DolphinScheduler execution history is synced (the Temporal Schedule's interval), in seconds; 0 pauses the schedule. */
  HISTORY_SYNC_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  /** How often the inspection rules run, in seconds; 0 pauses the schedule. */
  INSPECTION_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  /** Failed executions in a row that make a consecutive-failures finding. */
  INSPECTION_FAILURE_THRESHOLD: z.coerce.number().int().min(1).max(1000).default(3),
}).extend(ArtifactStorageConfigSchema.shape);

/** The defaults of RATE_LIMIT_READS_PER_MINUTE and RATE_LIMIT_WRITES_PER_MINUTE: far above what the tests and the benchmark (about 200 starts a second through one token) ask. */
export const DEFAULT_READS_PER_MINUTE = 60_000;
export const DEFAULT_WRITES_PER_MINUTE = 30_000;

const milliseconds = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

/**
 * How long the API waits for its dependencies. Whatever does not answer in time makes the request a
 * 503 naming the dependency, so no request hangs on a database or Temporal that is down or hung.
 */
const DependencyTimeoutsSchema = z.object({
  /** Connecting to PostgreSQL, and waiting for a pooled connection or for a transaction to begin. */
  DATABASE_CONNECT_TIMEOUT_MS: milliseconds(5_000),
  /** One SQL statement (PostgreSQL's statement_timeout; the driver gives up 1 s later on a server that says nothing). */
  DATABASE_STATEMENT_TIMEOUT_MS: milliseconds(5_000),
  /** A whole transaction, from its first statement to its commit. */
  DATABASE_TRANSACTION_TIMEOUT_MS: milliseconds(15_000),
  /** One call to Temporal that sets no deadline of its own (the retries of the call included). */
  TEMPORAL_CALL_TIMEOUT_MS: milliseconds(5_000),
  /** How long a cancelled run has to take its cancellation before the API terminates it. */
  RUN_CANCEL_GRACE_MS: milliseconds(10_000),
});
export type DependencyTimeouts = z.infer<typeof DependencyTimeoutsSchema>;

/** The defaults, for whoever builds the API without a configuration (tests, the benchmark). */
export const defaultDependencyTimeouts: DependencyTimeouts = DependencyTimeoutsSchema.parse({});

const ApiConfigSchema = TemporalConfigWithCodecSchema.extend({
  DATABASE_URL: z.string().min(1, 'DATABASE_URL must be set'),
  /** Keys secrets are sealed under; without them the secrets API answers 503. */
  SECRETS_KEYS: keyringSetting('SECRETS_KEYS'),
  /**
   * Origins allowed to call the codec endpoints from a browser: the Temporal Web UI's, e.g.
   * `http://127.0.0.1:8233`; comma-separated.
   */
  CODEC_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((text) => text.split(',').map((origin) => origin.trim()).filter((origin) => origin.length > 0)),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /**
   * Steps one run keeps in flight at once (pending activities and timers), given to every run it
   * starts; unset, runs use the engine's default (workflows/engine/limits.ts).
   */
  RUN_MAX_STEPS_IN_FLIGHT: z.coerce.number().int().min(1).max(MAX_STEPS_IN_FLIGHT).optional(),
  /** OIDC: set OIDC_ISSUER to accept the issuer's JWTs beside API tokens (then OIDC_AUDIENCE and OIDC_JWKS_URL are required). */
  OIDC_ISSUER: z.url().optional(),
  OIDC_AUDIENCE: z.string().min(1).optional(),
  OIDC_JWKS_URL: z.url().optional(),
  /** Claim holding the tenant's slug. */
  OIDC_TENANT_CLAIM: z.string().min(1).default('tenant'),
  /** Claim holding the roles (an array, or a space- or comma-separated string). */
  OIDC_ROLES_CLAIM: z.string().min(1).default('roles'),
  /** Seconds of clock skew tolerated on exp, nbf and iat. */
  OIDC_CLOCK_TOLERANCE: z.coerce.number().int().min(0).max(300).default(30),
  /** A role in the roles claim that makes its bearer a system administrator; none when unset. */
  OIDC_SYSTEM_ROLE: z.string().min(1).optional(),
  /** Requests a minute per credential (shared by all API instances); 0 turns the limit off. */
  RATE_LIMIT_READS_PER_MINUTE: z.coerce.number().int().min(0).default(DEFAULT_READS_PER_MINUTE),
  RATE_LIMIT_WRITES_PER_MINUTE: z.coerce.number().int().min(0).default(DEFAULT_WRITES_PER_MINUTE),
  /** The largest run `input` a start accepts, as JSON bytes (the whole start must stay under Temporal's 2 MB payload limit). */
  RUN_INPUT_MAX_BYTES: z.coerce.number().int().min(1).max(1536 * 1024).default(256 * 1024),
  /** How long `GET /api/v1/templates/:id/executions?refresh=true` waits for its sync before answering from the cache. */
  HISTORY_REFRESH_WAIT_MS: z.coerce.number().int().min(0).max(120_000).default(15_000),
  /**
   * A refresh of a template synced less than this long ago answers from the cache without calling
   * DolphinScheduler: refreshes cannot be turned into a flood of requests to a target.
   */
  HISTORY_REFRESH_MIN_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(5_000),
  /** How long `POST /api/v1/inspections/run` waits for the inspection before answering 202. */
  INSPECTION_RUN_WAIT_MS: z.coerce.number().int().min(0).max(300_000).default(30_000),
  /** An on-demand inspection this soon after the tenant's last one answers that one's result (`recent`) instead of reading DolphinScheduler again. */
  INSPECTION_RUN_MIN_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  /**
   * How often the API summarises runs that finished, for template stats (insights/collector.ts); 0
   * turns it off. One instance collects at a time, whatever the number of instances.
   */
  RUN_SUMMARY_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
})
  .extend(DependencyTimeoutsSchema.shape)
  .extend(ArtifactStorageConfigSchema.shape)
  .refine((config) => !config.OIDC_ISSUER || (config.OIDC_AUDIENCE && config.OIDC_JWKS_URL), {
  message: 'OIDC_ISSUER needs OIDC_AUDIENCE and OIDC_JWKS_URL',
  path: ['OIDC_ISSUER'],
});

/** What a worker needs: Temporal, and for secrets, the database and their keys. */
export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;
export type ApiConfig = z.infer<typeof ApiConfigSchema>;

/** The engine limits runs are started with; what the configuration leaves unset keeps the engine's default. */
export function runLimitsOf(config: ApiConfig): RunLimits | undefined {
  return config.RUN_MAX_STEPS_IN_FLIGHT === undefined ? undefined : { maxStepsInFlight: config.RUN_MAX_STEPS_IN_FLIGHT };
}

export const loadWorkerConfig = (env: NodeJS.ProcessEnv = process.env): WorkerConfig => parse(WorkerConfigSchema, env);
export const loadApiConfig = (env: NodeJS.ProcessEnv = process.env): ApiConfig => parse(ApiConfigSchema, env);

function parse<T>(schema: z.ZodType<T>, env: NodeJS.ProcessEnv): T {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}
