import { z } from 'zod';
import { registry } from '../openapi/registry';
import { storableText, textPatterns, text } from '../http/validation';
import { CreatedTokenResource, TokenNameSchema } from '../tokens/schemas';

const SLUG = /^[a-z][a-z0-9-]{1,62}$/;

export const TenantSlugSchema = z
  .string()
  .regex(SLUG, { message: 'must be 2 to 63 lowercase letters, digits or "-", starting with a letter' })
  .meta({ description: 'The tenant’s name in credentials (the OIDC tenant claim)', example: 'payments' });

export const CreateTenantBody = z
  .object({
    slug: TenantSlugSchema,
    name: text(textPatterns.notBlank, 200, 'must not be blank or contain NUL characters').trim(),
    adminName: TokenNameSchema.default('admin').meta({ description: 'Name (subject) of the first admin token', example: 'alice' }),
  })
  .strict();

export const TenantResource = registry.register(
  'Tenant',
  z.object({ id: z.uuid(), slug: z.string(), name: storableText(200), createdAt: z.iso.datetime() }),
);

export const CreatedTenantResource = registry.register(
  'CreatedTenant',
  TenantResource.extend({ adminToken: CreatedTokenResource.meta({ description: 'The tenant’s first admin token; its secret is shown only here' }) }),
);

export const TenantList = registry.register('TenantList', z.object({ items: z.array(TenantResource) }));
