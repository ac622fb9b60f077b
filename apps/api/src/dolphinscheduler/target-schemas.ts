import { z } from 'zod';
import { SECRET_NAME } from '../../../../workflows/spec/secret-references';
import { storableText, text, textPatterns } from '../http/validation';

/** Request and response shapes of the DolphinScheduler targets API. A target names its token's secret, never the token. */

export const TARGET_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export const TargetNameParam = text(TARGET_NAME, 63, 'must be a lowercase letter, then lowercase letters, digits or "-" (63 at most)').meta({
  description: 'The target’s name within the tenant',
  example: 'staging',
});

export const DIALECTS = ['v3.1', 'v3.3'] as const;
export const DialectSchema = z.enum(DIALECTS).meta({
  description: 'Which REST paths and fields the server speaks: `v3.1` for 3.1 and 3.2 (process-definition), `v3.3` for 3.3 and later (workflow-definition)',
});

/** DolphinScheduler's own identifiers: project and tenant codes, worker groups. */
const DS_IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const PutTargetBody = z
  .object({
    baseUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2000)
      .transform((url) => url.replace(/\/+$/, ''))
      .meta({ description: 'The API’s base URL, with its context path', example: 'http://ds.example.com:12345/dolphinscheduler' }),
    tokenSecret: text(SECRET_NAME, 64, 'must name a tenant secret (upper-case letters, digits, "_")').meta({
      description: 'The tenant secret holding the DolphinScheduler access token; only the worker’s publishing activities read it',
      example: 'DS_STAGING_TOKEN',
    }),
    projectName: text(textPatterns.notBlank, 100, 'must not be blank or contain NUL characters').meta({
      description: 'The DolphinScheduler project publishes go to; created on the first publish when missing',
    }),
    tenantCode: text(DS_IDENTIFIER, 64, 'must be a DolphinScheduler tenant code (letters, digits, "_", ".", "-")').meta({
      description: 'The DolphinScheduler tenant (an OS user on its workers) tasks run as',
      example: 'etl',
    }),
    workerGroup: text(DS_IDENTIFIER, 64, 'must be a DolphinScheduler worker group name').default('default'),
    dialect: DialectSchema,
    description: storableText(500).default(''),
  })
  .strict()
  .openapi('PutDolphinSchedulerTarget');

export type TargetInput = z.output<typeof PutTargetBody>;

export const TargetResource = z
  .object({
    name: z.string(),
    baseUrl: z.string(),
    tokenSecret: z.string().meta({ description: 'The secret’s name; its value is never shown' }),
    projectName: z.string(),
    tenantCode: z.string(),
    workerGroup: z.string(),
    dialect: DialectSchema,
    description: z.string(),
    createdBy: z.string(),
    updatedBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('DolphinSchedulerTarget');

export const TargetList = z.object({ items: z.array(TargetResource) }).openapi('DolphinSchedulerTargetList');
