import type { PrismaClient } from '@prisma/client';
import { issueToken, type TokenView } from '../../apps/api/src/tokens/service';

export interface BootstrapCredential {
  tenantSlug: string;
  /** The token's name: who it speaks for. */
  name: string;
  roles: string[];
  /** A system administrator's credential: may create and list tenants. */
  system: boolean;
  expiresAt: Date | null;
}

/**
 * Issues a token straight into the database, creating its tenant when it does not exist yet: how
 * the first credentials come to be, before any exists to call the API with. Audited like the API's.
 */
export async function issueBootstrapCredential(
  prisma: PrismaClient,
  credential: BootstrapCredential,
): Promise<{ tenantId: string; createdTenant: boolean; token: TokenView; secret: string }> {
  return prisma.$transaction(async (tx) => {
    const existing = await tx.tenant.findUnique({ where: { slug: credential.tenantSlug } });
    const tenant = existing ?? (await tx.tenant.create({ data: { slug: credential.tenantSlug, name: credential.tenantSlug } }));
    if (!existing) {
      await tx.auditEvent.create({
        data: { tenantId: tenant.id, actor: 'bootstrap', action: 'tenant.created', subjectType: 'tenant', subjectId: tenant.id, details: { slug: tenant.slug } },
      });
    }
    const { token, secret } = await issueToken(tx, {
      tenantId: tenant.id,
      name: credential.name,
      roles: credential.roles,
      system: credential.system,
      expiresAt: credential.expiresAt,
      createdBy: 'bootstrap',
    });
    return { tenantId: tenant.id, createdTenant: !existing, token, secret };
  });
}
