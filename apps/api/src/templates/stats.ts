import { graphOf } from '../../../../workflows/spec/dag';
import type { Spec } from '../../../../workflows/spec/schema';

export interface SpecStats {
  steps: number;
  groups: number;
  /** Steps on the longest dependency chain (through groups too): the fewest waves a run needs. */
  depth: number;
}

/** Summary of a spec that already passed validateSpec (so its dependencies form a DAG). */
export function specStats(spec: Spec): SpecStats {
  return { steps: spec.steps.length, groups: spec.groups.length, depth: longestChain(spec) };
}

function longestChain(spec: Spec): number {
  const graph = graphOf(spec);
  const chainEndingAt = new Map<string, number>();
  // A group is finished after its members, so waiting on it is waiting on its longest member chain.
  const chainBefore = (id: string): number =>
    graph.isGroup(id)
      ? Math.max(0, ...graph.dependenciesOf(id).map((member) => chainEndingAt.get(member) ?? 0))
      : (chainEndingAt.get(id) ?? 0);
  let depth = 0;
  for (const id of graph.topologicalOrder()) {
    const chain = 1 + Math.max(0, ...graph.dependenciesOf(id).map(chainBefore));
    chainEndingAt.set(id, chain);
    depth = Math.max(depth, chain);
  }
  return depth;
}
