import { Prisma, type PrismaClient, type Publish } from '@prisma/client';
import type { PublishStatus } from '../../workflows/publishing/contract';

/**
 * The publish record as the publishing activities write it: one row per publish (or online /
 * offline), its status, the DolphinScheduler codes it wrote, and each step it took, appended as
 * it happens so a failure part-way shows exactly how far it got.
 */

export type PublishStepName =
  | 'project'
  | 'task-codes'
  | 'offline'
  | 'definition'
  | 'online'
  | 'schedule'
  | 'schedule-online'
  | 'compensate'
  | 'approval';

export interface PublishStepRecord {
  step: PublishStepName;
  /** `started`: recorded before a call whose effect must be undone or finished if the worker dies during it; its outcome follows. */
  status: 'started' | 'succeeded' | 'failed' | 'skipped';
  at: string;
  detail?: Record<string, unknown>;
}

export interface PublishErrorRecord {
  type: string;
  message: string;
  retryable?: boolean;
  code?: number;
  operation?: string;
}

export class PublishRecords {
  constructor(private readonly prisma: PrismaClient) {}

  async get(publishId: string): Promise<Publish> {
    return this.prisma.publish.findUniqueOrThrow({ where: { id: publishId } });
  }

  async update(publishId: string, data: Prisma.PublishUpdateInput): Promise<Publish> {
    return this.prisma.publish.update({ where: { id: publishId }, data });
  }

  async setStatus(publishId: string, status: PublishStatus, extra: Prisma.PublishUpdateInput = {}): Promise<void> {
    await this.update(publishId, { status, ...extra });
  }

  /** Appends a step without reading the row: two writers never lose each other's steps. */
  async appendStep(publishId: string, step: Omit<PublishStepRecord, 'at'>): Promise<void> {
    const entry: PublishStepRecord = { ...step, at: new Date().toISOString() };
    await this.prisma.$executeRaw`
      UPDATE "Publish" SET "steps" = "steps" || ${JSON.stringify([entry])}::jsonb, "updatedAt" = now() WHERE "id" = ${publishId}::uuid`;
  }

  /**
   * What the latest earlier publish of this template to this target left in DolphinScheduler: the
   * definition that re-publishing updates, and its schedule. Publishes of one template to one target
   * run one at a time (the queue workflow), so nothing moves under this read.
   */
  async previousBinding(record: Publish): Promise<Publish | undefined> {
    const row = await this.prisma.publish.findFirst({
      where: {
        tenantId: record.tenantId,
        templateId: record.templateId,
        target: record.target,
        action: 'publish',
        definitionCode: { not: null },
        id: { not: record.id },
        createdAt: { lte: record.createdAt },
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    return row ?? undefined;
  }
}

export function stepsOf(record: Publish): PublishStepRecord[] {
  return Array.isArray(record.steps) ? (record.steps as unknown as PublishStepRecord[]) : [];
}

export function taskCodesOf(record: Publish): Record<string, number> {
  const codes = record.taskCodes;
  return typeof codes === 'object' && codes !== null && !Array.isArray(codes) ? (codes as Record<string, number>) : {};
}
