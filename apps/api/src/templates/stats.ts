import { graphOf } from '../../../../workflows/spec/dag';
import type { Spec, Step } from '../../../../workflows/spec/schema';

export interface SpecStats {
  steps: number;
  groups: number;
  /** Steps on the longest dependency chain (through groups too): the fewest waves a run needs. */
  depth: number;
}

/** Summary of a spec that already passed validateSpec (so its dependencies form a DAG). */
export function specStats(spec: Spec): SpecStats {
  const levels = stepLevels(spec);
  return { steps: spec.steps.length, groups: spec.groups.length, depth: Math.max(0, ...levels.values()) };
}

/**
 * Each step's level: 1 for a step that waits for nothing, otherwise one more than the highest level
 * of what it waits for (a group is finished after its members, so waiting on it is waiting on its
 * highest member). The highest level is the longest dependency chain; steps of one level never wait
 * for one another, so they can all run at once. In topological order.
 */
export function stepLevels(spec: Spec): Map<string, number> {
  const graph = graphOf(spec);
  const levels = new Map<string, number>();
  const levelBefore = (id: string): number =>
    graph.isGroup(id)
      ? Math.max(0, ...graph.dependenciesOf(id).map((member) => levels.get(member) ?? 0))
      : (levels.get(id) ?? 0);
  for (const id of graph.topologicalOrder()) {
    levels.set(id, 1 + Math.max(0, ...graph.dependenciesOf(id).map(levelBefore)));
  }
  return levels;
}

export interface CriticalPath {
  /** Step ids in the order they run, the first waiting for nothing. */
  steps: string[];
  /** The sum of their weights: when the last of them ends, if each takes its weight. */
  length: number;
}

/**
 * The chain of steps that decides when a run ends if every step takes `weightOf(step)`: each step
 * starts once what it waits for is done (a group of join `any` with its earliest member, otherwise
 * with its latest, and its members still running are cancelled then), and the path is walked back
 * from the step that ends last. Ties go to the first in topological order, so the answer is stable.
 */
export function criticalPath(spec: Spec, weightOf: (step: Step) => number): CriticalPath {
  const graph = graphOf(spec);
  const steps = new Map(spec.steps.map((step) => [step.id, step]));
  const joins = new Map(spec.groups.map((group) => [group.id, group.join]));
  const finish = new Map<string, number>();
  /** The step whose end let each step start. */
  const previous = new Map<string, string>();

  /** Groups' readiness, computed once: only asked after all their members (topological order). */
  const groupsReady = new Map<string, { at: number; step?: string }>();
  /** When a dependency lets its dependants start, and the step that decides it. */
  const readyAt = (id: string): { at: number; step?: string } => {
    if (!graph.isGroup(id)) return { at: finish.get(id) ?? 0, step: id };
    let ready = groupsReady.get(id);
    if (!ready) {
      const members = graph.dependenciesOf(id).map((member) => ({ at: finish.get(member) ?? 0, step: member }));
      const pick = joins.get(id) === 'any' ? (a: number, b: number) => a < b : (a: number, b: number) => a > b;
      ready = members.reduce((best, member) => (pick(member.at, best.at) ? member : best), members[0] ?? { at: 0 });
      groupsReady.set(id, ready);
    }
    return ready;
  };

  const order = graph.topologicalOrder();
  for (const id of order) {
    let start = 0;
    let from: string | undefined;
    for (const dependency of graph.dependenciesOf(id)) {
      const ready = readyAt(dependency);
      if (ready.step !== undefined && (from === undefined || ready.at > start)) {
        start = ready.at;
        from = ready.step;
      }
    }
    if (from !== undefined) previous.set(id, from);
    finish.set(id, start + weightOf(steps.get(id)!));
  }

  // Once a group of join `any` succeeds, the run cancels its members still running.
  const endOf = (id: string): number => {
    const group = graph.groupOf(id);
    const own = finish.get(id)!;
    return group !== undefined && joins.get(group) === 'any' ? Math.min(own, readyAt(group).at) : own;
  };
  let last: string | undefined;
  for (const id of order) if (last === undefined || endOf(id) > endOf(last)) last = id;

  const path: string[] = [];
  for (let id = last; id !== undefined; id = previous.get(id)) path.push(id);
  path.reverse();
  return { steps: path, length: last === undefined ? 0 : endOf(last) };
}
