import type { Prisma, PrismaClient } from '@prisma/client';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../../../common/logger';
import type { RefusalReason } from '../auth/errors';
import { principalOf, type Principal } from '../http/principal';
import { DEFAULT_REFUSAL_BUDGETS, RefusalBudget, type RefusalBudgets, type SuppressedRefusals } from './refusal-budget';

/**
 * The audit log: one `AuditEvent` row per change or decision, append-only (the database refuses
 * UPDATE, DELETE and TRUNCATE: prisma/migrations/20261130000000_audit_log).
 *
 * - Changes stored in PostgreSQL (templates, versions, tokens, tenants) write their row in the
 *   same transaction as the change, with `auditRow`: no change without its entry, and no entry for
 *   a change that rolled back.
 * - Run control (start, cancel, pause, resume, retry, skip, approve, reject) lives in Temporal, and
 *   the run's history already records each command with its actor. Its entry is queued once
 *   Temporal accepted the start or update and written after the answer, in batches
 *   (`AuditTrail`), so a start costs no database round trip. The guarantee is best effort: an
 *   entry queued by an instance that crashes before its next flush (at most FLUSH_INTERVAL_MS), or
 *   one whose batch insert fails, is lost (and logged); the run's history keeps the fact.
 * - Refusals (401, 403 answered to a write) are queued the same way: they add no latency, and a
 *   failing write never changes the answer. One whose credential names no tenant (none, or one that
 *   is not ours) is an entry of the system scope (tenantId null), within the bounds of
 *   refusal-budget.ts.
 */

export type AuditOutcome = 'succeeded' | 'refused';

/** Who acted, from where: the credential's principal and the request. */
export interface AuditActor {
  /** The tenant whose log holds the entry; null for the system scope (a refusal naming no tenant). */
  tenantId: string | null;
  subject: string;
  /** `token:<id>` or `jwt:<issuer>`; never a secret. */
  credential?: string | null;
  requestId?: string | null;
  remoteAddress?: string | null;
}

export interface AuditEntry {
  action: string;
  target: { type: string; id: string };
  /** What changed, e.g. version numbers; never a secret. */
  summary?: object;
  outcome?: AuditOutcome;
}

/** The caller of a request as the audit log names it. */
export function auditActorOf(req: Request, principal: Principal = principalOf(req)): AuditActor & Principal {
  return { ...principal, requestId: requestIdOf(req), remoteAddress: req.socket?.remoteAddress ?? null };
}

