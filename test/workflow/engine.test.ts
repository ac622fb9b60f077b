import { decisionRefusal, type RunState, type StepState } from '../../workflows/contract';
import { approvalOutcome, approverRuleOf, recordDecision } from '../../workflows/engine/approvals';
import { activityIdFor, stepActivityOptions } from '../../workflows/engine/activity-options';
import { maxStepsInFlight } from '../../workflows/engine/admission';
import { stepIdOfActivity } from '../../workflows/engine/step-activity';
import { dependenciesVerdict, groupOutcome, RunGraph } from '../../workflows/engine/graph';
import { SpecSchema, type SpecInput } from '../../workflows/spec/schema';
import { runStartOptions } from '../../apps/common/run-start-options';
import { ApprovalWithSchema } from '../../workflows/spec/step-types';

/** The engine's pure parts, without a server. */

function stateOf(statuses: Record<string, Partial<StepState>>, held: string[] = []): RunState {
  const steps = Object.fromEntries(
    Object.entries(statuses).map(([id, step]) => [id, { id, type: 'noop', status: 'pending', attempts: 0, ...step } as StepState]),
  );
  return { status: 'running', paused: false, held, steps, startedAt: new Date(0).toISOString() };
}

const spec: SpecInput = {
  steps: [
    { id: 'a', type: 'noop' },
    { id: 'b', type: 'noop' },
    { id: 'c', type: 'noop', dependsOn: ['a', 'b'] },
    { id: 'd', type: 'noop', dependsOn: ['g'] },
  ],
  groups: [{ id: 'g', steps: ['a', 'b'], join: 'failFast' }],
};
const graph = new RunGraph(SpecSchema.parse(spec));
const stepC = graph.steps.get('c')!;
const stepD = graph.steps.get('d')!;

describe('dependency verdicts', () => {
  test('succeeded and deliberately skipped dependencies satisfy', () => {
    const state = stateOf({ a: { status: 'succeeded' }, b: { status: 'skipped', skipReason: 'condition' } });
    expect(dependenciesVerdict(stepC, graph, state)).toBe('satisfied');
  });
  test('failed, cancelled and upstream-skipped dependencies block', () => {
    for (const b of [{ status: 'failed' }, { status: 'cancelled' }, { status: 'skipped', skipReason: 'upstream' }] as const) {
      expect(dependenciesVerdict(stepC, graph, stateOf({ a: { status: 'succeeded' }, b }))).toBe('blocked');
    }
  });
  test('a held dependency keeps its dependants waiting', () => {
    expect(dependenciesVerdict(stepC, graph, stateOf({ a: { status: 'succeeded' }, b: { status: 'failed' } }, ['b']))).toBe('waiting');
  });
  test('a group dependency follows the group outcome', () => {
    expect(dependenciesVerdict(stepD, graph, stateOf({ a: { status: 'running' }, b: { status: 'failed' } }))).toBe('blocked');
    expect(dependenciesVerdict(stepD, graph, stateOf({ a: { status: 'running' }, b: { status: 'succeeded' } }))).toBe('waiting');
    expect(dependenciesVerdict(stepD, graph, stateOf({ a: { status: 'succeeded' }, b: { status: 'succeeded' } }))).toBe('satisfied');
  });
});

describe('group outcomes', () => {
  const group = (join: 'all' | 'any' | 'failFast') => ({ id: 'g', steps: ['a', 'b'], join });
  test('any succeeds with its first success, fails when none succeeded', () => {
    expect(groupOutcome(group('any'), stateOf({ a: { status: 'succeeded' }, b: { status: 'running' } }))).toBe('succeeded');
    expect(groupOutcome(group('any'), stateOf({ a: { status: 'failed' }, b: { status: 'running' } }))).toBeUndefined();
    expect(groupOutcome(group('any'), stateOf({ a: { status: 'failed' }, b: { status: 'cancelled' } }))).toBe('failed');
  });
  test('failFast fails with its first failure; all waits for every member', () => {
    expect(groupOutcome(group('failFast'), stateOf({ a: { status: 'failed' }, b: { status: 'running' } }))).toBe('failed');
    expect(groupOutcome(group('all'), stateOf({ a: { status: 'failed' }, b: { status: 'running' } }))).toBeUndefined();
    expect(groupOutcome(group('all'), stateOf({ a: { status: 'failed' }, b: { status: 'succeeded' } }))).toBe('failed');
    expect(groupOutcome(group('all'), stateOf({ a: { status: 'skipped', skipReason: 'condition' }, b: { status: 'succeeded' } }))).toBe('succeeded');
  });
});

