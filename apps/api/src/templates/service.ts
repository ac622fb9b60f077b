import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient, type Template } from '@prisma/client';
import type { Client } from '@temporalio/client';
import type { Logger } from '../../../common/logger';
import { DependencyUnavailableError } from '../dependency-failures';
import type { Spec } from '../../../../workflows/spec/schema';
import { auditRow, type AuditActor } from '../audit/trail';
import { problems } from '../http/problem';
import { decodeCursor, encodeCursor, TemplateCursorSchema, VersionCursorSchema } from './cursor';
import { diffSpecs, type SpecDiff } from './diff';
import { templateView, versionView, type TemplateView, type VersionView } from './resources';
import type { TemplateListQuery, TemplatePatch, VersionListQuery } from './schemas';
import { hashSpec } from './spec-check';
import { checkNotifyChannels } from './notify-channels';
import { pinTemplateReferences } from './template-references';
import { announceTemplateChange } from './template-changes';
import type { TemplateHeads } from './template-heads';

/**
 * Templates and their immutable versions. Every change writes its AuditEvent and announces itself
 * to the other API instances in the same transaction; changes to one template serialise on a row
 * lock of that template, which is what makes version numbers gapless and unique under concurrent
 * writers.
 */

export interface TemplateServiceDependencies {
  prisma: PrismaClient;
  temporal: Client;
  logger: Logger;
  templateHeads: TemplateHeads;
}

/** Who asks: every read and write is scoped to the caller's tenant, so another tenant's template is a 404. */
export interface Caller extends AuditActor {
  tenantId: string;
  subject: string;
}

export interface NewTemplate {
  name: string;
  description: string;
  labels: Record<string, string>;
  owner: string | null;
  spec: Spec;
  message: string;
}

export interface Page<Item> {
  items: Item[];
  nextCursor: string | null;
}

export interface AppendedVersion {
  version: VersionView;
  /** False when the spec equals the latest version's, which is returned instead of a duplicate. */
  created: boolean;
}

type Transaction = Prisma.TransactionClient;

export class TemplateService {
  constructor(private readonly deps: TemplateServiceDependencies) {}

  async create(input: NewTemplate, caller: Caller): Promise<TemplateView & { version: VersionView }> {
    const id = randomUUID();
    const spec = await pinTemplateReferences(this.deps.prisma, caller.tenantId, { name: input.name }, input.spec, ['spec']);
    await checkNotifyChannels(this.deps.prisma, caller.tenantId, spec, ['spec']);
    const specHash = hashSpec(spec);
    try {
      const [template] = await this.deps.prisma.$transaction([
        this.deps.prisma.template.create({
          data: {
            id,
            tenantId: caller.tenantId,
            name: input.name,
            description: input.description,
            labels: input.labels,
            owner: input.owner,
            latestVersion: 1,
            createdBy: caller.subject,
            versions: {
              create: { number: 1, spec: spec as Prisma.InputJsonObject, specHash, author: caller.subject, message: input.message },
            },
          },
          include: { versions: true },
        }),
        auditEvent(this.deps.prisma, caller, 'template.created', id, { name: input.name, version: 1, specHash }),
      ]);
      const [version] = template.versions;
      return { ...templateView(template), version: versionView(version!) };
    } catch (error) {
      throw duplicateNameOr(error, input.name);
    }
  }

