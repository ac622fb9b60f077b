import { randomUUID } from 'node:crypto';
import type { NotificationChannel, Prisma, PrismaClient } from '@prisma/client';
import {
  channelConfigSchemas,
  channelSecretName,
  channelSecretSchemas,
  type ChannelKind,
  type SecretField,
} from '../../../common/notifications/channels';
import type { SecretStore } from '../../../common/secrets/secret-store';
import { auditRow } from '../audit/trail';
import type { TenantActor } from './tenant-actor';
import { problems } from '../http/problem';
import { toInvalidParams } from '../http/validation';
import type { z } from 'zod';
import type { CreateChannel, UpdateChannelBody } from './schemas';

/**
 * A tenant's notification channels. Secret settings go to the tenant's secret store under names
 * derived from the channel (`channelSecretName`) before the channel row is written, and leave it
 * with the channel; the row keeps only their names. Every change is audited in its transaction.
 */

export interface ChannelView {
  id: string;
  name: string;
  kind: ChannelKind;
  locale: 'en' | 'zh-CN';
  enabled: boolean;
  config: Record<string, unknown>;
  secretNames: Record<string, string>;
  createdBy: string;
  updatedBy: string;
  createdAt: string;
  updatedAt: string;
}

export class ChannelService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly secrets: SecretStore | undefined,
  ) {}

  async list(tenantId: string): Promise<ChannelView[]> {
    const rows = await this.prisma.notificationChannel.findMany({ where: { tenantId }, orderBy: { name: 'asc' } });
    return rows.map(channelView);
  }

  async get(tenantId: string, id: string): Promise<ChannelView> {
    return channelView(await this.row(this.prisma, tenantId, id));
  }

  async create(actor: TenantActor, body: CreateChannel): Promise<ChannelView> {
    const id = randomUUID();
    const secretNames = await this.storeSecrets(actor, id, body.secrets as Record<SecretField, string | undefined>);
    try {
      const row = await this.prisma.$transaction(async (tx) => {
        const created = await tx.notificationChannel.create({
          data: {
            id,
            tenantId: actor.tenantId,
            name: body.name,
            kind: body.kind,
            locale: body.locale,
            enabled: body.enabled,
            config: body.config as Prisma.InputJsonObject,
            secretRefs: secretNames,
            createdBy: actor.subject,
            updatedBy: actor.subject,
          },
        });
        await tx.auditEvent.create({
          data: auditRow(actor, {
            action: 'channel.created',
            target: { type: 'channel', id },
            summary: { name: body.name, kind: body.kind, locale: body.locale, secrets: Object.keys(secretNames) },
          }),
        });
        return created;
      });
      return channelView(row);
    } catch (error) {
      // The channel was not written (a name taken, the database gone): its secrets go too.
      await this.deleteSecrets(actor.tenantId, Object.values(secretNames));
      throw error;
    }
  }

  async update(actor: TenantActor, id: string, body: z.output<typeof UpdateChannelBody>): Promise<ChannelView> {
    const existing = await this.row(this.prisma, actor.tenantId, id);
    const kind = existing.kind as ChannelKind;
    const config = body.config === undefined ? undefined : parsed(channelConfigSchemas[kind], body.config, 'config');
    const given = body.secrets === undefined ? undefined : parsed(channelSecretSchemas[kind].partial(), body.secrets, 'secrets');
    const secretNames = { ...(existing.secretRefs as Record<string, string>) };
    if (given) Object.assign(secretNames, await this.storeSecrets(actor, id, given as Record<SecretField, string | undefined>));
    const row = await this.prisma.$transaction(async (tx) => {
      const updated = await tx.notificationChannel.update({
        where: { id: existing.id },
        data: {
          ...(body.name === undefined ? {} : { name: body.name }),
          ...(body.locale === undefined ? {} : { locale: body.locale }),
          ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
          ...(config === undefined ? {} : { config: config as Prisma.InputJsonObject }),
          secretRefs: secretNames,
          updatedBy: actor.subject,
        },
      });
      await tx.auditEvent.create({
        data: auditRow(actor, {
          action: 'channel.updated',
          target: { type: 'channel', id },
          summary: {
            changed: Object.keys(body).filter((key) => key !== 'secrets'),
            secretsReplaced: Object.keys(given ?? {}),
          },
        }),
      });
      return updated;
    });
    return channelView(row);
  }

  /** Deletes the channel, its secrets, and its place in subscriptions; its deliveries stay on record. */
  async delete(actor: TenantActor, id: string): Promise<void> {
    const existing = await this.row(this.prisma, actor.tenantId, id);
    await this.prisma.$transaction(async (tx) => {
      await tx.notificationChannel.delete({ where: { id } });
      const subscriptions = await tx.notificationSubscription.findMany({ where: { tenantId: actor.tenantId } });
      for (const subscription of subscriptions) {
        const routes = subscription.routes as Record<string, string[]>;
        if (!Object.values(routes).some((ids) => ids.includes(id))) continue;
        const pruned = Object.fromEntries(Object.entries(routes).map(([kind, ids]) => [kind, ids.filter((channelId) => channelId !== id)]));
        await tx.notificationSubscription.update({
          where: { tenantId_scope: { tenantId: actor.tenantId, scope: subscription.scope } },
          data: { routes: pruned, updatedBy: actor.subject },
        });
      }
      await tx.auditEvent.create({
        data: auditRow(actor, { action: 'channel.deleted', target: { type: 'channel', id }, summary: { name: existing.name, kind: existing.kind } }),
      });
    });
    await this.deleteSecrets(actor.tenantId, Object.values(existing.secretRefs as Record<string, string>));
  }

  /** The channel of the tenant; another tenant's is a 404 like one that does not exist. */
  async row(db: PrismaClient | Prisma.TransactionClient, tenantId: string, id: string): Promise<NotificationChannel> {
    const row = await db.notificationChannel.findFirst({ where: { id, tenantId } });
    if (!row) throw problems.notFound(`channel ${id} does not exist`);
    return row;
  }

  private async storeSecrets(actor: TenantActor, channelId: string, values: Record<SecretField, string | undefined>): Promise<Record<string, string>> {
    const names: Record<string, string> = {};
    const entries = Object.entries(values).filter((entry): entry is [SecretField, string] => entry[1] !== undefined);
    if (entries.length === 0) return names;
    if (!this.secrets) throw problems.unavailable('secrets are not configured on this API (set SECRETS_KEYS): channel secrets cannot be stored');
    for (const [field, value] of entries) {
      const name = channelSecretName(channelId, field);
      await this.secrets.put(actor.tenantId, name, { value, description: `${field} of notification channel ${channelId}` }, actor.subject);
      names[field] = name;
    }
    return names;
  }

  private async deleteSecrets(tenantId: string, names: string[]): Promise<void> {
    for (const name of names) await this.secrets?.delete(tenantId, name);
  }
}

function parsed<Schema extends z.ZodType>(schema: Schema, value: unknown, field: string): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw problems.unprocessable(`${field} does not fit the channel's kind`, toInvalidParams(result.error, [field]));
}

export function channelView(row: NotificationChannel): ChannelView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as ChannelKind,
    locale: row.locale as ChannelView['locale'],
    enabled: row.enabled,
    config: row.config as Record<string, unknown>,
    secretNames: row.secretRefs as Record<string, string>,
    createdBy: row.createdBy,
    updatedBy: row.updatedBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
