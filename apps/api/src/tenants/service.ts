import { Prisma, type PrismaClient, type Tenant } from '@prisma/client';
import { problems } from '../http/problem';
import { auditRow, type AuditActor } from '../audit/trail';
import { issueToken, type TokenView } from '../tokens/service';

export interface TenantView {
  id: string;
  slug: string;
  name: string;
  createdAt: string;
}

export interface NewTenant {
  slug: string;
  name: string;
  /** Subject of the tenant's first admin token. */
  adminName: string;
  createdBy: string;
}

/** A tenant and its first admin token, in one transaction: a tenant nobody can administer is never left behind. */
export async function createTenant(
  prisma: PrismaClient,
  tenant: NewTenant,
  by?: AuditActor,
): Promise<TenantView & { adminToken: TokenView & { secret: string } }> {
  try {
    return await prisma.$transaction(async (tx) => {
      const row = await tx.tenant.create({ data: { slug: tenant.slug, name: tenant.name } });
      // The entry belongs to the new tenant (its admins see how it came to be); the actor is the system administrator.
      const actor: AuditActor = { ...by, tenantId: row.id, subject: by?.subject ?? tenant.createdBy };
      await tx.auditEvent.create({
        data: auditRow(actor, { action: 'tenant.created', target: { type: 'tenant', id: row.id }, summary: { slug: row.slug, name: row.name, adminName: tenant.adminName } }),
      });
      const { token, secret } = await issueToken(tx, {
        tenantId: row.id,
        name: tenant.adminName,
        roles: ['admin'],
        system: false,
        expiresAt: null,
        createdBy: tenant.createdBy,
      }, actor);
      return { ...tenantView(row), adminToken: { ...token, secret } };
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw problems.conflict(`a tenant ${JSON.stringify(tenant.slug)} already exists`);
    }
    throw error;
  }
}

export async function listTenants(prisma: PrismaClient): Promise<TenantView[]> {
  return (await prisma.tenant.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })).map(tenantView);
}

function tenantView(row: Tenant): TenantView {
  return { id: row.id, slug: row.slug, name: row.name, createdAt: row.createdAt.toISOString() };
}