  async list(query: TemplateListQuery, caller: Caller): Promise<Page<TemplateView>> {
    const where: Prisma.TemplateWhereInput[] = [{ tenantId: caller.tenantId, archived: query.archived }];
    if (query.q) {
      where.push({
        OR: [
          { name: { contains: query.q, mode: 'insensitive' } },
          { description: { contains: query.q, mode: 'insensitive' } },
        ],
      });
    }
    for (const { key, value } of query.label) where.push({ labels: { path: [key], equals: value } });
    if (query.cursor) {
      const after = decodeCursor(TemplateCursorSchema, query.cursor);
      const createdAt = new Date(after.createdAt);
      where.push({ OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: after.id } }] });
    }
    const rows = await this.deps.prisma.template.findMany({
      where: { AND: where },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: query.limit + 1,
    });
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    const nextCursor =
      rows.length > query.limit && last ? encodeCursor({ createdAt: last.createdAt.toISOString(), id: last.id }) : null;
    return { items: items.map(templateView), nextCursor };
  }

  async get(id: string, caller: Caller): Promise<TemplateView> {
    return templateView(await this.findTemplate(this.deps.prisma, id, caller));
  }

  async update(id: string, patch: TemplatePatch, caller: Caller): Promise<TemplateView> {
    try {
      const updated = await this.changeTemplate(id, caller, async (tx, template) => {
        refuseArchived(template, 'changed');
        const row = await tx.template.update({ where: { id }, data: patch });
        await recordChange(tx, caller, 'template.updated', id, { changes: patch });
        return row;
      });
      return templateView(updated);
    } catch (error) {
      throw patch.name === undefined ? error : duplicateNameOr(error, patch.name);
    }
  }

  /** Archives (soft-deletes) a template; archiving an archived template changes nothing. */
  async archive(id: string, caller: Caller): Promise<TemplateView> {
    const template = await this.findTemplate(this.deps.prisma, id, caller);
    if (template.archived) return templateView(template);
    const activeRuns = await this.countActiveRuns(id);
    if (activeRuns > 0) {
      throw problems.conflict(`the template has ${activeRuns} active run(s); let them finish or cancel them first`, {
        activeRuns,
      });
    }
    const archived = await this.changeTemplate(id, caller, async (tx, locked) => {
      if (locked.archived) return locked;
      const row = await tx.template.update({ where: { id }, data: { archived: true } });
      await recordChange(tx, caller, 'template.archived', id, {});
      return row;
    });
    return templateView(archived);
  }

  /** Appends `spec` as the next version unless it equals the latest one. */
  async appendVersion(id: string, spec: Spec, message: string, caller: Caller): Promise<AppendedVersion> {
    return this.append(id, spec, message, caller, 'template.version_created', {});
  }

  /** Appends a copy of version `number`'s spec as the next version. */
  async rollback(id: string, number: number, message: string | undefined, caller: Caller): Promise<AppendedVersion> {
    const source = await this.findVersion(id, number, caller);
    return this.append(id, source.spec, message ?? `Roll back to version ${number}`, caller, 'template.rolled_back', {
      rolledBackTo: number,
    });
  }

  async listVersions(id: string, query: VersionListQuery, caller: Caller): Promise<Page<VersionView>> {
    await this.findTemplate(this.deps.prisma, id, caller);
    const before = query.cursor ? decodeCursor(VersionCursorSchema, query.cursor).number : undefined;
    const rows = await this.deps.prisma.templateVersion.findMany({
      where: { templateId: id, ...(before === undefined ? {} : { number: { lt: before } }) },
      orderBy: { number: 'desc' },
      take: query.limit + 1,
    });
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    const nextCursor = rows.length > query.limit && last ? encodeCursor({ number: last.number }) : null;
    return { items: items.map(versionView), nextCursor };
  }

  async getVersion(id: string, number: number, caller: Caller): Promise<VersionView> {
    return this.findVersion(id, number, caller);
  }

  async diff(id: string, from: number, to: number, caller: Caller): Promise<SpecDiff> {
    const [before, after] = await Promise.all([this.findVersion(id, from, caller), this.findVersion(id, to, caller)]);
    return diffSpecs(before, after);
  }

  private async append(
    id: string,
    spec: Spec,
    message: string,
    caller: Caller,
    action: string,
    details: Record<string, unknown>,
  ): Promise<AppendedVersion> {
    return this.changeTemplate(id, caller, async (tx, template) => {
      refuseArchived(template, 'given new versions');
      // Pinned under the template's lock: a cycle check and the version it guards see the same state.
      const pinned = await pinTemplateReferences(tx, caller.tenantId, { id, name: template.name }, spec, ['spec']);
      await checkNotifyChannels(tx, caller.tenantId, pinned, ['spec']);
      const specHash = hashSpec(pinned);
      const latest = await tx.templateVersion.findUniqueOrThrow({
        where: { templateId_number: { templateId: id, number: template.latestVersion } },
      });
      if (latest.specHash === specHash) return { version: versionView(latest), created: false };
      const number = template.latestVersion + 1;
      const version = await tx.templateVersion.create({
        data: { templateId: id, number, spec: pinned as Prisma.InputJsonObject, specHash, author: caller.subject, message },
      });
      await tx.template.update({ where: { id }, data: { latestVersion: number } });
      await recordChange(tx, caller, action, id, { ...details, version: number, specHash });
      return { version: versionView(version), created: true };
    });
  }

  /**
   * Runs `change` in one transaction with the template's row locked. Once it has committed, this
   * instance forgets the template's cached head at once; the others hear of it by notification.
   */
  private async changeTemplate<T>(id: string, caller: Caller, change: (tx: Transaction, locked: Template) => Promise<T>): Promise<T> {
    const result = await this.deps.prisma.$transaction(async (tx) => change(tx, await lockTemplate(tx, id, caller.tenantId)));
    this.deps.templateHeads.forget(id);
    return result;
  }

  private async findTemplate(db: Transaction | PrismaClient, id: string, caller: Caller): Promise<Template> {
    const template = await db.template.findFirst({ where: { id, tenantId: caller.tenantId } });
    if (!template) throw templateNotFound(id);
    return template;
  }

  private async findVersion(id: string, number: number, caller: Caller): Promise<VersionView> {
    const version = await this.deps.prisma.templateVersion.findFirst({
      where: { templateId: id, number, template: { tenantId: caller.tenantId } },
    });
    if (version) return versionView(version);
    await this.findTemplate(this.deps.prisma, id, caller);
    throw problems.notFound(`template ${id} has no version ${number}`);
  }

  /** Runs still executing in Temporal (including paused or waiting for approval) that use the template. */
  private async countActiveRuns(id: string): Promise<number> {
    try {
      // `id` is a validated UUID, so it cannot break out of the quoted literal.
      const { count } = await this.deps.temporal.workflow.count(`TemplateId = '${id}' AND ExecutionStatus = 'Running'`);
      return count;
    } catch (error) {
      this.deps.logger.warn({ err: error, templateId: id }, 'counting active runs failed');
      throw new DependencyUnavailableError('temporal', 'cannot confirm the template has no active runs: Temporal did not answer', { cause: error });
    }
  }
}