export function requestIdOf(req: Request): string | null {
  const id = (req as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : null;
}

export function auditRow(actor: AuditActor, entry: AuditEntry): Prisma.AuditEventCreateManyInput {
  return {
    tenantId: actor.tenantId,
    actor: actor.subject,
    credential: actor.credential ?? null,
    requestId: actor.requestId ?? null,
    remoteAddress: actor.remoteAddress ?? null,
    action: entry.action,
    subjectType: entry.target.type,
    subjectId: entry.target.id,
    details: (entry.summary ?? {}) as Prisma.InputJsonObject,
    outcome: entry.outcome ?? 'succeeded',
  };
}

/** How often queued entries are written, and how many one insert carries. */
export const FLUSH_INTERVAL_MS = 200;
const BATCH_SIZE = 500;
/** Entries waiting beyond this are dropped (and counted in the log): a flood cannot grow the queue without bound. */
const MAX_QUEUED = 10_000;
/** The subject of a system-scope refusal: no credential at all, or one that names nobody we know. */
const ANONYMOUS = 'anonymous';
const UNIDENTIFIED = 'unidentified';

/** Entries written after the answer, in batches: run control and refusals. */
export class AuditTrail {
  private queue: Prisma.AuditEventCreateManyInput[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private dropped = 0;
  private readonly refusals: RefusalBudget;
  /** Ends the refusal window that suppressed entries, so that its count is recorded without waiting for more traffic. */
  private windowTimer: NodeJS.Timeout | undefined;
  private windowTimerEndsAt = 0;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
    budgets: Partial<RefusalBudgets> = {},
  ) {
    this.refusals = new RefusalBudget({ ...DEFAULT_REFUSAL_BUDGETS, ...budgets });
  }

  /** Queues an entry; written within FLUSH_INTERVAL_MS. Never throws. */
  record(actor: AuditActor, entry: AuditEntry): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped += 1;
      return;
    }
    // The time it happened, not the time the batch was written.
    this.queue.push({ ...auditRow(actor, entry), at: new Date() });
    if (this.queue.length >= BATCH_SIZE) this.schedule(0);
    else this.schedule(FLUSH_INTERVAL_MS);
  }

  /**
   * A refusal, within its budget (refusal-budget.ts): its credential's when it names a tenant, its
   * address's and the system scope's otherwise, where what is beyond is counted and recorded as one
   * `audit.refusals_suppressed` entry when the window ends.
   */
  recordRefusal(actor: AuditActor, entry: Omit<AuditEntry, 'outcome'>): void {
    const now = Date.now();
    this.recordSuppressed(this.refusals.roll(now));
    const admitted =
      actor.tenantId === null
        ? this.refusals.admitUnidentified(actor.remoteAddress, now)
        : this.refusals.admitCredential(credentialKey(actor), now);
    if (admitted) this.record(actor, { ...entry, outcome: 'refused' });
    else this.endWindowInTime(now);
  }

  /** Records what the refusal window suppressed so far, then writes everything queued (shutdown). */
  async close(): Promise<void> {
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    this.recordSuppressed(this.refusals.roll(Date.now(), true));
    await this.flush();
  }

  private endWindowInTime(now: number): void {
    const endsAt = this.refusals.windowEndsAt;
    if (this.windowTimer && this.windowTimerEndsAt === endsAt) return;
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimerEndsAt = endsAt;
    this.windowTimer = setTimeout(() => {
      this.windowTimer = undefined;
      this.recordSuppressed(this.refusals.roll());
    }, Math.max(0, endsAt - now));
    this.windowTimer.unref();
  }

  private recordSuppressed(suppressed: SuppressedRefusals | undefined): void {
    if (!suppressed) return;
    this.logger.warn({ suppressed: suppressed.suppressed, topAddresses: suppressed.topAddresses }, 'refused requests beyond the audit budget were counted, not recorded');
    this.record(
      { tenantId: null, subject: 'flowpilot', credential: null },
      { action: 'audit.refusals_suppressed', target: { type: 'audit', id: suppressed.from }, summary: suppressed, outcome: 'refused' },
    );
  }

  /** Writes everything queued so far (tests; `close` at shutdown). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.writeQueued());
    await this.flushing;
  }

  private schedule(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), delayMs);
    this.timer.unref();
  }

  private async writeQueued(): Promise<void> {
    if (this.dropped > 0) {
      this.logger.warn({ dropped: this.dropped }, 'audit entries dropped: the queue was full');
      this.dropped = 0;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH_SIZE);
      try {
        // One statement and one parameter per batch: with Prisma's createMany the benchmark's CPU
        // per start rose by 0.7 to 0.9 ms (its JavaScript query engine handles every row's fields);
        // this costs a JSON.stringify.
        await this.prisma.$executeRaw`
          INSERT INTO "AuditEvent" ("tenantId", actor, credential, "requestId", "remoteAddress", action, "subjectType", "subjectId", details, outcome, at)
          SELECT "tenantId", actor, credential, "requestId", "remoteAddress", action, "subjectType", "subjectId", details, outcome, at
          FROM jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) AS entry(
            "tenantId" uuid, actor text, credential text, "requestId" text, "remoteAddress" text, action text,
            "subjectType" text, "subjectId" text, details jsonb, outcome text, at timestamptz)`;
      } catch (error) {
        this.logger.error({ err: error, lost: batch.length, actions: [...new Set(batch.map((row) => row.action))] }, 'audit entries could not be written');
      }
    }
  }
}

/**
 * Whose refusal budget a refusal draws on: a token's own; a JWT's issuer and subject together (one
 * issuer speaks for all its users); the tenant and address for an entry that names no credential.
 */