describe('approval decisions', () => {
  const approval = approverRuleOf(ApprovalWithSchema.parse({ approvers: { users: ['bob'], roles: ['ops'] }, required: 2, allowSelfApproval: false, requireRejectReason: true }));
  const command = (subject: string, roles: string[] = [], comment?: string) => ({ stepId: 's', actor: { subject, roles }, comment });

  test('named users and role holders may decide; others are Forbidden', () => {
    expect(decisionRefusal('approved', command('bob'), approval, 'alice')).toBeUndefined();
    expect(decisionRefusal('approved', command('carol', ['ops']), approval, 'alice')).toBeUndefined();
    expect(decisionRefusal('approved', command('mallory', ['sales']), approval, 'alice')?.type).toBe('Forbidden');
  });
  test('self-approval is Forbidden when not allowed; a rejection without reason is Invalid', () => {
    expect(decisionRefusal('approved', command('bob'), approval, 'bob')?.type).toBe('Forbidden');
    expect(decisionRefusal('rejected', command('bob'), approval, 'alice')?.type).toBe('Invalid');
    expect(decisionRefusal('rejected', command('bob', [], 'broken'), approval, 'alice')).toBeUndefined();
  });
  test('self-approval is off unless the step allows it', () => {
    const byDefault = ApprovalWithSchema.parse({ approvers: { users: ['bob'] } });
    expect(byDefault.allowSelfApproval).toBe(false);
    expect(decisionRefusal('approved', command('bob'), approverRuleOf(byDefault), 'bob')?.type).toBe('Forbidden');
    const allowed = ApprovalWithSchema.parse({ approvers: { users: ['bob'] }, allowSelfApproval: true });
    expect(decisionRefusal('approved', command('bob'), approverRuleOf(allowed), 'bob')).toBeUndefined();
  });
  test('a quorum of distinct approvers approves, one rejection rejects, repeats count once', () => {
    const step: StepState = { id: 's', type: 'approval', status: 'waiting_approval', attempts: 1 };
    recordDecision(step, { decision: 'approved', by: 'bob', at: 't1' });
    recordDecision(step, { decision: 'approved', by: 'bob', at: 't2' });
    expect(step.approvals).toHaveLength(1);
    expect(approvalOutcome(step.approvals!, 2)).toBeUndefined();
    recordDecision(step, { decision: 'approved', by: 'carol', at: 't3' });
    expect(approvalOutcome(step.approvals!, 2)).toBe('approved');
    expect(approvalOutcome([{ decision: 'rejected', by: 'x', at: 't' }], 1)).toBe('rejected');
  });
});

describe('steps in flight', () => {
  test('the cap is what the input says, within the 2,000 pending activities Temporal allows, else the default', () => {
    expect(maxStepsInFlight(undefined)).toBe(500);
    expect(maxStepsInFlight({ maxStepsInFlight: 200 })).toBe(200);
    expect(maxStepsInFlight({ maxStepsInFlight: 5000 })).toBe(2000);
    for (const nonsense of [0, -3, 1.5, Number.NaN]) expect(maxStepsInFlight({ maxStepsInFlight: nonsense })).toBe(500);
  });
});

describe('activity options', () => {
  test('map the spec retry policy and timeout, defaulting to three attempts', () => {
    const [withRetry, withoutRetry] = SpecSchema.parse({
      steps: [
        { id: 'x', type: 'http', with: {}, timeout: '10s', retry: { maxAttempts: 5, initialInterval: '2s', backoffCoefficient: 3, maxInterval: '1m', nonRetryableErrors: ['HttpTimeout'] } },
        { id: 'y', type: 'noop' },
      ],
    }).steps;
    expect(stepActivityOptions(withRetry!, 2)).toMatchObject({
      activityId: 'x#2',
      startToCloseTimeout: '10s',
      heartbeatTimeout: '20s',
      cancellationType: 'WAIT_CANCELLATION_COMPLETED',
      retry: { maximumAttempts: 5, initialInterval: '2s', backoffCoefficient: 3, maximumInterval: '1m', nonRetryableErrorTypes: ['HttpTimeout'] },
    });
    expect(stepActivityOptions(withoutRetry!, 1)).toMatchObject({
      activityId: 'y',
      heartbeatTimeout: undefined,
      retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2 },
    });
  });
  test('activity ids name their step', () => {
    expect(stepIdOfActivity(activityIdFor('deploy', 1))).toBe('deploy');
    expect(stepIdOfActivity(activityIdFor('deploy', 3))).toBe('deploy');
  });
});

describe('run start options', () => {
  test('carry search attributes, memo, a summary within 200 bytes and the steps as details', () => {
    const input = {
      templateId: 'tpl-9',
      templateName: 'déploiement '.repeat(30),
      templateVersion: 4,
      startedBy: 'alice',
      inputs: {},
      spec: SpecSchema.parse({ steps: [{ id: 'a', type: 'noop' }, { id: 'b', type: 'noop', name: 'Second', dependsOn: ['a'] }] }),
    };
    const options = runStartOptions(input, { workflowId: 'run-1', taskQueue: 'q' });
    expect(options).toMatchObject({ args: [input], workflowId: 'run-1', taskQueue: 'q', memo: { templateVersion: 4, startedBy: 'alice' } });
    expect(options.typedSearchAttributes).toEqual([
      expect.objectContaining({ value: 'tpl-9' }),
      expect.objectContaining({ value: 4 }),
      expect.objectContaining({ value: 'running' }),
      expect.objectContaining({ value: 'alice' }),
    ]);
    expect(new TextEncoder().encode(options.staticSummary!).length).toBeLessThanOrEqual(200);
    expect(options.staticSummary!.endsWith('…')).toBe(true);
    expect(options.staticDetails).toContain('- `b` (noop) Second after `a`');
  });
});
