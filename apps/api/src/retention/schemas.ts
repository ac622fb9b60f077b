import { z } from 'zod';
import { registry } from '../openapi/registry';
import { RETENTION_DAYS } from '../../../common/retention/policy';

const days = (what: string) =>
  z.number().int().min(RETENTION_DAYS.min).max(RETENTION_DAYS.max).meta({ description: `Days ${what} are kept`, example: 30 });

export const PutRetentionBody = registry.register(
  'RetentionPolicyUpdate',
  z.object({ logsDays: days('step logs'), artifactsDays: days('artifacts') }).strict(),
);

export const RetentionPolicyResource = registry.register(
  'RetentionPolicy',
  z.object({
    logsDays: z.number().int(),
    artifactsDays: z.number().int(),
    custom: z.boolean().meta({ description: 'False while the tenant keeps the defaults' }),
    updatedBy: z.string().nullable(),
    updatedAt: z.iso.datetime().nullable(),
  }),
);
