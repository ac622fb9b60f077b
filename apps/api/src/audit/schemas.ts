import { z } from 'zod';
import { registry } from '../openapi/registry';
import { bigintId, queryText, timestamp } from '../http/validation';

/** `GET /api/v1/audit`: filters and paging, newest first. */
export const ListAuditQuery = z
  .object({
    actor: queryText(200).optional().meta({ description: 'The acting subject (a token’s name, a JWT’s sub)' }),
    action: queryText(200).optional().meta({ description: 'e.g. template.created, run.approved, or a refused request’s `METHOD /path`', example: 'template.created' }),
    targetType: queryText(50).optional().meta({ description: 'template, token, tenant, run', example: 'template' }),
    targetId: queryText(200).optional(),
    requestId: queryText(200).optional().meta({ description: 'The request’s id (X-Request-Id), as in the logs' }),
    outcome: z.enum(['succeeded', 'refused']).optional(),
    from: timestamp({ offset: true }).optional().meta({ description: 'Entries at or after this time' }),
    to: timestamp({ offset: true }).optional().meta({ description: 'Entries before this time' }),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: queryText(512).optional().meta({ description: 'The nextCursor of the previous page' }),
  })
  .strict();
export type AuditListQuery = z.output<typeof ListAuditQuery>;

/** Audit pages by (at, id), newest first. */
export const AuditCursorSchema = z.object({ at: timestamp(), id: bigintId('must be an audit entry id') }).strict();

export const AuditEntryResource = registry.register(
  'AuditEntry',
  z.object({
    id: z.string().meta({ description: 'Increasing with the order entries were written' }),
    at: z.iso.datetime(),
    actor: z.object({
      subject: z.string(),
      credential: z.string().nullable().meta({ description: '`token:<id>` or `jwt:<issuer>`; null for entries older than this field' }),
    }),
    action: z.string(),
    target: z.object({ type: z.string(), id: z.string() }),
    summary: z.record(z.string(), z.unknown()).meta({ description: 'What changed (e.g. version numbers, the update id of run control)' }),
    outcome: z.enum(['succeeded', 'refused']),
    requestId: z.string().nullable(),
    remoteAddress: z.string().nullable(),
  }),
);

export const AuditPage = registry.register(
  'AuditPage',
  z.object({ items: z.array(AuditEntryResource), nextCursor: z.string().nullable() }),
);
