import type { PrismaClient } from '@prisma/client';
import { LRUCache } from 'lru-cache';
import type { TemplateChanges } from './template-changes';

/** What starting a run needs to know of a template, read on every start. */
export interface TemplateHead {
  id: string;
  tenantId: string;
  name: string;
  archived: boolean;
  latestVersion: number;
}

const MAX_CACHED = 10_000;
/** Bounds staleness should a change notification ever be lost without the feed noticing. */
const TTL_MS = 60_000;

/**
 * Template heads, cached while the change feed is live so that a run start costs no database
 * round trip. A head is forgotten when its template changes: at once for changes made through
 * this instance, within a notification's delivery time for changes made through another.
 */
export class TemplateHeads {
  private readonly cache = new LRUCache<string, TemplateHead>({ max: MAX_CACHED, ttl: TTL_MS });
  /** Counts invalidations, so that a read which raced one is not cached. */
  private invalidations = 0;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly changes: TemplateChanges,
  ) {
    changes.onChange((templateId) => this.forget(templateId));
    changes.onResync(() => this.forgetAll());
  }

  async get(templateId: string): Promise<TemplateHead | null> {
    if (this.changes.live) {
      const cached = this.cache.get(templateId);
      if (cached) return cached;
    }
    const seen = this.invalidations;
    const head = await this.prisma.template.findUnique({
      where: { id: templateId },
      select: { id: true, tenantId: true, name: true, archived: true, latestVersion: true },
    });
    if (head && this.changes.live && seen === this.invalidations) this.cache.set(templateId, head);
    return head;
  }

  /** Called after this instance changed the template (its notification follows later). */
  forget(templateId: string): void {
    this.invalidations++;
    this.cache.delete(templateId);
  }

  private forgetAll(): void {
    this.invalidations++;
    this.cache.clear();
  }
}
