import type { RunState, StepState } from '../contract';
import { graphOf } from '../spec/dag';
import type { Group, Spec, Step } from '../spec/schema';

/**
 * Whether a dependency lets a dependant run: `satisfied` (it succeeded, or was skipped on purpose),
 * `blocked` (it failed, was cancelled or was itself skipped upstream: the dependant is skipped
 * 'upstream'), or `waiting` (not settled yet, or held for an operator).
 */
export type Verdict = 'satisfied' | 'blocked' | 'waiting';

/** What the scheduler looks up about a spec, built once per run on the spec's dependency graph. */
export class RunGraph {
  readonly steps: ReadonlyMap<string, Step>;
  readonly groups: ReadonlyMap<string, Group>;
  /** Step ids, each after everything it waits for: one pass in this order settles cascading skips. */
  readonly order: readonly string[];
  private readonly groupByStep = new Map<string, Group>();

  constructor(readonly spec: Spec) {
    const dag = graphOf(spec);
    this.steps = new Map(spec.steps.map((step) => [step.id, step]));
    this.groups = new Map(spec.groups.map((group) => [group.id, group]));
    this.order = dag.topologicalOrder();
    for (const step of spec.steps) {
      const groupId = dag.groupOf(step.id);
      if (groupId) this.groupByStep.set(step.id, this.groups.get(groupId)!);
    }
  }

  groupOf(stepId: string): Group | undefined {
    return this.groupByStep.get(stepId);
  }
}

export function stepVerdict(step: StepState, held: readonly string[]): Verdict {
  switch (step.status) {
    case 'succeeded':
      return 'satisfied';
    case 'skipped':
      return step.skipReason === 'upstream' ? 'blocked' : 'satisfied';
    case 'failed':
      return held.includes(step.id) ? 'waiting' : 'blocked';
    case 'cancelled':
      return 'blocked';
    default:
      return 'waiting';
  }
}

export type GroupOutcome = 'succeeded' | 'failed';

/**
 * A group's outcome from its members: `any` succeeds with its first successful member, `failFast`
 * fails with its first failed one, and otherwise a group is decided once every member settled.
 */
export function groupOutcome(group: Group, state: RunState): GroupOutcome | undefined {
  const verdicts = group.steps.map((id) => {
    const member = state.steps[id];
    return member ? stepVerdict(member, state.held) : 'waiting';
  });
  const members = group.steps.map((id) => state.steps[id]);
  if (group.join === 'any' && members.some((m) => m?.status === 'succeeded')) return 'succeeded';
  if (group.join === 'failFast' && verdicts.includes('blocked')) return 'failed';
  if (verdicts.includes('waiting')) return undefined;
  if (group.join === 'any') return 'failed';
  return verdicts.includes('blocked') ? 'failed' : 'succeeded';
}

/** The combined verdict of a step's dependencies, which may name steps or groups. */
export function dependenciesVerdict(step: Step, graph: RunGraph, state: RunState): Verdict {
  let verdict: Verdict = 'satisfied';
  for (const id of step.dependsOn) {
    const dependency = state.steps[id];
    const group = graph.groups.get(id);
    const current: Verdict = dependency
      ? stepVerdict(dependency, state.held)
      : group
        ? groupVerdict(groupOutcome(group, state))
        : 'blocked';
    if (current === 'blocked') return 'blocked';
    if (current === 'waiting') verdict = 'waiting';
  }
  return verdict;
}

function groupVerdict(outcome: GroupOutcome | undefined): Verdict {
  if (outcome === undefined) return 'waiting';
  return outcome === 'succeeded' ? 'satisfied' : 'blocked';
}
