import type { ApiToken, Prisma, PrismaClient } from '@prisma/client';
import { hashTokenSecret, newTokenSecret } from '../auth/api-tokens';
import { auditRow, type AuditActor } from '../audit/trail';

/** API tokens of a tenant: issued with their secret shown once, listed without it, revoked. */

export interface TokenView {
  id: string;
  name: string;
  roles: string[];
  system: boolean;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdBy: string;
  createdAt: string;
}

export interface NewToken {
  tenantId: string;
  /** Who the token speaks for: its subject in approvals, run starts and the audit trail. */
  name: string;
  roles: string[];
  system: boolean;
  expiresAt: Date | null;
  createdBy: string;
}

type Database = PrismaClient | Prisma.TransactionClient;

/** Stores the token's hash with its audit event; the secret exists only in the answer. */
export async function issueToken(db: Database, token: NewToken, by?: AuditActor): Promise<{ token: TokenView; secret: string }> {
  const secret = newTokenSecret();
  const row = await db.apiToken.create({
    data: {
      tenantId: token.tenantId,
      name: token.name,
      secretHash: hashTokenSecret(secret),
      roles: token.roles,
      system: token.system,
      expiresAt: token.expiresAt,
      createdBy: token.createdBy,
    },
  });
  // The actor's own tenant may differ from the token's (a system administrator creating a tenant's first token).
  const actor: AuditActor = { ...by, tenantId: token.tenantId, subject: by?.subject ?? token.createdBy };
  await db.auditEvent.create({
    data: auditRow(actor, {
      action: 'token.created',
      target: { type: 'token', id: row.id },
      summary: { name: token.name, roles: token.roles, system: token.system, expiresAt: token.expiresAt?.toISOString() ?? null },
    }),
  });
  return { token: tokenView(row), secret };
}

export async function listTokens(db: Database, tenantId: string): Promise<TokenView[]> {
  const rows = await db.apiToken.findMany({ where: { tenantId }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
  return rows.map(tokenView);
}

/** Revokes a token of the tenant; undefined when the tenant has no such token. Revoking twice changes nothing. */
export async function revokeToken(db: PrismaClient, tenantId: string, id: string, actor: AuditActor): Promise<TokenView | undefined> {
  return db.$transaction(async (tx) => {
    const row = await tx.apiToken.findFirst({ where: { id, tenantId } });
    if (!row) return undefined;
    if (row.revokedAt) return tokenView(row);
    const revoked = await tx.apiToken.update({ where: { id }, data: { revokedAt: new Date() } });
    await tx.auditEvent.create({
      data: auditRow({ ...actor, tenantId }, { action: 'token.revoked', target: { type: 'token', id }, summary: { name: row.name } }),
    });
    return tokenView(revoked);
  });
}

function tokenView(row: ApiToken): TokenView {
  return {
    id: row.id,
    name: row.name,
    roles: row.roles,
    system: row.system,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
  };
}
