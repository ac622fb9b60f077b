import { randomBytes, randomUUID } from 'node:crypto';
import { Prisma, type WebhookTrigger } from '@prisma/client';
import { LRUCache } from 'lru-cache';
import { compileExpression, ExpressionError } from '../../../../workflows/spec/expressions';
import type { SecretStore } from '../../../common/secrets/secret-store';
import { auditRow, type AuditActor } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import type { CreateTriggerBody, TriggerResource, UpdateTriggerBody } from './schemas';

/**
 * Webhook triggers of a template: a row (which template, which version, the mapping) and a signing
 * secret kept as a tenant secret (`WEBHOOK_<id>`, sealed like every secret, shown once at creation
 * and at each rotation). Changes write their audit entry in the row's transaction.
 */

export interface TriggerContext {
  actor: AuditActor & { tenantId: string };
  templateId: string;
  templateName: string;
}

/** A trigger and its signing secret, as the hook endpoint needs them. */
export interface ActiveTrigger {
  row: WebhookTrigger;
  /** Undefined when an admin deleted the secret: every delivery is then refused. */
  secret: string | undefined;
}

/**
 * A trigger and its secret are trusted this long without reading them again: a delivery costs a
 * map lookup and no database round trip. Changes through this instance apply at once; others
 * within this bound, like API tokens (auth/api-tokens.ts).
 */
export const TRIGGER_CACHE_TTL_MS = 5_000;

export class Triggers {
  private readonly active = new LRUCache<string, ActiveTrigger>({ max: 10_000, ttl: TRIGGER_CACHE_TTL_MS });

  constructor(private readonly deps: ApiDependencies) {}

