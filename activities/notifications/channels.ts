import type { PrismaClient } from '@prisma/client';
import {
  channelConfigSchemas,
  channelSecretSchemas,
  type ChannelKind,
  type Locale,
} from '../../apps/common/notifications/channels';
import type { SecretResolver } from '../secrets';
import { DeliveryFailure } from './delivery-failure';
import type { ChannelSettings } from './formats';

export interface LoadedChannel {
  id: string;
  kind: ChannelKind;
  locale: Locale;
  settings: ChannelSettings<ChannelKind>;
}

/**
 * A tenant's channel with its secrets opened, for one attempt: read anew each time, so a channel
 * an admin fixed (a new URL, a rotated key) is used by the next retry. Unusable channels (deleted,
 * disabled, a secret gone) fail without retrying.
 */
export async function loadChannel(prisma: PrismaClient, secrets: SecretResolver | undefined, tenantId: string, channelId: string): Promise<LoadedChannel> {
  const row = await prisma.notificationChannel.findFirst({ where: { id: channelId, tenantId } });
  if (!row) throw new DeliveryFailure(`channel ${channelId} no longer exists`, false, undefined, true);
  if (!row.enabled) throw new DeliveryFailure(`channel ${row.name} is disabled`, false, undefined, true);
  const kind = row.kind as ChannelKind;
  const refs = row.secretRefs as Record<string, string>;
  const values: Record<string, string> = {};
  for (const [field, name] of Object.entries(refs)) {
    if (!secrets) throw new DeliveryFailure('this worker cannot read secrets (it has no SECRETS_KEYS)', false, undefined, true);
    const value = await secrets.reveal(tenantId, name);
    if (value === undefined) throw new DeliveryFailure(`channel ${row.name}: its secret ${name} is gone`, false, undefined, true);
    values[field] = value;
  }
  const config = channelConfigSchemas[kind].safeParse(row.config);
  const opened = channelSecretSchemas[kind].safeParse(values);
  if (!config.success || !opened.success) throw new DeliveryFailure(`channel ${row.name}: its stored settings are invalid`, false, undefined, true);
  return {
    id: row.id,
    kind,
    locale: row.locale as Locale,
    settings: { name: row.name, config: config.data, secrets: opened.data } as ChannelSettings<ChannelKind>,
  };
}
