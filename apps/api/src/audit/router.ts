import type { AuditEvent, Prisma } from '@prisma/client';
import { Router } from 'express';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { declareRoutes } from '../http/routes';
import { parseRequest } from '../http/validation';
import { decodeCursor, encodeCursor } from '../templates/cursor';
import { AuditCursorSchema, ListAuditQuery, type AuditListQuery } from './schemas';
import './openapi';

/**
 * The caller's tenant's audit log, mounted at /api/v1/audit (admin), and the system scope's,
 * `/system`: refused writes whose credential named no tenant (system administrators).
 */
export function createAuditRouter(deps: ApiDependencies): Router {
  const router = Router();
  declareRoutes(router, '/api/v1/audit', {
    '/': {
      get: async (req, res) => {
        const query = parseRequest(ListAuditQuery, req.query, 'query');
        res.json(await listAudit(deps, principalOf(req).tenantId, query));
      },
    },
    '/system': {
      get: async (req, res) => {
        const query = parseRequest(ListAuditQuery, req.query, 'query');
        res.json(await listAudit(deps, null, query));
      },
    },
  });
  return router;
}

/** One scope's entries: a tenant's, or the system scope's (null). */
export async function listAudit(deps: Pick<ApiDependencies, 'prisma'>, tenantId: string | null, query: AuditListQuery) {
  const where: Prisma.AuditEventWhereInput[] = [{ tenantId }];
  if (query.actor !== undefined) where.push({ actor: query.actor });
  if (query.requestId !== undefined) where.push({ requestId: query.requestId });
  if (query.action !== undefined) where.push({ action: query.action });
  if (query.targetType !== undefined) where.push({ subjectType: query.targetType });
  if (query.targetId !== undefined) where.push({ subjectId: query.targetId });
  if (query.outcome !== undefined) where.push({ outcome: query.outcome });
  if (query.from !== undefined) where.push({ at: { gte: new Date(query.from) } });
  if (query.to !== undefined) where.push({ at: { lt: new Date(query.to) } });
  if (query.cursor !== undefined) {
    const after = decodeCursor(AuditCursorSchema, query.cursor);
    const at = new Date(after.at);
    const id = BigInt(after.id);
    where.push({ OR: [{ at: { lt: at } }, { at, id: { lt: id } }] });
  }
  const rows = await deps.prisma.auditEvent.findMany({ where: { AND: where }, orderBy: [{ at: 'desc' }, { id: 'desc' }], take: query.limit + 1 });
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  const nextCursor = rows.length > query.limit && last ? encodeCursor({ at: last.at.toISOString(), id: last.id.toString() }) : null;
  return { items: items.map(entryView), nextCursor };
}

function entryView(row: AuditEvent) {
  return {
    id: row.id.toString(),
    at: row.at.toISOString(),
    actor: { subject: row.actor, credential: row.credential },
    action: row.action,
    target: { type: row.subjectType, id: row.subjectId },
    summary: (row.details ?? {}) as Record<string, unknown>,
    outcome: row.outcome as 'succeeded' | 'refused',
    requestId: row.requestId,
    remoteAddress: row.remoteAddress,
  };
}
