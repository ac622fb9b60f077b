import { z } from 'zod';
import { storableText } from '../http/validation';
import { TargetNameParam } from '../dolphinscheduler/target-schemas';
import { INSPECTION_RULES } from '../../../../workflows/publishing/contract';

/** Request and response shapes of inspections and their findings. */

export const FINDING_STATUSES = ['open', 'acknowledged', 'resolved'] as const;

export const ListFindingsQuery = z
  .object({
    status: z.enum([...FINDING_STATUSES, 'all']).default('open').meta({ description: '`all` for every status' }),
    rule: z.enum(INSPECTION_RULES).optional(),
    templateId: z.guid().optional(),
    target: TargetNameParam.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();
export type FindingListQuery = z.output<typeof ListFindingsQuery>;

/** Running an inspection takes no parameters: it covers the caller's tenant. */
export const RunInspectionBody = z.object({}).strict().openapi('RunInspectionRequest');

export const AcknowledgeBody = z
  .object({ comment: storableText(2000).optional() })
  .strict()
  .openapi('AcknowledgeFindingRequest');

export const FindingResource = z
  .object({
    id: z.uuid(),
    rule: z.enum(INSPECTION_RULES),
    severity: z.enum(['critical', 'warning', 'info']),
    status: z.enum(FINDING_STATUSES),
    templateId: z.uuid().nullable(),
    target: z.string().nullable(),
    owner: z.string().nullable().meta({ description: 'The template’s owner when last found; null when it has none' }),
    summary: z.string(),
    details: z.record(z.string(), z.unknown()),
    fingerprint: z.string().meta({ description: 'Rule and subject: one finding per thing found' }),
    firstSeenAt: z.string(),
    lastSeenAt: z.string(),
    resolvedAt: z.string().nullable(),
    acknowledgedBy: z.string().nullable(),
    acknowledgedAt: z.string().nullable(),
    alertedAt: z.string().nullable().meta({ description: 'When its current state was alerted; null while not yet' }),
  })
  .openapi('InspectionFinding');

export const FindingList = z.object({ items: z.array(FindingResource) }).openapi('InspectionFindingList');

export const InspectionRunResource = z
  .object({
    status: z.enum(['completed', 'pending', 'failed', 'recent']).meta({
      description: '`recent`: the tenant’s last inspection finished moments ago (INSPECTION_RUN_MIN_INTERVAL_MS); its result is answered and nothing new is read',
    }),
    workflowId: z.string(),
    error: z.string().optional().meta({ description: 'Why the inspection failed (status `failed`); the next scheduled one runs as usual' }),
    result: z
      .object({
        opened: z.number().int(),
        changed: z.number().int(),
        resolved: z.number().int(),
        alerted: z.number().int(),
        alertFailures: z.number().int(),
        skipped: z.array(z.object({ rule: z.string(), target: z.string(), error: z.string() })),
      })
      .optional(),
  })
  .openapi('InspectionRun');
