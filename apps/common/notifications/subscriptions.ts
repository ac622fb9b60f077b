import type { Prisma, PrismaClient } from '@prisma/client';
import { NOTICE_KINDS, type NoticeKind } from '../../../workflows/contract';

/**
 * Subscriptions: per tenant a default (scope "*") and per template (scope = the template's id),
 * each mapping notice kinds to channel ids. A run of a template gets, per kind, the channels of
 * both, so a template's subscription adds to the tenant's default.
 */

export const TENANT_DEFAULT_SCOPE = '*';

export type NoticeRoutes = Partial<Record<NoticeKind, string[]>>;

type Database = PrismaClient | Prisma.TransactionClient;

/** The enabled channels each notice kind of a template's runs goes to; kinds without any are left out. */
export async function subscribedChannels(db: Database, tenantId: string, templateId: string): Promise<Map<NoticeKind, string[]>> {
  const rows = await db.notificationSubscription.findMany({
    where: { tenantId, scope: { in: [TENANT_DEFAULT_SCOPE, templateId] } },
    select: { routes: true },
  });
  const wanted = new Map<NoticeKind, Set<string>>();
  for (const row of rows) {
    const routes = row.routes as NoticeRoutes;
    for (const kind of NOTICE_KINDS) {
      for (const channelId of routes[kind] ?? []) {
        if (!wanted.has(kind)) wanted.set(kind, new Set());
        wanted.get(kind)!.add(channelId);
      }
    }
  }
  if (wanted.size === 0) return new Map();
  const ids = [...new Set([...wanted.values()].flatMap((set) => [...set]))];
  const enabled = new Set(
    (await db.notificationChannel.findMany({ where: { tenantId, id: { in: ids }, enabled: true }, select: { id: true } })).map((row) => row.id),
  );
  const channels = new Map<NoticeKind, string[]>();
  for (const [kind, set] of wanted) {
    const usable = [...set].filter((id) => enabled.has(id));
    if (usable.length > 0) channels.set(kind, usable);
  }
  return channels;
}
