import type { NotificationSubscription, PrismaClient } from '@prisma/client';
import { TENANT_DEFAULT_SCOPE, type NoticeRoutes } from '../../../common/notifications/subscriptions';
import { lockKeyForTransaction } from '../../../common/database';
import { auditRow } from '../audit/trail';
import type { TenantActor } from './tenant-actor';
import { problems } from '../http/problem';

/**
 * Subscriptions as the API shows them: `default` is the tenant's (stored as scope "*"), any other
 * scope is a template of the tenant. Channel ids must name channels of the tenant.
 */

export interface SubscriptionView {
  scope: string;
  templateId: string | null;
  routes: NoticeRoutes;
  updatedBy: string;
  updatedAt: string;
}

const storedScope = (scope: string) => (scope === 'default' ? TENANT_DEFAULT_SCOPE : scope);

export async function listSubscriptions(prisma: PrismaClient, tenantId: string): Promise<SubscriptionView[]> {
  const rows = await prisma.notificationSubscription.findMany({ where: { tenantId }, orderBy: { scope: 'asc' } });
  return rows.map(subscriptionView);
}

export async function getSubscription(prisma: PrismaClient, tenantId: string, scope: string): Promise<SubscriptionView> {
  const row = await prisma.notificationSubscription.findUnique({ where: { tenantId_scope: { tenantId, scope: storedScope(scope) } } });
  if (!row) throw problems.notFound(`no subscription ${scope}`);
  return subscriptionView(row);
}

export async function putSubscription(
  prisma: PrismaClient,
  actor: TenantActor,
  scope: string,
  routes: NoticeRoutes,
): Promise<{ subscription: SubscriptionView; created: boolean }> {
  const tenantId = actor.tenantId;
  if (scope !== 'default') {
    const template = await prisma.template.findFirst({ where: { id: scope, tenantId }, select: { id: true } });
    if (!template) throw problems.notFound(`template ${scope} does not exist`);
  }
  const named = [...new Set(Object.values(routes).flat())];
  const found = new Set((await prisma.notificationChannel.findMany({ where: { tenantId, id: { in: named } }, select: { id: true } })).map((row) => row.id));
  const unknown = named.filter((id) => !found.has(id));
  if (unknown.length > 0) {
    throw problems.unprocessable(
      `no channel ${unknown.join(', ')}`,
      Object.entries(routes).flatMap(([kind, ids]) =>
        ids.flatMap((id, index) => (found.has(id) ? [] : [{ path: ['routes', kind, index], message: 'is not a channel of this tenant' }])),
      ),
    );
  }
  const deduplicated = Object.fromEntries(Object.entries(routes).map(([kind, ids]) => [kind, [...new Set(ids)]]));
  return prisma.$transaction(async (tx) => {
    // Locked by the row's own key, so two spellings of one scope take turns too.
    await lockKeyForTransaction(tx, 'subscription', tenantId, storedScope(scope));
    const key = { tenantId_scope: { tenantId, scope: storedScope(scope) } };
    const existed = (await tx.notificationSubscription.findUnique({ where: key, select: { scope: true } })) !== null;
    const row = await tx.notificationSubscription.upsert({
      where: key,
      create: { tenantId, scope: storedScope(scope), routes: deduplicated, updatedBy: actor.subject },
      update: { routes: deduplicated, updatedBy: actor.subject },
    });
    await tx.auditEvent.create({
      data: auditRow(actor, { action: 'subscription.updated', target: { type: 'subscription', id: scope }, summary: { routes: deduplicated } }),
    });
    return { subscription: subscriptionView(row), created: !existed };
  });
}

export async function deleteSubscription(prisma: PrismaClient, actor: TenantActor, scope: string): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const { count } = await tx.notificationSubscription.deleteMany({ where: { tenantId: actor.tenantId, scope: storedScope(scope) } });
    if (count === 0) throw problems.notFound(`no subscription ${scope}`);
    await tx.auditEvent.create({ data: auditRow(actor, { action: 'subscription.deleted', target: { type: 'subscription', id: scope } }) });
  });
}

function subscriptionView(row: NotificationSubscription): SubscriptionView {
  const isDefault = row.scope === TENANT_DEFAULT_SCOPE;
  return {
    scope: isDefault ? 'default' : row.scope,
    templateId: isDefault ? null : row.scope,
    routes: row.routes as NoticeRoutes,
    updatedBy: row.updatedBy,
    updatedAt: row.updatedAt.toISOString(),
  };
}
