import type { Prisma, PrismaClient } from '@prisma/client';
import { SUBSCRIBABLE_KINDS, type SubscribableKind } from '../../../workflows/contract';
import { MENTIONING_KINDS, type ChannelKind } from './channels';

/**
 * Subscriptions: per tenant a default (scope "*") and per template (scope = the template's id),
 * each mapping notice kinds to channel ids. A run of a template gets, per kind, the channels of
 * both, so a template's subscription adds to the tenant's default.
 */

export const TENANT_DEFAULT_SCOPE = '*';

export type NoticeRoutes = Partial<Record<SubscribableKind, string[]>>;

type Database = PrismaClient | Prisma.TransactionClient;

/**
 * The enabled channels each kind goes to for a template (its runs, its findings), or for the
 * tenant alone when there is no template; kinds without any are left out.
 */
export async function subscribedChannels(db: Database, tenantId: string, templateId: string | null): Promise<Map<SubscribableKind, string[]>> {
  const rows = await db.notificationSubscription.findMany({
    where: { tenantId, scope: { in: templateId === null ? [TENANT_DEFAULT_SCOPE] : [TENANT_DEFAULT_SCOPE, templateId] } },
    select: { routes: true },
  });
  const wanted = new Map<SubscribableKind, Set<string>>();
  for (const row of rows) {
    const routes = row.routes as NoticeRoutes;
    for (const kind of SUBSCRIBABLE_KINDS) {
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
  const channels = new Map<SubscribableKind, string[]>();
  for (const [kind, set] of wanted) {
    const usable = [...set].filter((id) => enabled.has(id));
    if (usable.length > 0) channels.set(kind, usable);
  }
  return channels;
}

/**
 * Channel kinds that can reach a person: e-mail by their address, the IM group chats by mentioning
 * them. An approval's approvers are told on these even without a subscription (the generic webhook
 * reaches a system, not a person, so it is told only when subscribed).
 */
export const PERSON_REACHING_KINDS = ['email', ...MENTIONING_KINDS] as const satisfies readonly ChannelKind[];

/** The tenant's enabled channels that can reach a person, in order of their names. */
export async function personReachingChannels(db: Database, tenantId: string): Promise<{ id: string; name: string; kind: string }[]> {
  return db.notificationChannel.findMany({
    where: { tenantId, enabled: true, kind: { in: [...PERSON_REACHING_KINDS] } },
    select: { id: true, name: true, kind: true },
    orderBy: { name: 'asc' },
  });
}
