import { z } from 'zod';
import { registry } from '../openapi/registry';

/** Who a token speaks for, and role names: identifiers that read the same in logs, specs and claims. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$/;
const ROLE = /^[A-Za-z][A-Za-z0-9._:-]{0,62}$/;
const MAX_ROLES = 32;
const MAX_LIFETIME_DAYS = 3650;

export const TokenNameSchema = z
  .string()
  .regex(NAME, { message: 'must start with a letter or digit and hold only letters, digits, ".", "_", "@", ":" or "-" (at most 100)' })
  .meta({ description: 'Who the token speaks for: its subject in approvals, run starts and the audit trail', example: 'alice' });

export const RoleNamesSchema = z
  .array(z.string().regex(ROLE, { message: 'must be a letter, then letters, digits, ".", "_", ":" or "-" (at most 63)' }))
  .min(1)
  .max(MAX_ROLES)
  .meta({ description: 'admin, editor, operator, approver, viewer, and any role an approval step names', example: ['operator', 'sre'] });

export const CreateTokenBody = z
  .object({
    name: TokenNameSchema,
    roles: RoleNamesSchema,
    expiresInDays: z.number().int().min(1).max(MAX_LIFETIME_DAYS).optional().meta({ description: 'Unset: the token does not expire' }),
  })
  .strict();

export const TokenIdParam = z.guid();

export const TokenResource = registry.register(
  'Token',
  z.object({
    id: z.uuid(),
    name: z.string(),
    roles: z.array(z.string()),
    system: z.boolean(),
    expiresAt: z.iso.datetime().nullable(),
    lastUsedAt: z.iso.datetime().nullable().meta({ description: 'Updated at most once a minute' }),
    revokedAt: z.iso.datetime().nullable(),
    createdBy: z.string(),
    createdAt: z.iso.datetime(),
  }),
);

export const CreatedTokenResource = registry.register(
  'CreatedToken',
  TokenResource.extend({ secret: z.string().meta({ description: 'The bearer token; shown only in this answer', example: 'fpk_…' }) }),
);

export const TokenList = registry.register('TokenList', z.object({ items: z.array(TokenResource) }));
