import { validateSpec, type SpecInput, type SpecIssue } from '../../../workflows/spec';

type StepInput = SpecInput['steps'][number];
type GroupInput = NonNullable<SpecInput['groups']>[number];

/** A noop step: the type with the most permissive `with`, so tests only see the issues they provoke. */
export function step(id: string, fields: Partial<StepInput> = {}): StepInput {
  return { id, type: 'noop', ...fields };
}

export function group(id: string, steps: string[], fields: Partial<GroupInput> = {}): GroupInput {
  return { id, steps, ...fields };
}

export function spec(steps: StepInput[], groups: GroupInput[] = []): SpecInput {
  return { steps, groups };
}

/** The issues of a spec that must be rejected. */
export function issuesOf(input: unknown): SpecIssue[] {
  const result = validateSpec(input);
  if (result.ok) throw new Error('expected the spec to be rejected, but it was accepted');
  return result.issues;
}

/** Fails with the issues in the message when a spec that should pass does not. */
export function expectAccepted(input: unknown): void {
  const result = validateSpec(input);
  expect(result.ok ? [] : result.issues).toEqual([]);
}

/** A chain s0 ← s1 ← … ← s(n-1), each step depending on the one before. */
export function linearSpec(length: number, fields: (i: number) => Partial<StepInput> = () => ({})): SpecInput {
  return spec(
    Array.from({ length }, (_, i) => step(`s${i}`, { ...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}), ...fields(i) })),
  );
}
