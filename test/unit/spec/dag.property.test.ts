import fc from 'fast-check';
import { SpecSchema, findCycle, topologicalOrder, validateSpec, type Spec, type SpecInput } from '../../../workflows/spec';
import { group, issuesOf, spec, step } from './builders';

/**
 * Properties of the DAG checks, on specs generated valid by construction: every step has a layer, and
 * depends only on steps and groups of lower layers; a group's members share a layer. So there is no
 * cycle, and no member of a group can wait for another.
 */

const RUNS = { seed: 42, numRuns: 200 };

interface RandomDag {
  readonly input: SpecInput;
  /** Step ids in spec order. */
  readonly stepIds: readonly string[];
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const randomDag: fc.Arbitrary<RandomDag> = fc
  .integer({ min: 1, max: 40 })
  .chain((n) =>
    fc.record({
      layers: fc.array(fc.nat({ max: 5 }), { minLength: n, maxLength: n }),
      picks: fc.array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: n, maxLength: n }),
      groupSizes: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 6 }),
      listing: fc.shuffledSubarray(range(n), { minLength: n, maxLength: n }),
    }),
  )
  .map(buildDag);

function buildDag({ layers, picks, groupSizes, listing }: { layers: number[]; picks: number[][]; groupSizes: number[]; listing: number[] }): RandomDag {
  const stepId = (i: number) => `s${i}`;
  const layerOf = new Map<string, number>(layers.map((layer, i) => [stepId(i), layer]));

  // Groups take consecutive free steps of one layer, cycling through the layers in use.
  const byLayer = [...new Set(layers)].sort().map((layer) => range(layers.length).filter((i) => layers[i] === layer));
  const groups: { id: string; steps: string[] }[] = [];
  groupSizes.forEach((size, g) => {
    const bucket = byLayer[g % byLayer.length]!;
    const members = bucket.splice(0, size).map(stepId);
    if (members.length === 0) return;
    groups.push({ id: `g${g}`, steps: members });
    layerOf.set(`g${g}`, layerOf.get(members[0]!)!);
  });

  const steps = range(layers.length).map((i) => {
    const candidates = [...layerOf.keys()].filter((id) => layerOf.get(id)! < layers[i]!);
    const dependsOn = candidates.length === 0 ? [] : [...new Set(picks[i]!.map((pick) => candidates[pick % candidates.length]!))];
    // Read the first dependency's output (a group's: its first member's), which is always an ancestor.
    const read = dependsOn[0] && (groups.find((g) => g.id === dependsOn[0])?.steps[0] ?? dependsOn[0]);
    return step(stepId(i), { dependsOn, ...(read ? { when: `$exists(steps.${read}.output) or true` } : {}) });
  });

  const listed = listing.map((i) => steps[i]!);
  return { input: spec(listed, groups.map((g) => group(g.id, g.steps))), stepIds: listed.map((s) => s.id) };
}

/** What each node waits for directly: a step its `dependsOn`, a group its members. */
function directDependencies(parsed: Spec): Map<string, string[]> {
  return new Map([
    ...parsed.steps.map((s) => [s.id, s.dependsOn] as [string, string[]]),
    ...parsed.groups.map((g) => [g.id, g.steps] as [string, string[]]),
  ]);
}

/** An oracle independent of the code under test: depth-first search over direct dependencies. */
function ancestors(parsed: Spec, id: string): Set<string> {
  const dependencies = directDependencies(parsed);
  const seen = new Set<string>();
  const pending = [...(dependencies.get(id) ?? [])];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    pending.push(...(dependencies.get(next) ?? []));
  }
  return seen;
}

function isRealCycle(parsed: Spec, cycle: readonly string[]): boolean {
  const dependencies = directDependencies(parsed);
  return (
    cycle.length >= 2 &&
    cycle[0] === cycle[cycle.length - 1] &&
    cycle.slice(0, -1).every((id, i) => dependencies.get(id)?.includes(cycle[i + 1]!) ?? false)
  );
}

