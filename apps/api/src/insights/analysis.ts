import { parseDuration } from '../../../../workflows/spec/duration';
import type { Spec, Step } from '../../../../workflows/spec/schema';
import { criticalPath, specStats, stepLevels } from '../templates/stats';

/**
 * The shape of a version's dependency graph: its levels (steps that can run at once), its depth, its
 * widest level, and its critical path, weighed by what is best known of each step's duration:
 *
 * - `observedMedians`: the median duration the version's finished runs measured for each step (run
 *   summaries); a step never seen to start weighs 0;
 * - `declaredTimeouts`, with no runs summarised: what the spec declares, as an upper bound: a delay's
 *   literal duration, an approval's timeout, a step's own timeout; a step declaring none weighs 0;
 * - `stepCount`, when neither is known: every step weighs 1 and the path is a longest chain.
 */

export type WeightBasis = 'observedMedians' | 'declaredTimeouts' | 'stepCount';
export type WeightSource = 'observed' | 'unobserved' | 'declared' | 'undeclared' | 'count';

export interface VersionAnalysis {
  templateId: string;
  version: number;
  steps: number;
  groups: number;
  /** Steps on the longest dependency chain: the fewest waves a run needs. */
  depth: number;
  /** The most steps that can run at once when steps take equal time: the widest level. */
  maxParallelism: number;
  levels: { level: number; steps: string[] }[];
  criticalPath: {
    basis: WeightBasis;
    /** How long the path takes with those weights (ms); for `stepCount`, the number of steps. */
    length: number;
    steps: { id: string; type: string; weight: number; source: WeightSource }[];
    /** Approval steps on the path: where a human decision holds the run up. */
    approvals: string[];
  };
}

export function analyseVersion(spec: Spec, run: { templateId: string; version: number }, observedMedians: ReadonlyMap<string, number>): VersionAnalysis {
  const stats = specStats(spec);
  const levelOf = stepLevels(spec);
  const byLevel = new Map<number, string[]>();
  // Spec order within a level, so the answer does not depend on the sort.
  for (const step of spec.steps) {
    const level = levelOf.get(step.id)!;
    byLevel.set(level, [...(byLevel.get(level) ?? []), step.id]);
  }
  const levels = [...byLevel.entries()].sort(([a], [b]) => a - b).map(([level, steps]) => ({ level, steps }));

  const weigh = weighing(spec, observedMedians);
  const path = criticalPath(spec, (step) => weigh.weightOf(step).weight);
  const steps = new Map(spec.steps.map((step) => [step.id, step]));
  const pathSteps = path.steps.map((id) => {
    const step = steps.get(id)!;
    return { id, type: step.type, ...weigh.weightOf(step) };
  });
  return {
    templateId: run.templateId,
    version: run.version,
    steps: stats.steps,
    groups: stats.groups,
    depth: stats.depth,
    maxParallelism: Math.max(0, ...levels.map((level) => level.steps.length)),
    levels,
    criticalPath: {
      basis: weigh.basis,
      length: Math.round(path.length),
      steps: pathSteps,
      approvals: pathSteps.filter((step) => step.type === 'approval').map((step) => step.id),
    },
  };
}

interface Weighing {
  basis: WeightBasis;
  weightOf(step: Step): { weight: number; source: WeightSource };
}

function weighing(spec: Spec, observedMedians: ReadonlyMap<string, number>): Weighing {
  if (observedMedians.size > 0) {
    return {
      basis: 'observedMedians',
      weightOf: (step) => {
        const median = observedMedians.get(step.id);
        return median === undefined ? { weight: 0, source: 'unobserved' } : { weight: Math.round(median), source: 'observed' };
      },
    };
  }
  if (spec.steps.some((step) => declaredDuration(step) !== undefined)) {
    return {
      basis: 'declaredTimeouts',
      weightOf: (step) => {
        const declared = declaredDuration(step);
        return declared === undefined ? { weight: 0, source: 'undeclared' } : { weight: declared, source: 'declared' };
      },
    };
  }
  return { basis: 'stepCount', weightOf: () => ({ weight: 1, source: 'count' }) };
}

/**
 * The longest a step may take by its spec: a delay's duration, an approval's timeout, the step's
 * own timeout, whichever is shortest of those it names literally (a `{{ }}` duration is known only
 * in a run).
 */
function declaredDuration(step: Step): number | undefined {
  const literal = (value: unknown) => (typeof value === 'string' && !value.includes('{{') ? parseDuration(value) : undefined);
  const candidates = [literal(step.timeout)];
  if (step.type === 'delay') candidates.push(literal(step.with.duration));
  if (step.type === 'approval') candidates.push(literal(step.with.timeout));
  const known = candidates.filter((value): value is number => value !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}
