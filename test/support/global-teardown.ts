import { rmSync } from 'node:fs';
import type { EmbeddedDatabase } from '../../scripts/lib/embedded-postgres';
import type { DevServer } from '../../scripts/lib/temporal-dev-server';
import type { DolphinSchedulerServer } from '../../scripts/lib/dolphinscheduler';

export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as Record<string, unknown>).__realParts as
    | { database?: EmbeddedDatabase; temporal?: DevServer; dolphinscheduler?: DolphinSchedulerServer; runDir?: string }
    | undefined;
  await started?.dolphinscheduler?.release();
  await started?.temporal?.stop();
  await started?.database?.stop();
  if (started?.runDir) rmSync(started.runDir, { recursive: true, force: true });
}
