import type { Prisma, PrismaClient } from '@prisma/client';
import type { Spec } from '../../../../workflows/spec/schema';
import { publishedOnlySteps, type TemplateReference } from '../../../../workflows/spec/step-types';
import { problems, type InvalidParam } from '../http/problem';

/** How deep `template` steps may nest: a run of a template running a template… at most this many levels below it. */
export const MAX_TEMPLATE_NESTING = 8;

type Db = Prisma.TransactionClient | PrismaClient;

/** The template whose version is being created: its id once it exists (a new template has none yet). */
export interface ReferringTemplate {
  id?: string;
  name: string;
}

/**
 * Pins every `template` step of `spec` to a concrete version of the tenant's template it names (the
 * version it gives, or that template's latest one now), and refuses references that cannot run:
 * an unknown template or version, a cycle back to the template being versioned (through pinned
 * versions, named in the answer), or nesting deeper than MAX_TEMPLATE_NESTING. Answers the spec with
 * each reference completed with `version` and `versionId`; throws a 422 problem naming every issue.
 */
export async function pinTemplateReferences(db: Db, tenantId: string, self: ReferringTemplate, spec: Spec, path: (string | number)[]): Promise<Spec> {
  const issues: InvalidParam[] = [];
  const steps = await Promise.all(
    spec.steps.map(async (step, i) => {
      if (step.type !== 'template') return step;
      const at = [...path, 'steps', i, 'with', 'template'];
      const reference = step.with.template as TemplateReference;
      const report = (where: string[], message: string) => issues.push({ path: [...at, ...where], message: `step "${step.id}": ${message}` });
      if (reference.name === self.name) {
        report(['name'], `runs template "${self.name}" itself: a cycle (${self.name} → ${self.name})`);
        return step;
      }
      const template = await db.template.findFirst({ where: { tenantId, name: reference.name }, select: { id: true, latestVersion: true, archived: true } });
      if (!template) {
        report(['name'], `there is no template named "${reference.name}"`);
        return step;
      }
      if (template.archived) {
        report(['name'], `template "${reference.name}" is archived; a new version may not run it`);
        return step;
      }
      const number = reference.version ?? template.latestVersion;
      const version = await db.templateVersion.findFirst({ where: { templateId: template.id, number }, select: { id: true, spec: true } });
      if (!version) {
        report(['version'], `template "${reference.name}" has no version ${number}`);
        return step;
      }
      const publishedOnly = publishedOnlySteps((version.spec as unknown as Spec).steps);
      if (publishedOnly.length > 0) {
        const ids = publishedOnly.map((only) => only.id).join(', ');
        report(['name'], `template "${reference.name}" v${number} has steps only DolphinScheduler runs (${ids}), so it cannot run as a child run`);
        return step;
      }
      const problem = await walkReferences(db, tenantId, self, [self.name, reference.name], version.spec as unknown as Spec);
      if (problem) {
        report([], problem);
        return step;
      }
      return { ...step, with: { ...step.with, template: { name: reference.name, version: number, versionId: version.id } } };
    }),
  );
  if (issues.length > 0) {
    throw problems.invalidSpec(issues.length === 1 ? issues[0]!.message : `the spec has ${issues.length} problems with its templates`, issues);
  }
  return { ...spec, steps };
}

/**
 * Follows the pinned references of a version's spec, depth first; `trail` names the templates from
 * the one being versioned down to this one. Answers what is wrong, if anything.
 */
async function walkReferences(db: Db, tenantId: string, self: ReferringTemplate, trail: string[], spec: Spec): Promise<string | undefined> {
  if (trail.length - 1 > MAX_TEMPLATE_NESTING) {
    return `nests templates more than ${MAX_TEMPLATE_NESTING} deep (${trail.join(' → ')})`;
  }
  for (const step of spec.steps) {
    if (step.type !== 'template') continue;
    const { versionId } = step.with.template as TemplateReference;
    if (versionId === undefined) continue;
    const version = await db.templateVersion.findFirst({
      where: { id: versionId, template: { tenantId } },
      select: { spec: true, template: { select: { id: true, name: true } } },
    });
    if (!version) continue;
    const next = [...trail, version.template.name];
    if (version.template.id === self.id || version.template.name === self.name) {
      return `would start a cycle of templates: ${next.join(' → ')}`;
    }
    const problem = await walkReferences(db, tenantId, self, next, version.spec as unknown as Spec);
    if (problem) return problem;
  }
  return undefined;
}
