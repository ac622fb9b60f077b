import type { RequestHandler } from 'express';
import { Pool } from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../../../common/logger';
import { principalOf } from './principal';
import { ProblemError } from './problem';

/**
 * Rate limits per credential, counted in PostgreSQL (rate-limiter-flexible's RateLimiterPostgres,
 * table `rate_limits`, created by a migration) so every API instance draws on one budget.
 *
 * A database round trip per request would cost the start path more than the start itself, so each
 * instance takes its credential's points from the store in leases: one `consume(key, lease)` books
 * `lease` points (1 % of the budget, at most 100) and the next `lease - 1` requests are counted in
 * memory. The price: an instance may hold up to `lease - 1` booked points it never uses when the
 * window ends, so with N instances a caller may get up to N × (lease - 1) fewer requests than the
 * budget, never more. Budgets under 200 a minute use leases of 1 and are exact. Once the store says
 * the budget is spent, the instance refuses locally until the window ends, without asking again.
 *
 * The store down: limits fail OPEN (the request goes on, one warning every 30 s), since the
 * limiter protects capacity and is no reason to refuse what does not need the database; what does
 * answers 503 on its own. The limiter's own pool waits at most 1 s for a connection or an answer.
 */

export type Budget = 'reads' | 'writes';

export interface RateLimitSettings {
  /** Requests a minute per credential; 0 turns that limit off. */
  readsPerMinute: number;
  writesPerMinute: number;
}

export interface RateLimitOptions extends RateLimitSettings {
  databaseUrl: string;
  logger: Logger;
  /** The table's name (tests may use their own); `rate_limits` by default. */
  tableName?: string;
  /** The window; a minute unless a test wants a shorter one. */
  durationSeconds?: number;
}

const WINDOW_SECONDS = 60;
const STORE_TIMEOUT_MS = 1_000;
const FAIL_OPEN_LEASE_MS = 5_000;
const WARNING_INTERVAL_MS = 30_000;
const MAX_LEASE = 100;
const MAX_TRACKED_KEYS = 100_000;

interface Lease {
  /** Requests this instance may still let through before the window ends. */
  local: number;
  /** Points the store had left after the last lease (for RateLimit-Remaining; approximate). */
  store: number;
  /** When the store's window ends (ms since epoch). */
  resetAt: number;
  /** The budget is spent until then. */
  blockedUntil: number;
  pending?: Promise<void>;
}

/** One request's answer, taken at once (the lease may change before the response is written). */
interface Verdict {
  allowed: boolean;
  remaining: number;
  resetMs: number;
}

class BudgetLimiter {
  private readonly leases = new Map<string, Lease>();
  readonly lease: number;

  constructor(
    readonly points: number,
    private readonly store: RateLimiterPostgres,
    private readonly onStoreError: (error: unknown) => void,
  ) {
    this.lease = Math.max(1, Math.min(MAX_LEASE, Math.floor(points / 100)));
  }

  /** Takes one point for the credential, or says until when its budget is spent. */
  async take(key: string): Promise<Verdict> {
    for (;;) {
      const now = Date.now();
      let lease = this.leases.get(key);
      if (lease && lease.local > 0 && now < lease.resetAt) {
        lease.local -= 1;
        return { allowed: true, remaining: Math.max(0, lease.store + lease.local), resetMs: lease.resetAt - now };
      }
      if (lease && now < lease.blockedUntil) return { allowed: false, remaining: 0, resetMs: lease.blockedUntil - now };
      if (!lease) {
        if (this.leases.size >= MAX_TRACKED_KEYS) this.forgetExpired(now);
        lease = { local: 0, store: this.points, resetAt: 0, blockedUntil: 0 };
        this.leases.set(key, lease);
      }
      const renewing = lease;
      renewing.pending ??= this.renew(key, renewing).finally(() => {
        renewing.pending = undefined;
      });
      await renewing.pending;
    }
  }

