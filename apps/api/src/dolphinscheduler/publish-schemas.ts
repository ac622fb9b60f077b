import { z } from 'zod';
import { PUBLISH_STATUSES } from '../../../../workflows/publishing/contract';
import { PublishScheduleSchema } from '../../../../workflows/publishing/schedule';
import { queryText, storableText, timestamp } from '../http/validation';
import { TargetNameParam } from './target-schemas';

/** Request and response shapes of publishing: publish, online / offline, publish records, approvals. */

export const PublishBody = z
  .object({
    target: TargetNameParam,
    schedule: PublishScheduleSchema.optional().meta({ description: 'Created or updated, and brought online, after the definition' }),
    requireApproval: z.boolean().default(false).meta({ description: 'Wait for an approver (not the requester) before anything is sent' }),
  })
  .strict()
  .openapi('PublishRequest');
export type PublishRequestBody = z.output<typeof PublishBody>;

export const PublishDecisionBody = z.object({ comment: storableText(2000).optional() }).strict().openapi('PublishDecisionRequest');

export const ListPublishesQuery = z
  .object({
    templateId: z.guid().optional(),
    target: TargetNameParam.optional(),
    status: z.enum(PUBLISH_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: queryText(512).optional().meta({ description: 'The nextCursor of the previous page' }),
  })
  .strict();
export type PublishListQuery = z.output<typeof ListPublishesQuery>;

export const PublishCursorSchema = z.object({ createdAt: timestamp(), id: z.guid() }).strict();

const PublishStep = z.object({
  step: z.string(),
  status: z.enum(['started', 'succeeded', 'failed', 'skipped']).meta({
    description: '`started` is recorded before a call that must be finished or undone if the worker dies during it (taking the definition offline); its outcome follows',
  }),
  at: z.string(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

export const PublishResource = z
  .object({
    id: z.uuid(),
    templateId: z.uuid(),
    version: z.number().int(),
    target: z.string(),
    action: z.enum(['publish', 'online', 'offline']),
    status: z.enum(PUBLISH_STATUSES),
    requireApproval: z.boolean(),
    schedule: z.record(z.string(), z.unknown()).nullable(),
    dolphinScheduler: z.object({
      projectCode: z.number().nullable(),
      definitionCode: z.number().nullable(),
      definitionVersion: z.number().int().nullable(),
      taskCodes: z.record(z.string(), z.number()).meta({ description: 'Step id (or `X#condition`) → task code, kept across re-publishes' }),
      scheduleId: z.number().int().nullable(),
    }),
    requestedBy: z.string(),
    approvals: z.array(z.object({ decision: z.enum(['approved', 'rejected']), by: z.string(), at: z.string(), comment: z.string().optional() })),
    error: z.record(z.string(), z.unknown()).nullable(),
    steps: z.array(PublishStep),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('Publish');

export const PublishPage = z.object({ items: z.array(PublishResource), nextCursor: z.string().nullable() }).openapi('PublishPage');
