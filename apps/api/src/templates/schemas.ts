import { z } from 'zod';
import { registerShared, registry } from '../openapi/registry';
import { QueryBoolean, queryText, storableText, text, textPatterns } from '../http/validation';
import { SpecSchema } from '../../../../workflows/spec/schema';

/**
 * Request and response shapes of the templates API. Request schemas parse; response schemas
 * only document. Specs arrive as `unknown` here because `validateSpec` owns their validation
 * (and reports issues per step); the documented bodies show the spec's real shape.
 */

export const SpecDocument = registerShared('Spec', SpecSchema);

const MAX_INT4 = 2_147_483_647;

export const TemplateIdParam = z.guid();

/** Version numbers in paths: positive decimal integers that fit the database column. */
export const VersionNumberParam = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/)
  .transform(Number)
  .refine((n) => n <= MAX_INT4);

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
const MAX_LABELS = 64;

const LabelKeySchema = z.string().regex(LABEL_KEY, {
  message: 'must start with a letter or digit and hold only letters, digits, ".", "_", "/" or "-" (at most 63)',
});
const LabelValueSchema = storableText(256);

export const LabelsSchema = z
  .record(LabelKeySchema, LabelValueSchema)
  .refine((labels) => Object.keys(labels).length <= MAX_LABELS, { message: `at most ${MAX_LABELS} labels` })
  // zod-to-openapi renders neither a record's key schema nor the refinement: both are published here.
  .openapi({ propertyNames: { pattern: LABEL_KEY.source }, maxProperties: MAX_LABELS } as object)
  .meta({ description: 'Free-form key/value labels for finding templates', example: { team: 'payments' } });

/** Names are trimmed, after the published rule (length, not blank, no NUL) is checked as sent. */
const NameSchema = text(textPatterns.notBlank, 200, 'must not be blank or contain NUL characters')
  .trim()
  .meta({ example: 'nightly-settlement' });
const DescriptionSchema = storableText(2000);
const MessageSchema = storableText(2000).meta({ description: 'Why this version exists, like a commit message' });
const OwnerSchema = text(textPatterns.notBlank, 200, 'must name a subject (not blank, no NUL characters)')
  .trim()
  .meta({ description: 'Who answers for the template (a subject of the tenant, e.g. a user or team): inspection findings are assigned to them', example: 'alice' });

export const CreateTemplateBody = z
  .object({
    name: NameSchema,
    description: DescriptionSchema.default(''),
    labels: LabelsSchema.default({}),
    owner: OwnerSchema.nullable().default(null),
    spec: z.unknown(),
    message: MessageSchema.default(''),
  })
  .strict();

export const UpdateTemplateBody = z
  .object({
    name: NameSchema.optional(),
    description: DescriptionSchema.optional(),
    labels: LabelsSchema.optional().meta({ description: 'Replaces all labels' }),
    owner: OwnerSchema.nullable().optional().meta({ description: 'null removes the owner' }),
  })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, { message: 'name at least one of name, description, labels, owner' })
  .openapi({ minProperties: 1 } as object);
export type TemplatePatch = z.output<typeof UpdateTemplateBody>;

export const CreateVersionBody = z.object({ spec: z.unknown(), message: MessageSchema.default('') }).strict();

export const RollbackBody = z.object({ message: MessageSchema.optional() }).strict();

const LimitQuery = z.coerce.number().int().min(1).max(100).default(20);
const CursorQuery = queryText(512).meta({ description: 'The nextCursor of the previous page' });

/**
 * `key:value`: a label key, then any storable text (a value longer than any label's matches
 * nothing, it is no error). One published pattern holds the whole rule.
 */
const LABEL_FILTER = new RegExp(`${LABEL_KEY.source.slice(0, -1)}:[^\\u0000]*$`);

const LabelFilter = text(LABEL_FILTER, 320, 'must be written key:value, the key a label key')
  .transform((filter) => {
    const separator = filter.indexOf(':');
    return { key: filter.slice(0, separator), value: filter.slice(separator + 1) };
  })
  .pipe(z.object({ key: LabelKeySchema, value: z.string() }));

export const ListTemplatesQuery = z
  .object({
    q: queryText(200).optional().meta({ description: 'Matches name or description, case-insensitively' }),
    label: z
      .union([LabelFilter, z.array(LabelFilter).max(20)])
      .optional()
      .transform((filters) => (filters === undefined ? [] : Array.isArray(filters) ? filters : [filters]))
      .meta({ description: 'key:value; repeat to require several labels' }),
    archived: QueryBoolean.default(false),
    limit: LimitQuery,
    cursor: CursorQuery.optional(),
  })
  .strict();
export type TemplateListQuery = z.output<typeof ListTemplatesQuery>;

export const ListVersionsQuery = z.object({ limit: LimitQuery, cursor: CursorQuery.optional() }).strict();
export type VersionListQuery = z.output<typeof ListVersionsQuery>;

// Responses (documentation only).

const Timestamp = z.iso.datetime();

export const TemplateResource = registry.register(
  'Template',
  z.object({
    id: z.uuid(),
    name: z.string(),
    description: z.string(),
    labels: z.record(z.string(), z.string()),
    owner: z.string().nullable(),
    archived: z.boolean(),
    latestVersion: z.number().int(),
    createdBy: z.string(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  }),
);

export const VersionResource = registry.register(
  'TemplateVersion',
  z.object({
    templateId: z.uuid(),
    number: z.number().int(),
    spec: SpecDocument,
    specHash: z.string().meta({ description: 'sha256 of the canonical JSON of the parsed spec' }),
    author: z.string(),
    message: z.string(),
    createdAt: Timestamp,
  }),
);

export const CreatedTemplateResource = registry.register(
  'CreatedTemplate',
  TemplateResource.extend({ version: VersionResource }),
);

export const TemplatePage = registry.register(
  'TemplatePage',
  z.object({ items: z.array(TemplateResource), nextCursor: z.string().nullable() }),
);

export const VersionPage = registry.register(
  'TemplateVersionPage',
  z.object({ items: z.array(VersionResource), nextCursor: z.string().nullable() }),
);

const FieldChange = z.object({
  path: z.string().meta({ example: 'with.url' }),
  kind: z.enum(['added', 'removed', 'changed']),
  from: z.unknown().optional(),
  to: z.unknown().optional(),
});

const ItemChanges = z.object({
  added: z.array(z.string()),
  removed: z.array(z.string()),
  changed: z.array(z.object({ id: z.string(), changes: z.array(FieldChange) })),
});

export const SpecDiffResource = registry.register(
  'SpecDiff',
  z.object({
    from: z.number().int(),
    to: z.number().int(),
    steps: ItemChanges,
    groups: ItemChanges,
    inputs: z.array(FieldChange),
    timeout: FieldChange.nullable(),
    description: FieldChange.nullable(),
  }),
);

export const ValidationResult = registry.register(
  'SpecValidation',
  z.object({
    valid: z.literal(true),
    spec: SpecDocument,
    stats: z.object({
      steps: z.number().int(),
      groups: z.number().int(),
      depth: z.number().int().meta({ description: 'Steps on the longest dependency chain' }),
    }),
  }),
);

/** Documented request bodies: the parsing schemas with the spec's real shape. */
export const documentedBodies = {
  createTemplate: CreateTemplateBody.extend({ spec: SpecDocument }),
  createVersion: CreateVersionBody.extend({ spec: SpecDocument }),
  validate: z.union([z.object({ spec: SpecDocument }), SpecDocument]),
};
