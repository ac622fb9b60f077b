import type { Prisma, PrismaClient } from '@prisma/client';
import type { Spec } from '../../../../workflows/spec/schema';
import { problems, type InvalidParam } from '../http/problem';

type Db = Prisma.TransactionClient | PrismaClient;

/**
 * Refuses a spec whose steps' `notify` names a channel the tenant does not have: a 422 problem
 * naming each such name by its path in the body. Checked when a version is created only: a channel
 * renamed or deleted later is skipped (and logged) when a notice is delivered, so versions that
 * exist keep running.
 */
export async function checkNotifyChannels(db: Db, tenantId: string, spec: Spec, path: (string | number)[]): Promise<void> {
  const named = spec.steps.flatMap((step, stepIndex) => (step.notify?.channels ?? []).map((name, channelIndex) => ({ stepId: step.id, stepIndex, channelIndex, name })));
  if (named.length === 0) return;
  const rows = await db.notificationChannel.findMany({
    where: { tenantId, name: { in: [...new Set(named.map((entry) => entry.name))] } },
    select: { name: true },
  });
  const existing = new Set(rows.map((row) => row.name));
  const issues: InvalidParam[] = named
    .filter((entry) => !existing.has(entry.name))
    .map((entry) => ({
      path: [...path, 'steps', entry.stepIndex, 'notify', 'channels', entry.channelIndex],
      message: `step "${entry.stepId}": there is no channel named ${JSON.stringify(entry.name)}`,
    }));
  if (issues.length > 0) {
    throw problems.invalidSpec(issues.length === 1 ? issues[0]!.message : `the spec names ${issues.length} channels that do not exist`, issues);
  }
}
