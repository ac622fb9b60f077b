import {
  DependencyCycleError,
  SpecGraph,
  SpecSchema,
  UnknownNodeError,
  findCycle,
  graphOf,
  topologicalOrder,
  type Spec,
  type SpecInput,
} from '../../../workflows/spec';
import { group, spec, step } from './builders';

const parse = (input: SpecInput): Spec => SpecSchema.parse(input);

/** deploy waits for the group "checks" (lint, test), which both wait for build; notify waits for deploy. */
const pipeline = parse(
  spec(
    [
      step('notify', { dependsOn: ['deploy'] }),
      step('deploy', { dependsOn: ['checks'] }),
      step('lint', { dependsOn: ['build'] }),
      step('test', { dependsOn: ['build'] }),
      step('build'),
    ],
    [group('checks', ['lint', 'test'])],
  ),
);

describe('topologicalOrder', () => {
  it('puts every step after what it waits for, through groups too', () => {
    expect(topologicalOrder(pipeline)).toEqual(['build', 'lint', 'test', 'deploy', 'notify']);
  });

  it('keeps the spec order among steps that do not depend on each other', () => {
    expect(topologicalOrder(parse(spec([step('c'), step('a'), step('b')])))).toEqual(['c', 'a', 'b']);
  });

  it('throws a DependencyCycleError carrying the cycle', () => {
    const cyclic = parse(spec([step('a', { dependsOn: ['b'] }), step('b', { dependsOn: ['a'] })]));
    expect(() => topologicalOrder(cyclic)).toThrow(DependencyCycleError);
    expect(() => topologicalOrder(cyclic)).toThrow('dependency cycle: a → b → a');
  });
});

describe('findCycle', () => {
  it('is undefined for an acyclic spec', () => {
    expect(findCycle(pipeline)).toBeUndefined();
  });

  it('returns the cycle closed, starting at its first step, each id depending on the next', () => {
    const cyclic = parse(
      spec([step('entry', { dependsOn: ['y'] }), step('x', { dependsOn: ['z'] }), step('y', { dependsOn: ['x'] }), step('z', { dependsOn: ['y'] })]),
    );
    expect(findCycle(cyclic)).toEqual(['x', 'z', 'y', 'x']);
  });

  it('finds a cycle that passes through a group', () => {
    const cyclic = parse(spec([step('a', { dependsOn: ['later'] }), step('later', { dependsOn: ['g'] })], [group('g', ['a'])]));
    expect(findCycle(cyclic)).toEqual(['a', 'later', 'g', 'a']);
  });

  it('finds a self-dependency', () => {
    expect(findCycle(parse(spec([step('a', { dependsOn: ['a'] })])))).toEqual(['a', 'a']);
  });
});

describe('SpecGraph', () => {
  const graph = graphOf(pipeline);

  it('knows steps from groups', () => {
    expect([graph.isStep('build'), graph.isGroup('build'), graph.isGroup('checks'), graph.has('nope')]).toEqual([true, false, true, false]);
  });

  it('gives the direct dependencies and dependants of steps and groups', () => {
    expect(graph.dependenciesOf('deploy')).toEqual(['checks']);
    expect(graph.dependenciesOf('checks')).toEqual(['lint', 'test']);
    expect(graph.dependantsOf('build')).toEqual(['lint', 'test']);
    expect(graph.dependantsOf('lint')).toEqual(['checks']);
    expect(graph.dependantsOf('checks')).toEqual(['deploy']);
    expect(graph.dependantsOf('notify')).toEqual([]);
  });

  it('gives the group of a step', () => {
    expect(graph.groupOf('lint')).toBe('checks');
    expect(graph.groupOf('build')).toBeUndefined();
  });

  it('gives every ancestor, steps and groups', () => {
    expect(graph.ancestorsOf('notify')).toEqual(new Set(['deploy', 'checks', 'lint', 'test', 'build']));
    expect(graph.ancestorsOf('build')).toEqual(new Set());
  });

  it('answers whether one node waits for another', () => {
    expect(graph.isAncestor('build', 'notify')).toBe(true);
    expect(graph.isAncestor('test', 'deploy')).toBe(true);
    expect(graph.isAncestor('notify', 'build')).toBe(false);
    expect(graph.isAncestor('lint', 'test')).toBe(false);
    expect(graph.isAncestor('deploy', 'deploy')).toBe(false);
  });

  it('answers for nodes on a cycle too', () => {
    const cyclic = new SpecGraph(parse(spec([step('a', { dependsOn: ['b'] }), step('b', { dependsOn: ['a'] }), step('c', { dependsOn: ['a'] })])));
    expect(cyclic.isAncestor('a', 'a')).toBe(true);
    expect(cyclic.isAncestor('b', 'c')).toBe(true);
    expect(cyclic.isAncestor('c', 'a')).toBe(false);
  });

  it('finds, among some nodes, those waiting for another of them', () => {
    const input = parse(spec([step('a'), step('b', { dependsOn: ['a'] }), step('c', { dependsOn: ['b'] }), step('d')]));
    expect(graphOf(input).ancestorsWithin(['c', 'a', 'd', 'b'])).toEqual(new Map([['c', 'a'], ['b', 'a']]));
  });

  it('throws an UnknownNodeError for an id it does not know', () => {
    expect(() => graph.dependantsOf('ghost')).toThrow(UnknownNodeError);
    expect(() => graph.isAncestor('build', 'ghost')).toThrow('no step or group "ghost" in the spec');
  });

  it('reports nodes stuck on and behind cycles', () => {
    const cyclic = new SpecGraph(
      parse(spec([step('a', { dependsOn: ['b'] }), step('b', { dependsOn: ['a'] }), step('c', { dependsOn: ['g'] }), step('d')], [group('g', ['b', 'd'])])),
    );
    const { cycles, waitingOnCycle } = cyclic.blockedNodes();
    expect(cycles).toEqual([['a', 'b', 'a']]);
    expect(waitingOnCycle).toEqual(new Map([['c', 0], ['g', 0]]));
  });

  it('is built once per spec', () => {
    expect(graphOf(pipeline)).toBe(graph);
  });
});
