import { z } from 'zod';
import { DELIVERED_KINDS, SUBSCRIBABLE_KINDS, type SubscribableKind } from '../../../../workflows/contract';
import { ChannelNameSchema } from '../../../../workflows/spec/notify';
import {
  CHANNEL_KINDS,
  LOCALES,
  MENTIONING_KINDS,
  Mailbox,
  channelConfigSchemas,
  channelSecretSchemas,
  type ChannelKind,
} from '../../../common/notifications/channels';
import { queryText, storableText, timestamp } from '../http/validation';
import { registry } from '../openapi/registry';

/** Request and response shapes of channels, people, subscriptions and deliveries. */

const ChannelName = ChannelNameSchema.meta({ example: 'ops-feishu' });
const Locale = z.enum(LOCALES).meta({ description: 'The language messages are written in' });

export const ChannelIdParam = z.uuid();

const SECRETS_DESCRIPTION = 'Stored as tenant secrets and never shown again; a channel answers only their names';

/** A create body for one kind: the kind names which settings and secrets it takes. */
function createBodyOf<K extends ChannelKind, Config extends z.ZodType, Secrets extends z.ZodType>(kind: K, config: Config, secrets: Secrets) {
  return z
    .object({
      name: ChannelName,
      kind: z.literal(kind),
      locale: Locale.default('en'),
      enabled: z.boolean().default(true),
      config,
      secrets: secrets.meta({ description: SECRETS_DESCRIPTION }),
    })
    .strict();
}

const NoConfig = z.object({}).strict().default({});

export const CreateChannelBody = z
  .discriminatedUnion('kind', [
    createBodyOf('webhook', NoConfig, channelSecretSchemas.webhook),
    createBodyOf('slack', NoConfig, channelSecretSchemas.slack),
    createBodyOf('feishu', NoConfig, channelSecretSchemas.feishu),
    createBodyOf('dingtalk', NoConfig, channelSecretSchemas.dingtalk),
    createBodyOf('wecom', NoConfig, channelSecretSchemas.wecom),
    createBodyOf('email', channelConfigSchemas.email, channelSecretSchemas.email.default({})),
  ])
  .openapi('CreateChannel');
export type CreateChannel = z.output<typeof CreateChannelBody>;

/**
 * A change: `config`, when given, replaces the settings as a whole; `secrets` replaces the fields
 * it names and keeps the others. Both are checked against the channel's kind.
 */
export const UpdateChannelBody = z
  .object({
    name: ChannelName.optional(),
    locale: Locale.optional(),
    enabled: z.boolean().optional(),
    config: z.record(z.string(), z.unknown()).optional(),
    secrets: z.record(z.string(), storableText(2000)).optional(),
  })
  .strict()
  .openapi('UpdateChannel');

export const ChannelResource = z
  .object({
    id: z.uuid(),
    name: z.string(),
    kind: z.enum(CHANNEL_KINDS),
    locale: Locale,
    enabled: z.boolean(),
    config: z.record(z.string(), z.unknown()),
    secretNames: z.record(z.string(), z.string()).meta({ description: 'Which tenant secret holds each secret setting; values are never answered' }),
    createdBy: z.string(),
    updatedBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Channel');

export const ChannelList = z.object({ items: z.array(ChannelResource) }).openapi('ChannelList');

export const ChannelTestResult = z
  .object({
    delivered: z.boolean(),
    answer: z.string().optional().meta({ description: 'What the receiver said (status and the start of its body, or the SMTP reply)' }),
    error: z.string().optional().meta({ description: 'Why the message was not delivered' }),
  })
  .openapi('ChannelTestResult');

// ── People ──────────────────────────────────────────────────────────────────────────────────────

/** A person's subject as tokens and OIDC name it: never blank. */
export const SubjectParam = storableText(200).regex(/\S/, 'must not be blank');

const ImIds = z
  .object(Object.fromEntries(MENTIONING_KINDS.map((kind) => [kind, storableText(200).min(1).optional()])) as Record<(typeof MENTIONING_KINDS)[number], z.ZodOptional<z.ZodString>>)
  .strict()
  .meta({ description: 'The person’s user id per IM, used to mention them in group messages' });

export const PutPersonBody = z
  .object({
    displayName: storableText(200).default(''),
    email: Mailbox.nullable().default(null),
    imIds: ImIds.default({}),
    roles: z.array(storableText(100).min(1)).max(100).default([]).meta({ description: 'Roles notices resolve (e.g. approvers named by role)' }),
  })
  .strict()
  .openapi('PutPerson');

export const PersonResource = z
  .object({
    subject: z.string(),
    displayName: z.string(),
    email: z.string().nullable(),
    imIds: z.record(z.string(), z.string()),
    roles: z.array(z.string()),
    source: z.enum(['admin', 'oidc']),
    updatedAt: z.string(),
  })
  .openapi('Person');

export const PersonList = z.object({ items: z.array(PersonResource) }).openapi('PersonList');

export const ListPeopleQuery = z.object({ role: queryText(100).optional().meta({ description: 'Only the members of this role' }) }).strict();

// ── Subscriptions ───────────────────────────────────────────────────────────────────────────────

export const SubscriptionScopeParam = z.union([z.literal('default'), z.uuid()]).meta({ description: '`default` (the tenant’s), or a template id' });

export const NoticeRoutesSchema = z
  .object(Object.fromEntries(SUBSCRIBABLE_KINDS.map((kind) => [kind, z.array(z.uuid()).max(20).optional()])) as Record<SubscribableKind, z.ZodOptional<z.ZodArray<z.ZodUUID>>>)
  .strict()
  .meta({ description: 'Notice kind -> the ids of the channels it goes to' });

export const PutSubscriptionBody = z.object({ routes: NoticeRoutesSchema }).strict().openapi('PutSubscription');

export const SubscriptionResource = z
  .object({
    scope: z.string().meta({ description: '`default`, or the template id' }),
    templateId: z.uuid().nullable(),
    routes: NoticeRoutesSchema,
    updatedBy: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Subscription');

export const SubscriptionList = z.object({ items: z.array(SubscriptionResource) }).openapi('SubscriptionList');

// ── Deliveries ──────────────────────────────────────────────────────────────────────────────────

export const DELIVERY_STATUSES = ['pending', 'retrying', 'succeeded', 'failed'] as const;

export const ListNotificationsQuery = z
  .object({
    runId: queryText(200).optional(),
    status: z.enum(DELIVERY_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: queryText(512).optional().meta({ description: 'The nextCursor of the previous page' }),
  })
  .strict();
export type NotificationListQuery = z.output<typeof ListNotificationsQuery>;

export const DeliveryCursorSchema = z.object({ at: timestamp(), id: z.uuid() }).strict();

export const DeliveryResource = registry.register(
  'Delivery',
  z.object({
    id: z.uuid(),
    eventKey: z.string().meta({ description: 'The notice’s key, the same on every attempt (receivers deduplicate on it)' }),
    eventKind: z.enum(DELIVERED_KINDS),
    runId: z.string(),
    stepId: z.string().nullable(),
    channel: z.object({ id: z.uuid(), name: z.string() }),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    receiverAnswer: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    deliveredAt: z.string().nullable(),
  }),
);

export const DeliveryPage = registry.register('DeliveryPage', z.object({ items: z.array(DeliveryResource), nextCursor: z.string().nullable() }));
