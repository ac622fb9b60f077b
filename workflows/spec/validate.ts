import type { z } from 'zod';
import { SpecGraph, graphOf, type BlockedNodes } from './dag';
import {
  ExpressionError,
  compileExpression,
  findExpressions,
  formatValuePath,
  isWholeExpression,
  type CompiledExpression,
} from './expressions';
import { APPROVAL_NOTIFY_EVENTS } from './notify';
import { MAX_SPEC_BYTES, SpecSchema, type Spec } from './schema';
import { stepTypes, type StepTypeDefinition } from './step-types';
import { mayHoldSecrets, referencesAfterHost, secretNameOf, secretReferencePaths } from './secret-references';

/**
 * Everything that makes a spec runnable beyond its shape: unique ids, known references, an acyclic
 * graph, expressions that parse and read only steps that ran before, and a `with` that fits the type.
 * Shape comes first: when the schema rejects a spec, only the schema's issues are reported, because
 * the other checks need well-formed steps.
 */

export type IssuePath = (string | number)[];

export interface SpecIssue {
  path: IssuePath;
  message: string;
  /** The step the issue is about, when there is one. */
  stepId?: string;
}

export type SpecValidation = { ok: true; spec: Spec } | { ok: false; issues: SpecIssue[] };

/** Issues reported at most; past it, the last entry says how many more there were. */
export const MAX_ISSUES = 100;

export class SpecValidationError extends Error {
  override readonly name = 'SpecValidationError';

  constructor(readonly issues: readonly SpecIssue[]) {
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(`invalid spec: ${issues[0]?.message ?? 'no details'}${more}`);
  }
}

export function parseSpecOrThrow(input: unknown): Spec {
  const result = validateSpec(input);
  if (!result.ok) throw new SpecValidationError(result.issues);
  return result.spec;
}

/** Checks `input` and returns it parsed (defaults applied), or every issue found, sorted by path. */
export function validateSpec(input: unknown): SpecValidation {
  const sizeIssue = checkSize(input);
  if (sizeIssue) return rejected([sizeIssue]);

  const parsed = SpecSchema.safeParse(input);
  if (!parsed.success) return rejected(parsed.error.issues.map((issue) => fromSchemaIssue(issue, input)));

  const spec = parsed.data;
  const issues = checkParsedSpec(spec);
  return issues.length === 0 ? { ok: true, spec } : rejected(issues);
}

function rejected(issues: SpecIssue[]): SpecValidation {
  const sorted = [...issues].sort((a, b) => comparePaths(a.path, b.path));
  if (sorted.length <= MAX_ISSUES) return { ok: false, issues: sorted };
  const shown = sorted.slice(0, MAX_ISSUES - 1);
  const summary = { path: [], message: `${sorted.length - shown.length} more issues not shown` };
  return { ok: false, issues: [...shown, summary] };
}

/** Numbers before strings, numbers by value, strings by code unit, a prefix before what extends it. */
function comparePaths(a: IssuePath, b: IssuePath): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------------
// Size: the UTF-8 length of the JSON, counted by hand because neither Buffer nor TextEncoder is
// available in the workflow sandbox.