function credentialKey(actor: AuditActor): string {
  if (!actor.credential) return `${actor.tenantId}|${actor.remoteAddress ?? ''}`;
  return actor.credential.startsWith('token:') ? actor.credential : `${actor.credential}\n${actor.subject}`;
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Records refused writes: a 403 (the policy, the API's judgement of a decision, or a run's
 * validator) with the caller's principal; a 401 whose credential identified a tenant (a revoked or
 * expired API token of ours, an expired JWT naming an existing tenant) in that tenant's log; and a
 * 401 without a credential, or with one that names nobody, in the system scope, with its remote
 * address and request id. The budgets of `recordRefusal` keep a flood of refusals out of the table.
 * Queued after the answer is sent; the answer never waits for it nor depends on it.
 */
export function recordRefusals(trail: AuditTrail): RequestHandler {
  return (req, res, next) => {
    if (READS.has(req.method)) return next();
    res.once('finish', () => {
      if (res.statusCode !== 401 && res.statusCode !== 403) return;
      try {
        const actor = refusedActorOf(req);
        if (!actor) return;
        const reason = refusedCredentials.get(req)?.reason;
        trail.recordRefusal(actor, {
          action: `${req.method} ${routeOf(req)}`,
          target: targetOf(req),
          summary: { status: res.statusCode, ...(reason ? { reason } : {}) },
        });
      } catch (error) {
        req.log?.warn({ err: error }, 'audit entry for a refusal not recorded');
      }
    });
    next();
  };
}

/**
 * Who a refused request was: its principal (403); the tenant and credential its refused credential
 * named (401); or, for a 401 naming no tenant, the system scope's `anonymous` (no credential) or
 * `unidentified` (one that names nobody we know).
 */
function refusedActorOf(req: Request): AuditActor | undefined {
  const refused = refusedCredentials.get(req);
  const from = { requestId: requestIdOf(req), remoteAddress: req.socket?.remoteAddress ?? null };
  if (refused?.who) return { ...refused.who, ...from };
  if (refused) return { tenantId: null, subject: refused.reason === 'missing' ? ANONYMOUS : UNIDENTIFIED, credential: null, ...from };
  try {
    return auditActorOf(req);
  } catch {
    return undefined;
  }
}

/**
 * The route's pattern (`/api/v1/runs/:id/cancel`) when a route took the request, else its path.
 * Express has restored `baseUrl` by the time the answer is sent; every router is mounted at
 * `/api/v1/<collection>`, so the mount is the path's first three segments.
 */
function routeOf(req: Request): string {
  const path = req.originalUrl.split('?')[0]!;
  const routePath = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof routePath !== 'string') return storable(path.slice(0, 300));
  const mount = `/${path.split('/').filter(Boolean).slice(0, 3).join('/')}`;
  return routePath === '/' ? mount : `${mount}${routePath}`;
}

function targetOf(req: Request): { type: string; id: string } {
  const segments = req.originalUrl.split('?')[0]!.split('/').filter(Boolean);
  // /api/v1/<collection>[/<id>[/steps/<step>]...]
  const collection = segments[2] ?? 'unknown';
  const type = collection.endsWith('s') ? collection.slice(0, -1) : collection;
  const id = req.params?.id ?? segments[3] ?? '';
  return { type: storable(type), id: storable(String(id).slice(0, 200)) };
}

/**
 * A refused request's path parameters are whatever the caller sent (decoded): no NUL or unpaired
 * surrogate, which PostgreSQL cannot store and which would fail the whole batch.
 */
function storable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching NUL (and control characters) is the point
  return text.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '');
}

interface RefusedCredential {
  reason: RefusalReason;
  /** The tenant and credential it named, when it named one of ours. */
  who?: { tenantId: string; subject: string; credential: string };
}

const refusedCredentials = new WeakMap<Request, RefusedCredential>();

/** The authenticator refused the request's credential: remembered for the refusal's audit entry. */
export function noteRefusedCredential(req: Request, refused: RefusedCredential): void {
  refusedCredentials.set(req, refused);
}
