/**
 * Creates API tokens straight in the database, for bootstrapping: the first administrator of a
 * tenant, or the first system administrator, before any credential exists to call the API with.
 *
 *   npm run token -- create --tenant <slug> --name <name> --roles admin[,sre…] [--system] [--expires-in-days <n>]
 *
 * The tenant is created when it does not exist. The secret is printed once, on stdout, and stored
 * nowhere: only its SHA-256 is. Reads DATABASE_URL.
 */
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { createPrismaClient } from '../apps/common/database';
import { TenantSlugSchema } from '../apps/api/src/tenants/schemas';
import { RoleNamesSchema, TokenNameSchema } from '../apps/api/src/tokens/schemas';
import { issueBootstrapCredential } from './lib/credentials';

const USAGE = 'usage: npm run token -- create --tenant <slug> --name <name> --roles admin[,sre…] [--system] [--expires-in-days <n>]';
const DAY_MS = 86_400_000;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      roles: { type: 'string' },
      system: { type: 'boolean', default: false },
      'expires-in-days': { type: 'string' },
    },
  });
  if (positionals[0] !== 'create' || !values.tenant || !values.name || !values.roles) fail(USAGE);
  const tenantSlug = checked(TenantSlugSchema, values.tenant, '--tenant');
  const name = checked(TokenNameSchema, values.name, '--name');
  const roles = checked(RoleNamesSchema, values.roles.split(',').map((role) => role.trim()).filter(Boolean), '--roles');
  const days = values['expires-in-days'] === undefined ? undefined : Number(values['expires-in-days']);
  if (days !== undefined && !(Number.isInteger(days) && days > 0)) fail('--expires-in-days must be a positive whole number');

  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) fail('DATABASE_URL must be set');
  const prisma = createPrismaClient(databaseUrl);
  try {
    const issued = await issueBootstrapCredential(prisma, {
      tenantSlug,
      name,
      roles,
      system: values.system,
      expiresAt: days === undefined ? null : new Date(Date.now() + days * DAY_MS),
    });
    const what = `${values.system ? 'system administrator ' : ''}token ${issued.token.id} (${roles.join(', ')}) for ${name}`;
    process.stderr.write(`${issued.createdTenant ? `created tenant ${tenantSlug}; ` : ''}created ${what} in tenant ${tenantSlug}; the secret is shown only now:\n`);
    process.stdout.write(`${issued.secret}\n`);
  } finally {
    await prisma.$disconnect();
  }
}

/** The API's own rules for these fields, so a bootstrap token could have been made through the API too. */
function checked<T>(schema: z.ZodType<T>, value: unknown, flag: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) fail(`${flag}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

main().catch((error: unknown) => {
  process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