function checkSize(input: unknown): SpecIssue | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(input);
  } catch (error) {
    return { path: [], message: `the spec is not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const bytes = utf8Length(json ?? '');
  if (bytes <= MAX_SPEC_BYTES) return undefined;
  return { path: [], message: `the spec is ${bytes} bytes of JSON; specs may hold at most ${MAX_SPEC_BYTES}` };
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (isHighSurrogate(unit) && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3; // the rest of the BMP, and a lone surrogate as U+FFFD
  }
  return bytes;
}

const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;

// ---------------------------------------------------------------------------------------------------
// Schema issues, named after the step or group they sit in.

type SchemaIssue = z.ZodError['issues'][number];

function fromSchemaIssue(issue: SchemaIssue, input: unknown): SpecIssue {
  const path = issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key));
  const [collection, position, ...rest] = path;
  if ((collection === 'steps' || collection === 'groups') && typeof position === 'number') {
    const id = rawId(input, collection, position);
    const noun = collection === 'steps' ? 'step' : 'group';
    const subject = id === undefined ? `${collection}[${position}]` : `${noun} "${id}"`;
    return {
      path,
      message: `${subject}: ${located(rest, issue.message)}`,
      ...(collection === 'steps' && id !== undefined ? { stepId: id } : {}),
    };
  }
  return { path, message: located(path, issue.message) };
}

/** The id as written, however malformed, so that the message can name what the author wrote. */
function rawId(input: unknown, collection: 'steps' | 'groups', position: number): string | undefined {
  const items = (input as Record<string, unknown> | null | undefined)?.[collection];
  const item = Array.isArray(items) ? (items[position] as Record<string, unknown> | null | undefined) : undefined;
  const id = typeof item === 'object' ? item?.id : undefined;
  return typeof id === 'string' ? id : undefined;
}

function located(path: IssuePath, message: string): string {
  return path.length > 0 ? `${formatValuePath(path)}: ${message}` : message;
}

// ---------------------------------------------------------------------------------------------------
// Checks across steps, on a spec the schema accepted.

interface SpecIndex {
  /** Step id → index of its first definition. */
  readonly steps: ReadonlyMap<string, number>;
  /** Group id → index of its first definition, for groups whose id no step has. */
  readonly groups: ReadonlyMap<string, number>;
  /** Step id → the groups listing it. */
  readonly groupsOf: ReadonlyMap<string, readonly string[]>;
}

function indexSpec(spec: Spec): SpecIndex {
  const steps = new Map<string, number>();
  spec.steps.forEach((step, i) => {
    if (!steps.has(step.id)) steps.set(step.id, i);
  });
  const groups = new Map<string, number>();
  const groupsOf = new Map<string, string[]>();
  spec.groups.forEach((group, j) => {
    if (!steps.has(group.id) && !groups.has(group.id)) groups.set(group.id, j);
    for (const member of new Set(group.steps)) groupsOf.set(member, [...(groupsOf.get(member) ?? []), group.id]);
  });
  return { steps, groups, groupsOf };
}

function checkParsedSpec(spec: Spec): SpecIssue[] {
  const index = indexSpec(spec);
  const dependencies = checkDependsOn(spec, index);
  const graph = graphWithout(spec, dependencies.rejected);
  const blocked = graph.blockedNodes();
  return [
    ...checkIds(spec, index),
    ...checkGroupMembership(spec, index),
    ...dependencies.issues,
    ...checkCycles(spec, index, graph, blocked),
    ...checkGroupIndependence(spec, index, graph, blocked),
    ...checkExpressions(spec, index, graph),
    ...checkSecretReferences(spec),
    ...checkWith(spec),
    ...checkForEach(spec),
    ...checkTemplateReferences(spec),
    ...checkNotify(spec),
  ];
}

function stepIssue(spec: Spec, stepIndex: number, path: IssuePath, message: string): SpecIssue {
  const stepId = spec.steps[stepIndex]!.id;
  return { path: ['steps', stepIndex, ...path], stepId, message: `step "${stepId}": ${message}` };
}

function groupIssue(spec: Spec, groupIndex: number, path: IssuePath, message: string, stepId?: string): SpecIssue {
  const groupId = spec.groups[groupIndex]!.id;
  return {
    path: ['groups', groupIndex, ...path],
    message: `group "${groupId}": ${message}`,
    ...(stepId === undefined ? {} : { stepId }),
  };
}

function checkIds(spec: Spec, index: SpecIndex): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.steps.forEach((step, i) => {
    const first = index.steps.get(step.id)!;
    if (first !== i) issues.push(stepIssue(spec, i, ['id'], `id is already used by steps[${first}]`));
  });
  spec.groups.forEach((group, j) => {
    const step = index.steps.get(group.id);
    const first = index.groups.get(group.id);
    if (step !== undefined) {
      issues.push(groupIssue(spec, j, ['id'], `id is already used by step "${group.id}" (steps[${step}])`));
    } else if (first !== j) {
      issues.push(groupIssue(spec, j, ['id'], `id is already used by groups[${first}]`));
    }
  });
  return issues;
}

function checkGroupMembership(spec: Spec, index: SpecIndex): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.groups.forEach((group, j) => {
    const listed = new Set<string>();
    group.steps.forEach((member, k) => {
      const at = ['steps', k];
      if (listed.has(member)) {
        issues.push(groupIssue(spec, j, at, `lists step "${member}" twice`, member));
      } else if (index.steps.has(member)) {
        const owner = index.groupsOf.get(member)![0]!;
        if (owner !== group.id) {
          const message = `step "${member}" already belongs to group "${owner}"; a step may be in one group only`;
          issues.push(groupIssue(spec, j, at, message, member));
        }
      } else if (index.groups.has(member)) {
        issues.push(groupIssue(spec, j, at, `lists "${member}", which is a group; groups hold steps only`));
      } else {
        issues.push(groupIssue(spec, j, at, `lists unknown step "${member}"`));
      }
      listed.add(member);
    });
  });
  return issues;
}

interface DependencyCheck {
  readonly issues: SpecIssue[];
  /** Step index → positions in its `dependsOn` that are reported and must stay out of the graph. */
  readonly rejected: ReadonlyMap<number, ReadonlySet<number>>;
}

function checkDependsOn(spec: Spec, index: SpecIndex): DependencyCheck {
  const issues: SpecIssue[] = [];
  const rejected = new Map<number, Set<number>>();
  spec.steps.forEach((step, i) => {
    step.dependsOn.forEach((dependency, k) => {
      const problem = dependencyProblem(step.id, dependency, index);
      if (problem === undefined) return;
      issues.push(stepIssue(spec, i, ['dependsOn', k], problem));
      rejected.set(i, (rejected.get(i) ?? new Set()).add(k));
    });
  });
  return { issues, rejected };
}

function dependencyProblem(stepId: string, dependency: string, index: SpecIndex): string | undefined {
  if (dependency === stepId) return 'dependsOn lists the step itself';
  if (!index.steps.has(dependency) && !index.groups.has(dependency)) {
    return `dependsOn references unknown step or group "${dependency}"`;
  }
  if (index.groupsOf.get(stepId)?.includes(dependency)) {
    return `dependsOn lists group "${dependency}", which the step belongs to`;
  }
  return undefined;
}

/**
 * The graph without dependencies already reported: a step depending on itself or on its own group
 * would otherwise be reported a second time, as a cycle.
 */
function graphWithout(spec: Spec, rejected: DependencyCheck['rejected']): SpecGraph {
  if (rejected.size === 0) return graphOf(spec);
  const steps = spec.steps.map((step, i) => {
    const positions = rejected.get(i);
    return positions ? { ...step, dependsOn: step.dependsOn.filter((_, k) => !positions.has(k)) } : step;
  });
  return new SpecGraph({ ...spec, steps });
}

const formatCycle = (cycle: readonly string[]) => cycle.join(' → ');

function checkCycles(spec: Spec, index: SpecIndex, graph: SpecGraph, blocked: BlockedNodes): SpecIssue[] {
  const { cycles, waitingOnCycle } = blocked;
  const issues = cycles.map((cycle) => {
    const groupNote = cycle.some((id) => graph.isGroup(id)) ? '; a group depends on its steps' : '';
    const message = `is part of a dependency cycle: ${formatCycle(cycle)} (each depends on the next${groupNote})`;
    return stepIssue(spec, index.steps.get(cycle[0]!)!, ['dependsOn'], message);
  });
  for (const [id, cycle] of waitingOnCycle) {
    const stepIndex = index.steps.get(id);
    if (stepIndex === undefined) continue; // a group: its waiting members are reported
    const waitsOn = `it waits, directly or not, on the dependency cycle ${formatCycle(cycles[cycle]!)}`;
    const message = `can never start: ${waitsOn}`;
    issues.push(stepIssue(spec, stepIndex, ['dependsOn'], message));
  }
  return issues;
}

/**
 * Members of a group run in parallel, so none may wait for another, directly or through other steps.
 * Members stuck on or behind a cycle are left out: they are reported already, and on a cycle every
 * member reachable from it would look dependent.
 */
function checkGroupIndependence(
  spec: Spec,
  index: SpecIndex,
  graph: SpecGraph,
  blocked: BlockedNodes,
): SpecIssue[] {
  const stuck = new Set([...blocked.cycles.flat(), ...blocked.waitingOnCycle.keys()]);
  const issues: SpecIssue[] = [];
  spec.groups.forEach((group, j) => {
    if (index.groups.get(group.id) !== j) return;
    const members = [...new Set(group.steps)].filter((id) => index.steps.has(id) && !stuck.has(id));
    for (const [member, ancestor] of graph.ancestorsWithin(members)) {
      const stepIndex = index.steps.get(member)!;
      const how = spec.steps[stepIndex]!.dependsOn.includes(ancestor) ? '' : ' through its dependencies';
      const parallel = `but both are in group "${group.id}", whose steps run in parallel`;
      const message = `depends on "${ancestor}"${how}, ${parallel}`;
      issues.push(stepIssue(spec, stepIndex, ['dependsOn'], message));
    }
  });
  return issues;
}

function checkExpressions(spec: Spec, index: SpecIndex, graph: SpecGraph): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.steps.forEach((step, i) => {
    const check = (path: IssuePath, source: string, templateError?: ExpressionError) => {
      const where = formatValuePath(path);
      const report = (message: string) => issues.push(stepIssue(spec, i, path, `${where}: ${message}`));
      const compiled = templateError ?? compileOrError(source);
      if (compiled instanceof ExpressionError) {
        report(compiled.message);
        return;
      }
      if (compiled.readsSecrets && (path[0] === 'when' || secretNameOf(source) === undefined)) {
        report(`reads \`secrets\`, which only a whole \`{{ secrets.NAME }}\` may: secrets are substituted by the step's activity, never evaluated`);
      }
      for (const id of compiled.referencedSteps) {
        if (!index.steps.has(id)) report(`reads steps.${id}, but there is no step "${id}"`);
        else if (id === step.id) report(`reads steps.${id}, its own result, which does not exist before it runs`);
        else if (!graph.isAncestor(id, step.id)) {
          const why = 'is not among the steps it depends on (directly or not), so it may not have run yet';
          report(`reads steps.${id}, but "${id}" ${why}`);
        }
      }
    };

    if (step.when !== undefined && isWholeExpression(step.when)) {
      issues.push(stepIssue(spec, i, ['when'], 'when: takes a bare expression, without "{{ }}"'));
    } else if (step.when !== undefined) {
      check(['when'], step.when);
    }
    for (const found of findExpressions(step.with)) check(['with', ...found.path], found.source, found.error);
    if (step.forEach && isWholeExpression(step.forEach.items)) {
      issues.push(stepIssue(spec, i, ['forEach', 'items'], 'forEach.items: takes a bare expression, without "{{ }}"'));
    } else if (step.forEach) {
      check(['forEach', 'items'], step.forEach.items);
    }
  });
  return issues;
}

