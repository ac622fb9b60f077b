import type { Spec } from './schema';

/**
 * The dependency graph of a spec. Its nodes are steps and groups. A step waits for what its `dependsOn`
 * names (steps or groups); a group waits for its member steps, and is "finished" under its join policy.
 * Expression references (`steps.<id>` in `when` or `with`) add no edges: they must point at ancestors,
 * which `validateSpec` checks, so in a valid spec they are implied by `dependsOn`.
 *
 * The graph tolerates the mistakes `validateSpec` reports, so that it can look for cycles in the same
 * pass: references to unknown ids are left out, and when an id is defined twice the first definition
 * wins (a step over a group of the same id).
 */

export class DependencyCycleError extends Error {
  override readonly name = 'DependencyCycleError';

  /** @param cycle ids where each depends on the next, the first repeated at the end */
  constructor(readonly cycle: readonly string[]) {
    super(`dependency cycle: ${cycle.join(' → ')}`);
  }
}

export class UnknownNodeError extends Error {
  override readonly name = 'UnknownNodeError';

  constructor(readonly id: string) {
    super(`no step or group "${id}" in the spec`);
  }
}

export interface BlockedNodes {
  /** Each cycle once, as ids where each depends on the next, starting at a step and closed by repeating it. */
  readonly cycles: readonly (readonly string[])[];
  /** Steps and groups on no cycle that wait on one, each with an index into `cycles`. */
  readonly waitingOnCycle: ReadonlyMap<string, number>;
}

interface Sorted {
  /** Every node not stuck on or behind a cycle, each after all it depends on. */
  readonly order: readonly number[];
  readonly blocked: readonly boolean[];
}

/** Transitive dependencies as one row of bits per node, for nodes in `Sorted.order` only. */
interface Reachability {
  readonly words: number;
  readonly bits: Uint32Array;
}

export class SpecGraph {
  /** Node index → id: steps in spec order, then groups. */
  private readonly ids: string[] = [];
  private readonly indexById = new Map<string, number>();
  private readonly stepCount: number;
  private readonly dependencies: number[][] = [];
  private readonly dependants: number[][] = [];
  private readonly groupByStep = new Map<string, string>();
  private sorted?: Sorted;
  private reachability?: Reachability;

  constructor(spec: Spec) {
    for (const step of spec.steps) this.addNode(step.id);
    this.stepCount = this.ids.length;
    for (const group of spec.groups) this.addNode(group.id);

    const defined = new Set<number>();
    spec.steps.forEach((step) => {
      const node = this.indexById.get(step.id)!;
      if (defined.has(node)) return;
      defined.add(node);
      this.link(node, step.dependsOn);
    });
    for (const group of spec.groups) {
      const node = this.indexById.get(group.id)!;
      if (defined.has(node) || !this.isGroupIndex(node)) continue;
      defined.add(node);
      const members = group.steps.filter((id) => this.isStep(id));
      this.link(node, members);
      for (const member of members) if (!this.groupByStep.has(member)) this.groupByStep.set(member, group.id);
    }
  }

  private addNode(id: string): void {
    if (this.indexById.has(id)) return;
    this.indexById.set(id, this.ids.length);
    this.ids.push(id);
    this.dependencies.push([]);
    this.dependants.push([]);
  }

  private link(node: number, dependencyIds: readonly string[]): void {
    const linked = new Set<number>();
    for (const id of dependencyIds) {
      const dependency = this.indexById.get(id);
      if (dependency === undefined || linked.has(dependency)) continue;
      linked.add(dependency);
      this.dependencies[node]!.push(dependency);
      this.dependants[dependency]!.push(node);
    }
  }

  private index(id: string): number {
    const index = this.indexById.get(id);
    if (index === undefined) throw new UnknownNodeError(id);
    return index;
  }

  private isGroupIndex(index: number): boolean {
    return index >= this.stepCount;
  }

  private idsOf(indexes: readonly number[]): string[] {
    return indexes.map((index) => this.ids[index]!);
  }

