import type { Prisma, PrismaClient } from '@prisma/client';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../../../common/logger';
import { principalOf, type Principal } from '../http/principal';

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
 *   failing write never changes the answer.
 */

export type AuditOutcome = 'succeeded' | 'refused';

/** Who acted, from where: the credential's principal and the request. */
export interface AuditActor {
  tenantId: string;
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
/** Refusals recorded per credential (or per tenant and address) and minute; more are only logged. */
const REFUSALS_PER_MINUTE = 30;

/** Entries written after the answer, in batches: run control and refusals. */
export class AuditTrail {
  private queue: Prisma.AuditEventCreateManyInput[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private dropped = 0;
  private refusalWindow = { startedAt: 0, counts: new Map<string, number>() };

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
  ) {}

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

  /** A refusal, within its per-credential budget. */
  recordRefusal(actor: AuditActor, entry: Omit<AuditEntry, 'outcome'>): void {
    const now = Date.now();
    if (now - this.refusalWindow.startedAt >= 60_000) this.refusalWindow = { startedAt: now, counts: new Map() };
    const key = actor.credential ?? `${actor.tenantId}|${actor.remoteAddress ?? ''}`;
    const count = (this.refusalWindow.counts.get(key) ?? 0) + 1;
    this.refusalWindow.counts.set(key, count);
    if (count > REFUSALS_PER_MINUTE) return;
    this.record(actor, { ...entry, outcome: 'refused' });
  }

  /** Writes everything queued so far (shutdown, tests). */
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

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Records refused writes: a 403 (the policy, or a run's validator) with the caller's principal, and
 * a 401 whose credential identified a tenant (a revoked or expired API token of ours, a JWT naming
 * an existing tenant). A 401 without a credential, or with one that names nobody, has no tenant to
 * belong to and is only logged: that is also what keeps an unauthenticated flood out of the table.
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
        trail.recordRefusal(actor, {
          action: `${req.method} ${routeOf(req)}`,
          target: targetOf(req),
          summary: { status: res.statusCode },
        });
      } catch (error) {
        req.log?.warn({ err: error }, 'audit entry for a refusal not recorded');
      }
    });
    next();
  };
}

/** Who a refused request was, when anyone: its principal (403), or the tenant its refused credential named (401). */
function refusedActorOf(req: Request): AuditActor | undefined {
  const refused = refusedCredentials.get(req);
  if (refused) return { ...refused, requestId: requestIdOf(req), remoteAddress: req.socket?.remoteAddress ?? null };
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
  return text.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '');
}

const refusedCredentials = new WeakMap<Request, Omit<AuditActor, 'requestId' | 'remoteAddress'>>();

/** The authenticator refused a credential that names a tenant: remembered for the refusal's audit entry. */
export function noteRefusedCredential(req: Request, who: { tenantId: string; subject: string; credential: string }): void {
  refusedCredentials.set(req, who);
}