/** Which template a `template` step runs is pinned when its version is created: it may hold no expression. */
function checkTemplateReferences(spec: Spec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.steps.forEach((step, i) => {
    if (step.type !== 'template') return;
    const reference = step.with.template;
    if (findExpressions(reference).length > 0) {
      issues.push(stepIssue(spec, i, ['with', 'template'], 'with.template: names the template to run and may hold no expression; it is pinned when the version is created'));
    }
  });
  return issues;
}

/** Step types flowpilot's worker runs as one activity: the only ones `forEach` can run per item. */
function runsPerItem(definition: StepTypeDefinition): boolean {
  return definition.kind === 'activity' && definition.placement === 'anywhere';
}

/** `forEach` runs each item as an activity: timers, approvals and child runs have no per-item form. */
function checkForEach(spec: Spec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.steps.forEach((step, i) => {
    if (step.forEach && !runsPerItem(stepTypes[step.type])) {
      const types = Object.entries(stepTypes).filter(([, definition]) => runsPerItem(definition)).map(([name]) => name);
      issues.push(stepIssue(spec, i, ['forEach'], `forEach: ${step.type} steps cannot run per item; forEach takes steps of type ${types.join(', ')}`));
    }
  });
  return issues;
}

/** A step asks only for notices it can send: approval moments of approval steps, `held` of steps that can be held. */
function checkNotify(spec: Spec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.steps.forEach((step, i) => {
    step.notify?.on.forEach((event, j) => {
      const report = (message: string) => issues.push(stepIssue(spec, i, ['notify', 'on', j], `notify.on: ${message}`));
      if (APPROVAL_NOTIFY_EVENTS.includes(event) && stepTypes[step.type].kind !== 'approval') {
        report(`"${event}" happens only to approval steps, and this is a ${step.type} step`);
      } else if (event === 'held' && step.onError !== 'pause') {
        report(`"held" happens only to steps with onError: pause, and this step has onError: ${step.onError}`);
      }
    });
  });
  return issues;
}

