import { z } from 'zod';
import '../openapi/registry'; // extends zod with `.openapi()` before the schemas below use it
import { storableText, text } from '../http/validation';

/** Request and response shapes of webhook triggers: validation in the routers, documentation in openapi.ts. */

const MAX_INT4 = 2_147_483_647;

const TriggerName = text(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 100, 'must start with a letter or digit and hold only letters, digits, ".", "_" or "-" (at most 100)').meta({
  description: 'Unique among the template’s triggers',
  example: 'github-push',
});

/**
 * A JSONata expression (the spec's expression language, with the same bounds) whose value is the
 * run's input object. It sees `body` (the delivery's JSON), `headers` (lower-case names),
 * `deliveryId` and `trigger` (`id`, `name`).
 */
export const Mapping = storableText(10_000)
  .min(1)
  .meta({
    description:
      'A JSONata expression whose value is the run’s input object; it sees `body` (the delivery’s JSON), `headers` (lower-case names), `deliveryId` and `trigger` (`id`, `name`)',
    example: '{ "service": body.repository.name, "ref": body.ref }',
  });

const TriggerVersion = z
  .union([z.literal('latest'), z.int().min(1).max(MAX_INT4)])
  .meta({ description: 'A version number to pin, or `latest`: the template’s latest version at each delivery' });

export const CreateTriggerBody = z
  .object({
    name: TriggerName,
    description: storableText(500).default(''),
    mapping: Mapping,
    version: TriggerVersion.default('latest'),
  })
  .strict()
  .openapi('CreateWebhookTrigger');
export type CreateTriggerBody = z.output<typeof CreateTriggerBody>;

export const UpdateTriggerBody = z
  .object({ name: TriggerName.optional(), description: storableText(500).optional(), mapping: Mapping.optional(), version: TriggerVersion.optional() })
  .strict()
  .openapi('UpdateWebhookTrigger');
export type UpdateTriggerBody = z.output<typeof UpdateTriggerBody>;

export const TriggerIdParam = z.guid();

// Responses (documentation only).

const Timestamp = z.iso.datetime();

export const TriggerResource = z
  .object({
    id: z.string(),
    templateId: z.string(),
    name: z.string(),
    description: z.string(),
    mapping: z.string(),
    version: TriggerVersion,
    url: z.string().meta({ description: 'Where senders POST deliveries (relative to the API’s origin)', example: '/api/v1/hooks/0b0c5a3e-5d0f-4b7e-9a51-4b0f6a1c2d3e' }),
    secretName: z.string().meta({ description: 'The tenant secret holding the signing secret (admins may replace it through the secrets API)' }),
    createdBy: z.string(),
    updatedBy: z.string(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('WebhookTrigger');
export type TriggerResource = z.output<typeof TriggerResource>;

export const CreatedTriggerResource = TriggerResource.extend({
  secret: z.string().meta({ description: 'The signing secret, shown this once' }),
}).openapi('CreatedWebhookTrigger');

export const TriggerList = z.object({ items: z.array(TriggerResource) }).openapi('WebhookTriggerList');

export const HookAccepted = z
  .object({
    runId: z.string(),
    templateId: z.string(),
    version: z.number().int(),
    deliveryId: z.string(),
    duplicate: z.boolean().meta({ description: 'true when this delivery id already started this run' }),
  })
  .openapi('HookAccepted');