  async list(context: TriggerContext): Promise<TriggerResource[]> {
    const rows = await this.deps.prisma.webhookTrigger.findMany({
      where: { tenantId: context.actor.tenantId, templateId: context.templateId },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map(viewOf);
  }

  async get(context: TriggerContext, triggerId: string): Promise<TriggerResource> {
    return viewOf(await this.row(context, triggerId));
  }

  async create(context: TriggerContext, body: CreateTriggerBody): Promise<{ trigger: TriggerResource; secret: string }> {
    checkMapping(body.mapping);
    await this.checkVersion(context, body.version);
    const store = this.store();
    const id = randomUUID();
    const secretName = secretNameOf(id);
    const secret = newSigningSecret();
    await store.put(
      context.actor.tenantId,
      secretName,
      { value: secret, description: `signing secret of webhook trigger ${body.name} of template ${context.templateName}` },
      context.actor.subject,
      { createOnly: true },
    );
    try {
      const [row] = await this.deps.prisma.$transaction([
        this.deps.prisma.webhookTrigger.create({
          data: {
            id,
            tenantId: context.actor.tenantId,
            templateId: context.templateId,
            name: body.name,
            description: body.description,
            version: body.version === 'latest' ? null : body.version,
            mapping: body.mapping,
            secretName,
            createdBy: context.actor.subject,
            updatedBy: context.actor.subject,
          },
        }),
        this.audit(context, 'trigger.created', id, { templateId: context.templateId, name: body.name, version: body.version, secretName }),
      ]);
      return { trigger: viewOf(row), secret };
    } catch (error) {
      await store.delete(context.actor.tenantId, secretName);
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw problems.conflict(`template ${context.templateName} already has a trigger named ${body.name}`);
      }
      throw error;
    }
  }

  async update(context: TriggerContext, triggerId: string, body: UpdateTriggerBody): Promise<TriggerResource> {
    await this.row(context, triggerId);
    if (body.mapping !== undefined) checkMapping(body.mapping);
    if (body.version !== undefined) await this.checkVersion(context, body.version);
    try {
      const [row] = await this.deps.prisma.$transaction([
        this.deps.prisma.webhookTrigger.update({
          where: { id: triggerId },
          data: {
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.description !== undefined ? { description: body.description } : {}),
            ...(body.mapping !== undefined ? { mapping: body.mapping } : {}),
            ...(body.version !== undefined ? { version: body.version === 'latest' ? null : body.version } : {}),
            updatedBy: context.actor.subject,
          },
        }),
        this.audit(context, 'trigger.updated', triggerId, { templateId: context.templateId, changed: Object.keys(body) }),
      ]);
      this.active.delete(triggerId);
      return viewOf(row);
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw problems.conflict(`template ${context.templateName} already has a trigger named ${body.name}`);
      }
      throw error;
    }
  }

  async delete(context: TriggerContext, triggerId: string): Promise<void> {
    const row = await this.row(context, triggerId);
    await this.deps.prisma.$transaction([
      this.deps.prisma.webhookTrigger.delete({ where: { id: triggerId } }),
      this.audit(context, 'trigger.deleted', triggerId, { templateId: context.templateId, name: row.name }),
    ]);
    this.active.delete(triggerId);
    // The row is gone first: a delivery between the two finds no trigger, never a trigger without a secret.
    await this.deps.secrets?.delete(context.actor.tenantId, row.secretName);
  }

  /** A new signing secret; the old one stops verifying at once on this instance, within TRIGGER_CACHE_TTL_MS on others. */
  async rotateSecret(context: TriggerContext, triggerId: string): Promise<{ trigger: TriggerResource; secret: string }> {
    const row = await this.row(context, triggerId);
    const secret = newSigningSecret();
    await this.store().put(context.actor.tenantId, row.secretName, { value: secret }, context.actor.subject);
    await this.audit(context, 'trigger.secret_rotated', triggerId, { templateId: context.templateId, secretName: row.secretName });
    this.active.delete(triggerId);
    return { trigger: viewOf(row), secret };
  }

  /** The trigger a delivery names, with its secret; undefined when there is none. */
  async activeTrigger(triggerId: string): Promise<ActiveTrigger | undefined> {
    const cached = this.active.get(triggerId);
    if (cached) return cached;
    const row = await this.deps.prisma.webhookTrigger.findUnique({ where: { id: triggerId } });
    if (!row) return undefined;
    const trigger = { row, secret: await this.store().reveal(row.tenantId, row.secretName) };
    this.active.set(triggerId, trigger);
    return trigger;
  }

  private async row(context: TriggerContext, triggerId: string): Promise<WebhookTrigger> {
    const row = await this.deps.prisma.webhookTrigger.findUnique({ where: { id: triggerId } });
    if (!row || row.tenantId !== context.actor.tenantId || row.templateId !== context.templateId) {
      throw problems.notFound(`trigger ${triggerId} does not exist`);
    }
    return row;
  }

  private async checkVersion(context: TriggerContext, version: number | 'latest'): Promise<void> {
    if (version === 'latest') return;
    const found = await this.deps.prisma.templateVersion.findUnique({
      where: { templateId_number: { templateId: context.templateId, number: version } },
      select: { id: true },
    });
    if (!found) throw problems.unprocessable(`template ${context.templateName} has no version ${version}`, [{ path: ['version'], message: 'no such version' }]);
  }

  private audit(context: TriggerContext, action: string, triggerId: string, summary: object) {
    return this.deps.prisma.auditEvent.create({ data: auditRow(context.actor, { action, target: { type: 'trigger', id: triggerId }, summary }) });
  }

  private store(): SecretStore {
    if (!this.deps.secrets) throw problems.unavailable('webhook triggers keep their signing secrets as tenant secrets, which are not configured on this API (set SECRETS_KEYS)');
    return this.deps.secrets;
  }
}

/** The mapping must parse and must not read secrets (nothing but a step's `{{ secrets.NAME }}` may). */
function checkMapping(mapping: string): void {
  try {
    const expression = compileExpression(mapping);
    if (expression.readsSecrets) throw problems.unprocessable('a mapping may not read secrets', [{ path: ['mapping'], message: 'reads `secrets`' }]);
  } catch (error) {
    if (error instanceof ExpressionError) throw problems.unprocessable(`the mapping is not a valid expression: ${error.message}`, [{ path: ['mapping'], message: error.message }]);
    throw error;
  }
}

/** Tenant secret names are upper-case: the trigger's id without its dashes. */
export function secretNameOf(triggerId: string): string {
  return `WEBHOOK_${triggerId.replace(/-/g, '').toUpperCase()}`;
}

/** 256 random bits; the prefix lets secret scanners find a leaked one. */
function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export function viewOf(row: WebhookTrigger): TriggerResource {
  return {
    id: row.id,
    templateId: row.templateId,
    name: row.name,
    description: row.description,
    mapping: row.mapping,
    version: row.version ?? 'latest',
    url: `/api/v1/hooks/${row.id}`,
    secretName: row.secretName,
    createdBy: row.createdBy,
    updatedBy: row.updatedBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