/**
 * Where `{{ secrets.NAME }}` may stand, and with what around it (see secret-references.ts): the
 * activity substitutes exactly these strings, so each must be plain text around its references.
 */
function checkSecretReferences(spec: Spec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.steps.forEach((step, i) => {
    for (const path of secretReferencePaths(step.with)) {
      const where = formatValuePath(['with', ...path]);
      const report = (message: string) => issues.push(stepIssue(spec, i, ['with', ...path], `${where}: ${message}`));
      const text = path.reduce<unknown>((value, key) => (value as Record<string | number, unknown>)[key], step.with) as string;
      if (!mayHoldSecrets(step.type, path)) {
        report('secrets may be referenced only in an http step\'s `url`, header values and `body`');
      } else if (findExpressions(text).some((found) => found.error !== undefined || secretNameOf(found.source) === undefined)) {
        report('a string referencing a secret may hold only plain text around its `{{ secrets.NAME }}` references, no other expression');
      } else if (path[0] === 'url' && !referencesAfterHost(text)) {
        report('secrets may be referenced in a URL\'s path or query, not in its scheme or host');
      }
    }
  });
  return issues;
}

function compileOrError(source: string): CompiledExpression | ExpressionError {
  try {
    return compileExpression(source);
  } catch (error) {
    if (error instanceof ExpressionError) return error;
    throw error;
  }
}

/**
 * Checks `with` against the step type's schema. Values still holding templates are checked by the
 * workflow after rendering, so issues about them are dropped here; but a template mixed with text
 * always renders to a string, so a type issue at one (e.g. a string where a number belongs) stands.
 */
function checkWith(spec: Spec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.steps.forEach((step, i) => {
    const result = stepTypes[step.type].withSchema.safeParse(step.with);
    if (result.success) return;
    for (const issue of result.error.issues) {
      if (dependsOnRendering(issue, step.with)) continue;
      const path = ['with', ...issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key))];
      issues.push(stepIssue(spec, i, path, `${formatValuePath(path)}: ${issue.message}`));
    }
  });
  return issues;
}

function dependsOnRendering(issue: SchemaIssue, value: unknown): boolean {
  let current = value;
  for (const key of issue.path) {
    if (typeof current !== 'object' || current === null) break; // the issue sits inside a string
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  if (typeof current !== 'string' || !current.includes('{{')) return false;
  return isWholeExpression(current) || issue.code !== 'invalid_type';
}
