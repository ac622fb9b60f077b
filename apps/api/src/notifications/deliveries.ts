import type { NotificationDelivery, Prisma, PrismaClient } from '@prisma/client';
import { decodeCursor, encodeCursor } from '../templates/cursor';
import { DeliveryCursorSchema, type NotificationListQuery } from './schemas';

/** `GET /api/v1/notifications`: the tenant's deliveries, newest first, paged by (createdAt, id). */
export async function listDeliveries(prisma: PrismaClient, tenantId: string, query: NotificationListQuery) {
  const where: Prisma.NotificationDeliveryWhereInput[] = [{ tenantId }];
  if (query.runId !== undefined) where.push({ runId: query.runId });
  if (query.status !== undefined) where.push({ status: query.status });
  if (query.cursor !== undefined) {
    const after = decodeCursor(DeliveryCursorSchema, query.cursor);
    const at = new Date(after.at);
    where.push({ OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: after.id } }] });
  }
  const rows = await prisma.notificationDelivery.findMany({
    where: { AND: where },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: query.limit + 1,
  });
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  const nextCursor = rows.length > query.limit && last ? encodeCursor({ at: last.createdAt.toISOString(), id: last.id }) : null;
  return { items: items.map(deliveryView), nextCursor };
}

function deliveryView(row: NotificationDelivery) {
  return {
    id: row.id,
    eventKey: row.eventKey,
    eventKind: row.eventKind,
    runId: row.runId,
    stepId: row.stepId,
    channel: { id: row.channelId, name: row.channelName },
    status: row.status,
    attempts: row.attempts,
    lastError: row.lastError,
    receiverAnswer: row.receiverAnswer,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
  };
}
