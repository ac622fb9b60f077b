import type { SpecInput } from '../workflows/spec/schema';

/** The specs the benchmark runs; deterministic by construction (no randomness). */
export function linearNoopSpec(steps: number): SpecInput {
  return {
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `s${i}`,
      type: 'noop' as const,
      dependsOn: i === 0 ? [] : [`s${i - 1}`],
    })),
  };
}

/** `width` independent noop steps, in no group: as wide as a run gets, held to the engine's cap on steps in flight. */
export function wideNoopSpec(width: number): SpecInput {
  return { steps: Array.from({ length: width }, (_, i) => ({ id: `w${i}`, type: 'noop' as const })) };
}

export function fanOutSpec(width: number): SpecInput {
  const steps = Array.from({ length: width }, (_, i) => ({ id: `b${i}`, type: 'noop' as const }));
  return { steps, groups: [{ id: 'fan', steps: steps.map((s) => s.id), join: 'all' as const }] };
}

export function approvalThenNoopSpec(approver: string): SpecInput {
  return {
    steps: [
      { id: 'approve', type: 'approval', with: { approvers: { users: [approver] }, required: 1 } },
      { id: 'next', type: 'noop', dependsOn: ['approve'] },
    ],
  };
}

export function approvalOnlySpec(approver: string): SpecInput {
  return { steps: [{ id: 'approve', type: 'approval', with: { approvers: { users: [approver] } } }] };
}

/** The concurrency of the forEach scenario, in the engine's spec and in the hand-written workflow. */
export const FOR_EACH_BENCH_CONCURRENCY = 50;

/** One noop step run once per item of a list of `count` numbers, each returning its index. */
export function forEachNoopSpec(count: number, concurrency: number): SpecInput {
  return {
    steps: [{ id: 'each', type: 'noop', forEach: { items: `[0..${count - 1}]`, concurrency }, with: { output: '{{ index }}' } }],
  };
}
