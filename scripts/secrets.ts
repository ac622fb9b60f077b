/**
 * `npm run secrets -- rotate [--tenant=<slug>]`: re-encrypts every stored secret (of one tenant, or
 * of all) under the active key of SECRETS_KEYS, the first entry. Rotating a key:
 *
 *   1. put a new key first in SECRETS_KEYS (the old one after it) and restart the API and workers;
 *   2. run this; it reports how many values moved;
 *   3. drop the old key from SECRETS_KEYS.
 *
 * Reads DATABASE_URL and SECRETS_KEYS; under `npm run up` (embedded PostgreSQL, development key in
 * `.data/`) both default to what `up` uses.
 */
import { resolve } from 'node:path';
import { Keyring } from '../apps/common/crypto/keyring';
import { createPrismaClient } from '../apps/common/database';
import { SecretStore } from '../apps/common/secrets/secret-store';
import { developmentSecretsKeys } from './lib/dev-keys';

const USAGE = 'usage: npm run secrets -- rotate [--tenant=<slug>]';

async function main(args: string[]): Promise<void> {
  const [command, ...options] = args;
  if (command !== 'rotate') throw new Error(USAGE);
  const tenantOption = options.find((option) => option.startsWith('--tenant='));
  const unknown = options.filter((option) => option !== tenantOption);
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(' ')}; ${USAGE}`);

  const dataDir = resolve(__dirname, '..', process.env.DATA_DIR ?? '.data');
  const keyring = Keyring.parse(process.env.SECRETS_KEYS ?? developmentSecretsKeys(dataDir).keys, 'SECRETS_KEYS');
  const databaseUrl = process.env.DATABASE_URL ?? `postgresql://postgres:postgres@127.0.0.1:${process.env.EMBEDDED_POSTGRES_PORT ?? 54320}/flowpilot`;
  const prisma = createPrismaClient(databaseUrl);
  try {
    const slug = tenantOption?.slice('--tenant='.length);
    const tenant = slug === undefined ? undefined : await prisma.tenant.findUnique({ where: { slug }, select: { id: true } });
    if (slug !== undefined && !tenant) throw new Error(`no tenant ${slug}`);
    const report = await new SecretStore(prisma, keyring).rotate(tenant ? { tenantId: tenant.id } : {});
    console.log(`re-encrypted ${report.reEncrypted} secret(s) under key ${keyring.activeKeyId}; ${report.current} already were`);
  } finally {
    await prisma.$disconnect();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