  has(id: string): boolean {
    return this.indexById.has(id);
  }

  isStep(id: string): boolean {
    const index = this.indexById.get(id);
    return index !== undefined && !this.isGroupIndex(index);
  }

  isGroup(id: string): boolean {
    const index = this.indexById.get(id);
    return index !== undefined && this.isGroupIndex(index);
  }

  /** The group a step belongs to (the first, if a faulty spec lists it in several). */
  groupOf(stepId: string): string | undefined {
    return this.groupByStep.get(stepId);
  }

  /** What `id` waits for directly: for a step, the steps and groups of its `dependsOn`; for a group, its members. */
  dependenciesOf(id: string): string[] {
    return this.idsOf(this.dependencies[this.index(id)]!);
  }

  /** What waits for `id` directly: steps naming it in `dependsOn` and, for a step, its group. */
  dependantsOf(id: string): string[] {
    return this.idsOf(this.dependants[this.index(id)]!);
  }

  /** Every step and group `id` waits for, directly or not. */
  ancestorsOf(id: string): Set<string> {
    const seen = new Set<number>();
    const pending = [...this.dependencies[this.index(id)]!];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      if (seen.has(next)) continue;
      seen.add(next);
      pending.push(...this.dependencies[next]!);
    }
    return new Set(this.idsOf([...seen]));
  }

  /** Whether `id` waits, directly or not, for `ancestorId`. */
  isAncestor(ancestorId: string, id: string): boolean {
    const ancestor = this.index(ancestorId);
    const node = this.index(id);
    if (this.sort().blocked[node]) return this.ancestorsOf(id).has(ancestorId);
    const { words, bits } = this.reach();
    return (bits[node * words + (ancestor >>> 5)]! & (1 << (ancestor & 31))) !== 0;
  }

  /**
   * For each of `ids` that waits, directly or not, for another of `ids`: the first such one in spec order
   * (a node on a cycle waits for itself, but that is not "another").
   * Linear in `ids` times the node count / 32, where asking `isAncestor` of every pair would be quadratic.
   */
  ancestorsWithin(ids: readonly string[]): Map<string, string> {
    const indexes = ids.map((id) => this.index(id));
    const { blocked } = this.sort();
    const { words, bits } = this.reach();
    const mask = new Uint32Array(words);
    for (const index of indexes) mask[index >>> 5]! |= 1 << (index & 31);

    const among = new Set(indexes);
    const found = new Map<string, string>();
    for (const index of indexes) {
      const ancestor = blocked[index] ? this.firstAncestorByWalk(index, among) : firstSetBit(bits, index * words, mask);
      if (ancestor !== undefined) found.set(this.ids[index]!, this.ids[ancestor]!);
    }
    return found;
  }

  private firstAncestorByWalk(index: number, among: ReadonlySet<number>): number | undefined {
    const ancestors = [...this.ancestorsOf(this.ids[index]!)].map((id) => this.indexById.get(id)!);
    const candidates = ancestors.filter((ancestor) => ancestor !== index && among.has(ancestor));
    return candidates.length > 0 ? Math.min(...candidates) : undefined;
  }

  /** Step ids, each after every step it waits for (directly, or through a group). */
  topologicalOrder(): string[] {
    const { order, blocked } = this.sort();
    if (blocked.some(Boolean)) throw new DependencyCycleError(this.findCycle()!);
    return this.idsOf(order.filter((index) => !this.isGroupIndex(index)));
  }

  /** One dependency cycle (ids where each depends on the next, the first repeated at the end), if any. */
  findCycle(): string[] | undefined {
    const [cycle] = this.blockedNodes().cycles;
    return cycle && [...cycle];
  }

  /**
   * The nodes that can never start: those on a dependency cycle, and those waiting on one. Follows, from
   * each blocked node, a blocked dependency (every blocked node has one) until the walk meets itself (a new
   * cycle) or a node already explained (it waits on that node's cycle): linear in the blocked nodes.
   */
  blockedNodes(): BlockedNodes {
    const { blocked } = this.sort();
    const cycleOf = new Map<number, number>();
    const onCycle = new Set<number>();
    const cycles: string[][] = [];

    blocked.forEach((isBlocked, start) => {
      if (!isBlocked || cycleOf.has(start)) return;
      const walk: number[] = [];
      const positionInWalk = new Map<number, number>();
      let node = start;
      while (!cycleOf.has(node) && !positionInWalk.has(node)) {
        positionInWalk.set(node, walk.length);
        walk.push(node);
        node = this.dependencies[node]!.find((dependency) => blocked[dependency])!;
      }
      let cycle = cycleOf.get(node);
      if (cycle === undefined) {
        const members = walk.slice(positionInWalk.get(node));
        for (const member of members) onCycle.add(member);
        cycle = cycles.push(this.closedCycle(members)) - 1;
      }
      for (const member of walk) cycleOf.set(member, cycle);
    });

    const waitingOnCycle = new Map<string, number>();
    for (const [node, cycle] of cycleOf) if (!onCycle.has(node)) waitingOnCycle.set(this.ids[node]!, cycle);
    return { cycles, waitingOnCycle };
  }

  /** Rotates the cycle to start at its earliest step (every cycle has one: groups only wait for steps). */
  private closedCycle(members: readonly number[]): string[] {
    const start = members.indexOf(Math.min(...members));
    const rotated = [...members.slice(start), ...members.slice(0, start)];
    return this.idsOf([...rotated, rotated[0]!]);
  }

  /** Kahn's algorithm; nodes it cannot reach are on or behind a cycle. */
  private sort(): Sorted {
    if (this.sorted) return this.sorted;
    const waitingFor = this.dependencies.map((dependencies) => dependencies.length);
    const order: number[] = [];
    waitingFor.forEach((count, node) => {
      if (count === 0) order.push(node);
    });
    for (let head = 0; head < order.length; head++) {
      for (const dependant of this.dependants[order[head]!]!) {
        waitingFor[dependant]! -= 1;
        if (waitingFor[dependant] === 0) order.push(dependant);
      }
    }
    this.sorted = { order, blocked: waitingFor.map((count) => count > 0) };
    return this.sorted;
  }

  /** A node's row is its dependencies' bits and rows OR-ed together, built in topological order. */
  private reach(): Reachability {
    if (this.reachability) return this.reachability;
    const words = (this.ids.length + 31) >>> 5;
    const bits = new Uint32Array(this.ids.length * words);
    for (const node of this.sort().order) {
      const row = node * words;
      for (const dependency of this.dependencies[node]!) {
        bits[row + (dependency >>> 5)]! |= 1 << (dependency & 31);
        const dependencyRow = dependency * words;
        for (let word = 0; word < words; word++) bits[row + word]! |= bits[dependencyRow + word]!;
      }
    }
    this.reachability = { words, bits };
    return this.reachability;
  }
}

/** Index of the lowest bit set in both `bits[offset…]` and `mask`. */
function firstSetBit(bits: Uint32Array, offset: number, mask: Uint32Array): number | undefined {
  for (let word = 0; word < mask.length; word++) {
    const both = bits[offset + word]! & mask[word]!;
    if (both !== 0) return word * 32 + (31 - Math.clz32(both & -both));
  }
  return undefined;
}

/** Graphs by spec; specs are treated as immutable once parsed, so a graph never goes stale. */
const graphs = new WeakMap<Spec, SpecGraph>();

export function graphOf(spec: Spec): SpecGraph {
  let graph = graphs.get(spec);
  if (!graph) {
    graph = new SpecGraph(spec);
    graphs.set(spec, graph);
  }
  return graph;
}

/** Step ids, each after every step it waits for; throws `DependencyCycleError` if there is a cycle. */
export function topologicalOrder(spec: Spec): string[] {
  return graphOf(spec).topologicalOrder();
}

/** One dependency cycle of `spec`, as ids where each depends on the next, closed; undefined if acyclic. */
export function findCycle(spec: Spec): string[] | undefined {
  return graphOf(spec).findCycle();
}
