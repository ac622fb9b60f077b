import { z } from 'zod';

/**
 * Notification channels as the API stores them and the worker's delivery activities read them:
 * one entry per kind, naming the settings that are plain configuration and the ones that are
 * secrets (stored as tenant secrets, never answered). Both sides parse with these schemas, so a
 * channel the API accepted is one the worker can send to.
 */

export const CHANNEL_KINDS = ['webhook', 'slack', 'feishu', 'dingtalk', 'wecom', 'email'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export const LOCALES = ['en', 'zh-CN'] as const;
export type Locale = (typeof LOCALES)[number];

/** An http(s) URL: the only kind a webhook or robot address can be. */
const HttpUrl = z
  .url({ protocol: /^https?$/, message: 'must be an http: or https: URL' })
  .max(2000)
  // fetch refuses such a URL, quoting it whole in its error; receivers take tokens in the path or query.
  .refine((url) => !URL.canParse(url) || (new URL(url).username === '' && new URL(url).password === ''), { message: 'must not hold a user name or password' });

const SigningKey = z.string().min(8).max(512);

/**
 * An e-mail address as the OpenAPI document can publish it (a pattern): something, an `@`, a
 * domain. What a mail server makes of the rest is its answer to a delivery.
 */
export const Mailbox = z.string().max(320).regex(/^[^\s@]+@[^\s@]+$/, { message: 'must be an e-mail address' });

/** Secret settings per kind: values go in once, are stored as tenant secrets and never shown again. */
export const channelSecretSchemas = {
  webhook: z.object({ url: HttpUrl, signingKey: SigningKey }).strict(),
  slack: z.object({ url: HttpUrl }).strict(),
  feishu: z.object({ url: HttpUrl, signingKey: SigningKey.optional() }).strict(),
  dingtalk: z.object({ url: HttpUrl, signingKey: SigningKey.optional() }).strict(),
  wecom: z.object({ url: HttpUrl }).strict(),
  email: z.object({ password: z.string().min(1).max(512).optional() }).strict(),
} satisfies Record<ChannelKind, z.ZodType>;

/** Settings per kind that are not secret, answered as stored. */
export const channelConfigSchemas = {
  webhook: z.object({}).strict(),
  slack: z.object({}).strict(),
  feishu: z.object({}).strict(),
  dingtalk: z.object({}).strict(),
  wecom: z.object({}).strict(),
  email: z
    .object({
      host: z.string().min(1).max(253),
      port: z.number().int().min(1).max(65535).default(587),
      /** TLS from the first byte (port 465); otherwise STARTTLS is used when the server offers it. */
      secure: z.boolean().default(false),
      username: z.string().min(1).max(320).optional(),
      from: Mailbox,
      /** Addresses that get every notice of this channel, beside the people a notice is for. */
      to: z.array(Mailbox).max(50).default([]),
    })
    .strict(),
} satisfies Record<ChannelKind, z.ZodType>;

export type ChannelSecrets<K extends ChannelKind> = z.output<(typeof channelSecretSchemas)[K]>;
export type ChannelConfig<K extends ChannelKind> = z.output<(typeof channelConfigSchemas)[K]>;
export type SecretField = 'url' | 'signingKey' | 'password';

/**
 * The name a channel's secret field is stored under in its tenant's secrets: unique per channel
 * and field, and a valid secret name (workflows/spec/secret-references.ts).
 */
export function channelSecretName(channelId: string, field: SecretField): string {
  const suffix = { url: 'URL', signingKey: 'SIGNING_KEY', password: 'PASSWORD' }[field];
  return `NOTIFY_${channelId.replaceAll('-', '').toUpperCase()}_${suffix}`;
}

/** The person directory's IM ids are keyed by the kinds that can mention someone. */
export const MENTIONING_KINDS = ['slack', 'feishu', 'dingtalk', 'wecom'] as const satisfies readonly ChannelKind[];
export type MentioningKind = (typeof MENTIONING_KINDS)[number];
