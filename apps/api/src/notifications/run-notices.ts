import type { PrismaClient } from '@prisma/client';
import { LRUCache } from 'lru-cache';
import { RUN_NOTICE_KINDS, type RunNoticeKind } from '../../../../workflows/contract';
import { personReachingChannels, subscribedChannels } from '../../../common/notifications/subscriptions';

/**
 * Which notices a run sends, decided when it starts (RunInput.notices): the kinds its tenant's
 * and template's subscriptions route to an enabled channel, and `approval_requested` and
 * `approval_reminder` whenever the tenant has an enabled channel that can reach a person, because an approval's approvers are
 * always told where a channel reaches them (activities/notifications decides, per approval, which
 * of those channels know an approver). A run with none sends nothing and its history gains no event.
 *
 * Starts are the API's hot path, so the answer is cached per template for NOTICE_PLAN_TTL_MS:
 * a subscription or channel changed through this instance applies to the next start at once, one
 * changed through another instance within that bound.
 */
export const NOTICE_PLAN_TTL_MS = 5_000;

/** What an approval's approvers are told wherever a channel reaches them: that it waits, and a reminder before its deadline. */
const APPROVER_KINDS: ReadonlySet<RunNoticeKind> = new Set(['approval_requested', 'approval_reminder']);

export class RunNotices {
  private readonly plans = new LRUCache<string, RunNoticeKind[]>({ max: 10_000, ttl: NOTICE_PLAN_TTL_MS });

  constructor(private readonly prisma: PrismaClient) {}

  async forRun(tenantId: string, templateId: string): Promise<RunNoticeKind[]> {
    const key = `${tenantId}:${templateId}`;
    const cached = this.plans.get(key);
    if (cached) return cached;
    const channels = await subscribedChannels(this.prisma, tenantId, templateId);
    const approversReachable = (await personReachingChannels(this.prisma, tenantId)).length > 0;
    const kinds = RUN_NOTICE_KINDS.filter((kind) => channels.has(kind) || (APPROVER_KINDS.has(kind) && approversReachable));
    this.plans.set(key, kinds);
    return kinds;
  }

  /** A tenant's channels or subscriptions changed here: its next starts read them anew. */
  forget(tenantId: string): void {
    for (const key of this.plans.keys()) if (key.startsWith(`${tenantId}:`)) this.plans.delete(key);
  }
}
