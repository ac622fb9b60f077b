import { rmSync } from 'node:fs';
import type { EmbeddedDatabase } from '../../scripts/lib/embedded-postgres';
import type { DevServer } from '../../scripts/lib/temporal-dev-server';
import type { DolphinSchedulerServer } from '../../scripts/lib/dolphinscheduler';

/** The real parts a test run's global setup started (those given by the environment are not). */
export interface RealParts {
  database?: EmbeddedDatabase;
  temporal?: DevServer;
  dolphinscheduler?: DolphinSchedulerServer;
  runDir?: string;
}

export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as Record<string, unknown>).__realParts as RealParts | undefined;
  await started?.dolphinscheduler?.release();
  await started?.temporal?.stop();
  await started?.database?.stop();
  if (started?.runDir) rmSync(started.runDir, { recursive: true, force: true });
}
