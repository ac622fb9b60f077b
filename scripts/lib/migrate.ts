import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';

const run = promisify(execFile);
const projectRoot = resolve(__dirname, '..', '..');

/**
 * Applies the committed migrations with `prisma migrate deploy`: the one migration path for
 * development, CI and production.
 */
export async function migrateDatabase(databaseUrl: string): Promise<void> {
  const prisma = resolve(projectRoot, 'node_modules', '.bin', 'prisma');
  await run(prisma, ['migrate', 'deploy'], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
}
