import { Prisma, type PrismaClient, type Tenant } from '@prisma/client';
import { problems } from '../http/problem';
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
): Promise<TenantView & { adminToken: TokenView & { secret: string } }> {
  try {
    return await prisma.$transaction(async (tx) => {
      const row = await tx.tenant.create({ data: { slug: tenant.slug, name: tenant.name } });
      await tx.auditEvent.create({
        data: { tenantId: row.id, actor: tenant.createdBy, action: 'tenant.created', subjectType: 'tenant', subjectId: row.id, details: { slug: row.slug } },
      });
      const { token, secret } = await issueToken(tx, {
        tenantId: row.id,
        name: tenant.adminName,
        roles: ['admin'],
        system: false,
        expiresAt: null,
        createdBy: tenant.createdBy,
      });
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
