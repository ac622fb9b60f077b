import { rmSync } from 'node:fs';
import type { EmbeddedDatabase } from '../../scripts/lib/embedded-postgres';
import type { DevServer } from '../../scripts/lib/temporal-dev-server';

export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as Record<string, unknown>).__realParts as
    | { database?: EmbeddedDatabase; temporal?: DevServer; runDir?: string }
    | undefined;
  await started?.temporal?.stop();
  await started?.database?.stop();
  if (started?.runDir) rmSync(started.runDir, { recursive: true, force: true });
}