describe('DAG properties', () => {
  it('accepts every DAG built acyclic, and orders each step after everything it waits for', () => {
    fc.assert(
      fc.property(randomDag, ({ input, stepIds }) => {
        const result = validateSpec(input);
        expect(result.ok ? [] : result.issues).toEqual([]);
        if (!result.ok) return;
        const order = topologicalOrder(result.spec);
        expect([...order].sort()).toEqual([...stepIds].sort());
        const position = new Map(order.map((id, i) => [id, i]));
        for (const id of stepIds) {
          for (const ancestor of ancestors(result.spec, id)) {
            if (position.has(ancestor)) expect(position.get(ancestor)!).toBeLessThan(position.get(id)!);
          }
        }
      }),
      RUNS,
    );
  });

  it('rejects a DAG given a back edge, with a cycle whose ids form a real cycle', () => {
    const withBackEdge = randomDag
      .filter(({ input }) => input.steps.some((s) => (s.dependsOn ?? []).length > 0))
      .chain((dag) => fc.record({ dag: fc.constant(dag), from: fc.nat(), depth: fc.nat({ max: 5 }), pick: fc.nat() }));

    fc.assert(
      fc.property(withBackEdge, ({ dag, from, depth, pick }) => {
        const parsed = SpecSchema.parse(dag.input);
        const withDependencies = parsed.steps.filter((s) => s.dependsOn.length > 0);
        const start = withDependencies[from % withDependencies.length]!;
        // Walk down from `start` to one of its ancestor steps, then make that ancestor depend on `start`.
        const dependencies = directDependencies(parsed);
        let ancestor = start.id;
        for (let i = 0; i <= depth; i++) {
          const steps = (dependencies.get(ancestor) ?? []).flatMap((id) => (parsed.groups.some((g) => g.id === id) ? dependencies.get(id)! : [id]));
          if (steps.length === 0) break;
          ancestor = steps[(pick + i) % steps.length]!;
        }
        const input = {
          ...dag.input,
          steps: dag.input.steps.map((s) => (s.id === ancestor ? { ...s, dependsOn: [...(s.dependsOn ?? []), start.id] } : s)),
        };

        const cycleIssues = issuesOf(input).filter((issue) => issue.message.includes('dependency cycle: '));
        expect(cycleIssues.length).toBeGreaterThan(0);
        const modified = SpecSchema.parse(input);
        for (const issue of cycleIssues) {
          const listed = /dependency cycle:? (.*?)(?: \(each depends|$)/.exec(issue.message)![1]!.split(' → ');
          expect(isRealCycle(modified, listed)).toBe(true);
        }
        expect(isRealCycle(modified, findCycle(modified)!)).toBe(true);
      }),
      RUNS,
    );
  });

  it('reports every reference to an unknown id, naming the step and the id', () => {
    const unknownId = fc.stringMatching(/^x[A-Za-z0-9_-]{0,10}$/);
    const withUnknown = randomDag.chain((dag) =>
      fc.record({
        dag: fc.constant(dag),
        additions: fc.array(fc.record({ at: fc.nat(), id: unknownId, inWhen: fc.boolean() }), { minLength: 1, maxLength: 5 }),
      }),
    );

    fc.assert(
      fc.property(withUnknown, ({ dag, additions }) => {
        const steps = dag.input.steps.map((s) => ({ ...s, dependsOn: [...(s.dependsOn ?? [])] }));
        const expected: { path: (string | number)[]; message: string }[] = [];
        for (const { at, id, inWhen } of additions) {
          const index = at % steps.length;
          const target = steps[index]!;
          if (inWhen) {
            if (expected.some((e) => e.path.join() === ['steps', index, 'when'].join())) continue;
            target.when = `steps.\`${id}\`.status = "succeeded"`;
            expected.push({ path: ['steps', index, 'when'], message: `step "${target.id}": when: reads steps.${id}, but there is no step "${id}"` });
          } else {
            target.dependsOn.push(id);
            expected.push({
              path: ['steps', index, 'dependsOn', target.dependsOn.length - 1],
              message: `step "${target.id}": dependsOn references unknown step or group "${id}"`,
            });
          }
        }
        const issues = issuesOf({ ...dag.input, steps });
        for (const issue of expected) expect(issues).toContainEqual(expect.objectContaining(issue));
      }),
      RUNS,
    );
  });

  it('accepts reading a step exactly when it is an ancestor', () => {
    const withRead = randomDag.chain((dag) => fc.record({ dag: fc.constant(dag), reader: fc.nat(), read: fc.nat() }));

    fc.assert(
      fc.property(withRead, ({ dag, reader, read }) => {
        const parsed = SpecSchema.parse(dag.input);
        const readerIndex = reader % parsed.steps.length;
        const readerId = parsed.steps[readerIndex]!.id;
        const readId = parsed.steps[read % parsed.steps.length]!.id;
        const input = {
          ...dag.input,
          steps: dag.input.steps.map((s) => (s.id === readerId ? { ...s, when: `steps.${readId}.status = "succeeded"` } : s)),
        };
        const result = validateSpec(input);
        if (ancestors(parsed, readerId).has(readId)) {
          expect(result.ok ? [] : result.issues).toEqual([]);
        } else {
          expect(result.ok ? [] : result.issues.map((issue) => [issue.path, issue.stepId])).toEqual([[['steps', readerIndex, 'when'], readerId]]);
        }
      }),
      RUNS,
    );
  });

  it('on any graph, finds a real cycle, or else orders every step after its dependencies', () => {
    const anyGraph = fc.integer({ min: 1, max: 25 }).chain((n) =>
      fc.array(fc.uniqueArray(fc.nat({ max: n - 1 }), { maxLength: 3 }), { minLength: n, maxLength: n }),
    );

    fc.assert(
      fc.property(anyGraph, (dependencies) => {
        const parsed = SpecSchema.parse(spec(dependencies.map((deps, i) => step(`s${i}`, { dependsOn: deps.map((d) => `s${d}`) }))));
        const cycle = findCycle(parsed);
        if (cycle) {
          expect(isRealCycle(parsed, cycle)).toBe(true);
          expect(() => topologicalOrder(parsed)).toThrow('dependency cycle');
          return;
        }
        const position = new Map(topologicalOrder(parsed).map((id, i) => [id, i]));
        expect(position.size).toBe(parsed.steps.length);
        for (const s of parsed.steps) for (const d of s.dependsOn) expect(position.get(d)!).toBeLessThan(position.get(s.id)!);
      }),
      RUNS,
    );
  });
});