  private async renew(key: string, lease: Lease): Promise<void> {
    const now = Date.now();
    try {
      const res = await this.store.consume(key, this.lease);
      lease.local = this.lease;
      lease.store = res.remainingPoints;
      lease.resetAt = now + res.msBeforeNext;
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        // The store counted the whole lease; what fitted under the budget is still ours.
        const before = error.consumedPoints - this.lease;
        const granted = Math.max(0, Math.min(this.lease, this.points - before));
        lease.local = granted;
        lease.store = 0;
        lease.resetAt = now + error.msBeforeNext;
        if (granted === 0) lease.blockedUntil = now + Math.max(1, error.msBeforeNext);
        return;
      }
      this.onStoreError(error);
      lease.local = this.lease;
      lease.store = this.points;
      lease.resetAt = now + FAIL_OPEN_LEASE_MS;
    }
  }

  private forgetExpired(now: number): void {
    for (const [key, lease] of this.leases) {
      if (lease.resetAt <= now && lease.blockedUntil <= now && !lease.pending) this.leases.delete(key);
    }
    if (this.leases.size >= MAX_TRACKED_KEYS) this.leases.clear();
  }
}

export class RateLimits {
  private readonly pool: Pool;
  private readonly budgets: Partial<Record<Budget, BudgetLimiter>> = {};
  private lastWarning = 0;

  constructor(private readonly options: RateLimitOptions) {
    this.pool = new Pool({
      connectionString: options.databaseUrl,
      max: 4,
      connectionTimeoutMillis: STORE_TIMEOUT_MS,
      query_timeout: STORE_TIMEOUT_MS,
      statement_timeout: STORE_TIMEOUT_MS,
    });
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.pool.on('error', (error) => this.warn(error));
    const duration = options.durationSeconds ?? WINDOW_SECONDS;
    const make = (budget: Budget, points: number) => {
      if (points <= 0) return;
      const store = new RateLimiterPostgres({
        storeClient: this.pool,
        storeType: 'pool',
        tableName: options.tableName ?? 'rate_limits',
        tableCreated: true,
        keyPrefix: budget,
        points,
        duration,
      });
      this.budgets[budget] = new BudgetLimiter(points, store, (error) => this.warn(error));
    };
    make('reads', options.readsPerMinute);
    make('writes', options.writesPerMinute);
  }

  /** After `authenticate`: counts the request against its credential's budget, or answers 429. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const budget: Budget = req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' ? 'reads' : 'writes';
      const limiter = this.budgets[budget];
      if (!limiter) return next();
      const principal = principalOf(req);
      // Token ids are unique; a JWT credential is its issuer, so the subject tells its callers apart.
      const key = principal.credential.startsWith('token:') ? principal.credential : `${principal.credential}\n${principal.subject}`;
      limiter.take(key).then(
        ({ allowed, remaining, resetMs }) => {
          const resetSeconds = Math.max(1, Math.ceil(resetMs / 1000));
          res.setHeader('RateLimit-Limit', String(limiter.points));
          res.setHeader('RateLimit-Remaining', String(remaining));
          res.setHeader('RateLimit-Reset', String(resetSeconds));
          if (allowed) return next();
          res.setHeader('Retry-After', String(resetSeconds));
          next(
            new ProblemError(
              429,
              'too-many-requests',
              'Too many requests',
              `this credential used its ${limiter.points} ${budget} a ${this.windowText()}; retry in ${resetSeconds} s`,
              { limit: limiter.points, budget },
            ),
          );
        },
        (error: unknown) => next(error),
      );
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private windowText(): string {
    const seconds = this.options.durationSeconds ?? WINDOW_SECONDS;
    return seconds === WINDOW_SECONDS ? 'minute' : `${seconds} s`;
  }

  private warn(error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < WARNING_INTERVAL_MS) return;
    this.lastWarning = now;
    this.options.logger.warn({ err: error }, 'rate limit store unavailable: requests are not rate limited until it is back');
  }
}
