import { Prisma, type PrismaClient, type Secret } from '@prisma/client';
import { Keyring } from '../crypto/keyring';

/**
 * A tenant's secrets, encrypted at rest. Values leave this module only through `reveal`, which the
 * worker's step activities call; everything the API answers is `SecretMetadata`.
 *
 * Each value is sealed with AES-256-GCM under the keyring's active key, with the tenant and the
 * name as associated data: a ciphertext copied to another row or tenant fails to open.
 */

/** At most this many bytes of UTF-8 per value: secrets are credentials, not documents. */
export const MAX_SECRET_VALUE_BYTES = 64 * 1024;

export interface SecretMetadata {
  name: string;
  description: string;
  /** The key the value is sealed under: after a rotation, the active one. */
  keyId: string;
  createdBy: string;
  updatedBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface RotationReport {
  /** Values sealed anew under the active key. */
  reEncrypted: number;
  /** Values already under the active key. */
  current: number;
}

export class SecretStore {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly keyring: Keyring,
  ) {}

  /**
   * Creates or replaces a secret; answers its metadata and whether it is new. A replacement keeps
   * the description unless one is given. With `createOnly`, an existing secret is left alone and
   * the answer is undefined.
   */
  async put(
    tenantId: string,
    name: string,
    input: { value: string; description?: string },
    actor: string,
    options: { createOnly?: boolean } = {},
  ): Promise<{ secret: SecretMetadata; created: boolean } | undefined> {
    const sealed = this.keyring.seal(Buffer.from(input.value, 'utf8'), associatedData(tenantId, name));
    const insert = Prisma.sql`
      INSERT INTO "Secret" ("tenantId", "name", "description", "keyId", "ciphertext", "createdBy", "updatedBy", "updatedAt")
      VALUES (${tenantId}::uuid, ${name}, ${input.description ?? ''}, ${sealed.keyId}, ${sealed.bytes}, ${actor}, ${actor}, now())`;
    const onConflict = options.createOnly
      ? Prisma.sql`ON CONFLICT ("tenantId", "name") DO NOTHING`
      : Prisma.sql`ON CONFLICT ("tenantId", "name") DO UPDATE SET
          "description" = COALESCE(${input.description ?? null}, "Secret"."description"),
          "keyId" = EXCLUDED."keyId", "ciphertext" = EXCLUDED."ciphertext",
          "updatedBy" = EXCLUDED."updatedBy", "updatedAt" = now()`;
    // One statement decides create or replace, so two concurrent PUTs cannot both "create";
    // xmax is 0 on a row this statement inserted.
    const [row] = await this.prisma.$queryRaw<(Omit<Secret, 'ciphertext' | 'tenantId'> & { created: boolean })[]>`
      ${insert} ${onConflict}
      RETURNING "name", "description", "keyId", "createdBy", "updatedBy", "createdAt", "updatedAt", (xmax = 0) AS created`;
    return row ? { secret: metadataOf(row), created: row.created } : undefined;
  }

  async get(tenantId: string, name: string): Promise<SecretMetadata | undefined> {
    const row = await this.prisma.secret.findUnique({ where: { tenantId_name: { tenantId, name } }, omit: { ciphertext: true } });
    return row ? metadataOf(row) : undefined;
  }

  /** Every secret of the tenant, by name. Tenants hold tens of secrets, not thousands: no paging. */
  async list(tenantId: string): Promise<SecretMetadata[]> {
    const rows = await this.prisma.secret.findMany({ where: { tenantId }, orderBy: { name: 'asc' }, omit: { ciphertext: true } });
    return rows.map(metadataOf);
  }

  /** Answers whether there was such a secret. */
  async delete(tenantId: string, name: string): Promise<boolean> {
    const { count } = await this.prisma.secret.deleteMany({ where: { tenantId, name } });
    return count > 0;
  }

  /** The plaintext value, or undefined when the tenant has no such secret. Step activities only. */
  async reveal(tenantId: string, name: string): Promise<string | undefined> {
    const row = await this.prisma.secret.findUnique({ where: { tenantId_name: { tenantId, name } } });
    if (!row) return undefined;
    return this.keyring.open({ keyId: row.keyId, bytes: Buffer.from(row.ciphertext) }, associatedData(tenantId, name)).toString('utf8');
  }

  /**
   * Re-seals every value (of one tenant, or of all) not under the active key, so the old keys can
   * leave the configuration. Each row is replaced only if it still holds the ciphertext read, so a
   * concurrent PUT wins. A value under a key not configured stops it, naming the key.
   */
  async rotate(scope: { tenantId?: string } = {}): Promise<RotationReport> {
    const report: RotationReport = { reEncrypted: 0, current: 0 };
    const tenant = scope.tenantId === undefined ? {} : { tenantId: scope.tenantId };
    const stale = await this.prisma.secret.findMany({ where: { ...tenant, keyId: { not: this.keyring.activeKeyId } } });
    report.current = await this.prisma.secret.count({ where: { ...tenant, keyId: this.keyring.activeKeyId } });
    for (const row of stale) {
      const aad = associatedData(row.tenantId, row.name);
      const sealed = this.keyring.seal(this.keyring.open({ keyId: row.keyId, bytes: Buffer.from(row.ciphertext) }, aad), aad);
      const { count } = await this.prisma.secret.updateMany({
        where: { tenantId: row.tenantId, name: row.name, keyId: row.keyId, ciphertext: row.ciphertext },
        data: { keyId: sealed.keyId, ciphertext: new Uint8Array(sealed.bytes) },
      });
      if (count === 1) report.reEncrypted++;
    }
    return report;
  }
}

/** What a value is bound to. NUL separates the parts: neither a tenant id nor a name holds one. */
function associatedData(tenantId: string, name: string): Buffer {
  return Buffer.from(`flowpilot-secret\u0000${tenantId}\u0000${name}`, 'utf8');
}

function metadataOf(row: Omit<Secret, 'ciphertext' | 'tenantId'>): SecretMetadata {
  return {
    name: row.name,
    description: row.description,
    keyId: row.keyId,
    createdBy: row.createdBy,
    updatedBy: row.updatedBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