/** Locks the template's row until the transaction ends; every change to a template starts here. */
async function lockTemplate(tx: Transaction, id: string, tenantId: string): Promise<Template> {
  const locked = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM "Template" WHERE id = ${id}::uuid AND "tenantId" = ${tenantId}::uuid FOR UPDATE`;
  if (locked.length === 0) throw templateNotFound(id);
  return tx.template.findUniqueOrThrow({ where: { id } });
}

function refuseArchived(template: Template, what: string): void {
  if (template.archived) throw problems.conflict(`template ${template.id} is archived and cannot be ${what}`);
}

function templateNotFound(id: string) {
  return problems.notFound(`no template ${id}`);
}

function duplicateNameOr(error: unknown, name: string): unknown {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
    return problems.conflict(`a template named ${JSON.stringify(name)} already exists`);
  }
  return error;
}

/** A change to an existing template: its audit event, and the notice to every API instance. */
async function recordChange(tx: Transaction, caller: Caller, action: string, templateId: string, details: object): Promise<void> {
  await auditEvent(tx, caller, action, templateId, details);
  await announceTemplateChange(tx, templateId);
}

function auditEvent(db: Transaction | PrismaClient, caller: Caller, action: string, templateId: string, details: object) {
  return db.auditEvent.create({ data: auditRow(caller, { action, target: { type: 'template', id: templateId }, summary: details }) });
}
