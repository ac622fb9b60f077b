import { z } from 'zod';

const TemporalConfigSchema = z.object({
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TASK_QUEUE: z.string().default('flowpilot'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

const WorkerConfigSchema = TemporalConfigSchema.extend({
  /**
   * Runs kept in memory between their workflow tasks; one waiting on an approval costs a few
   * hundred KB. Unset, the SDK sizes the cache from the heap limit.
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
});

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

const ApiConfigSchema = TemporalConfigSchema.extend({
  DATABASE_URL: z.string().min(1, 'DATABASE_URL must be set'),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
}).extend(DependencyTimeoutsSchema.shape);

/** What a worker needs: it talks to Temporal only. */
export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;
export type ApiConfig = z.infer<typeof ApiConfigSchema>;

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
