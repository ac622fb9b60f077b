import {
  MAX_ISSUES,
  MAX_SPEC_BYTES,
  SpecValidationError,
  parseSpecOrThrow,
  validateSpec,
} from '../../../workflows/spec';
import { expectAccepted, group, issuesOf, linearSpec, spec, step } from './builders';

describe('validateSpec: success', () => {
  it('returns the parsed spec with defaults applied', () => {
    const result = validateSpec(spec([step('build'), step('deploy', { dependsOn: ['build'] })]));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.groups).toEqual([]);
    expect(result.spec.inputs).toEqual({ type: 'object' });
    expect(result.spec.steps[0]).toMatchObject({ id: 'build', with: {}, dependsOn: [], onError: 'fail' });
  });

  it('accepts a 1,000-step linear spec whose steps read the previous step', () => {
    expectAccepted(
      linearSpec(1000, (i) =>
        i === 0 ? {} : { when: `steps.s${i - 1}.status = "succeeded"`, with: { output: `{{ steps.s${i - 1}.output }}` } },
      ),
    );
  });

  it('lets a step read steps it waits for through a group or a chain', () => {
    expectAccepted(
      spec(
        [
          step('a'),
          step('b', { dependsOn: ['a'] }),
          step('c', { dependsOn: ['a'] }),
          step('d', { dependsOn: ['fanout'], when: 'steps.b.status = "succeeded" and steps.a.output.ok' }),
          step('e', { dependsOn: ['d'], with: { output: { deep: ['{{ steps.c.output }}', 'from {{ steps.a.status }}'] } } }),
        ],
        [group('fanout', ['b', 'c'], { join: 'any' })],
      ),
    );
  });
});

describe('validateSpec: size', () => {
  /** A spec whose JSON is exactly `bytes` long when `unit` is one UTF-8 byte long. */
  function specOfSize(bytes: number, unit: string): unknown {
    const empty = JSON.stringify(spec([step('a', { with: { output: '' } })])).length;
    const units = Math.ceil((bytes - empty) / new TextEncoder().encode(unit).length);
    return spec([step('a', { with: { output: unit.repeat(units) } })]);
  }

  it('accepts a spec of exactly MAX_SPEC_BYTES', () => {
    expectAccepted(specOfSize(MAX_SPEC_BYTES, 'x'));
  });

  it('rejects a spec one byte over, with that single issue', () => {
    const issues = issuesOf(specOfSize(MAX_SPEC_BYTES + 1, 'x'));
    expect(issues).toEqual([{ path: [], message: expect.stringMatching(/1048577 bytes .* at most 1048576/) }]);
  });

  it.each([
    ['two-byte', 'é'],
    ['three-byte', '€'],
    ['four-byte (surrogate pair)', '😀'],
  ])('counts %s characters in UTF-8, not in code units', (_, unit) => {
    const input = specOfSize(MAX_SPEC_BYTES + 4, unit);
    expect(JSON.stringify(input).length).toBeLessThan(MAX_SPEC_BYTES);
    expect(issuesOf(input)[0]!.message).toMatch(/bytes of JSON/);
  });

  it('rejects input that is not JSON instead of throwing', () => {
    const circular: Record<string, unknown> = { steps: [] };
    circular.self = circular;
    expect(issuesOf(circular)).toEqual([{ path: [], message: expect.stringMatching(/^the spec is not JSON/) }]);
  });
});

describe('validateSpec: schema issues', () => {
  it('names the step and the field for an issue inside a step', () => {
    const issues = issuesOf(spec([step('build'), { id: 'deploy', type: 'telnet' } as never]));
    expect(issues).toEqual([
      { path: ['steps', 1, 'type'], stepId: 'deploy', message: expect.stringMatching(/^step "deploy": type: Invalid option/) },
    ]);
  });

  it('names the step for an unknown key on it', () => {
    const [issue] = issuesOf(spec([step('build', { retires: 3 } as never)]));
    expect(issue).toEqual({ path: ['steps', 0], stepId: 'build', message: expect.stringMatching(/^step "build": Unrecognized key: "retires"/) });
  });

  it('names a step by position when it has no usable id', () => {
    const [issue] = issuesOf({ steps: [{ type: 'noop' }] });
    expect(issue).toEqual({ path: ['steps', 0, 'id'], message: expect.stringMatching(/^steps\[0\]: id: /) });
  });

  it('names a malformed id as written', () => {
    const [issue] = issuesOf(spec([step('9lives')]));
    expect(issue).toMatchObject({ path: ['steps', 0, 'id'], stepId: '9lives', message: expect.stringMatching(/^step "9lives": id: must start with a letter/) });
  });

  it('formats nested paths inside a step', () => {
    const [issue] = issuesOf(spec([step('a', { dependsOn: ['ok', 'not ok'] })]));
    expect(issue).toMatchObject({ path: ['steps', 0, 'dependsOn', 1], message: expect.stringMatching(/^step "a": dependsOn\[1\]: /) });
  });

  it('names the group for an issue inside a group', () => {
    const [issue] = issuesOf(spec([step('a')], [group('g', [])]));
    expect(issue).toMatchObject({ path: ['groups', 0, 'steps'], message: expect.stringMatching(/^group "g": steps: /) });
    expect(issue!.stepId).toBeUndefined();
  });

  it('reports issues outside steps and groups with their path', () => {
    expect(issuesOf({ steps: [] })[0]).toMatchObject({ path: ['steps'], message: expect.stringMatching(/^steps: /) });
    expect(issuesOf({ ...spec([step('a')]), owner: 'me' })[0]).toMatchObject({ path: [], message: 'Unrecognized key: "owner"' });
  });

  it('reports an empty duration as an issue rather than throwing', () => {
    const [issue] = issuesOf(spec([step('wait', { timeout: '' })]));
    expect(issue).toMatchObject({ path: ['steps', 0, 'timeout'], message: expect.stringMatching(/^step "wait": timeout: must be a positive duration/) });
  });

  it('refuses durations longer than ten years, whose deadlines no date could hold', () => {
    const [issue] = issuesOf({ ...spec([step('a')]), timeout: '300000y' });
    expect(issue).toMatchObject({ path: ['timeout'], message: expect.stringMatching(/^timeout: must be a positive duration of at most ten years/) });
    expect(validateSpec({ ...spec([step('a')]), timeout: '3650d' }).ok).toBe(true);
  });

  it('reports only schema issues when the shape is wrong, since the other checks need well-formed steps', () => {
    const issues = issuesOf(spec([step('a', { dependsOn: ['nowhere'] }), { id: 'b' } as never]));
    expect(issues.map((issue) => issue.path)).toEqual([['steps', 1, 'type']]);
  });
});

describe('validateSpec: ids and groups', () => {
  it('rejects a duplicate step id, naming the step and the first definition', () => {
    const issues = issuesOf(spec([step('build'), step('test'), step('build')]));
    expect(issues).toEqual([{ path: ['steps', 2, 'id'], stepId: 'build', message: 'step "build": id is already used by steps[0]' }]);
  });

  it('rejects a duplicate group id', () => {
    const issues = issuesOf(spec([step('a'), step('b')], [group('g', ['a']), group('g', ['b'])]));
    expect(issues).toEqual([{ path: ['groups', 1, 'id'], message: 'group "g": id is already used by groups[0]' }]);
  });

  it('rejects a group whose id is a step id', () => {
    const issues = issuesOf(spec([step('a'), step('b')], [group('b', ['a'])]));
    expect(issues).toEqual([{ path: ['groups', 0, 'id'], message: 'group "b": id is already used by step "b" (steps[1])' }]);
  });

  it('rejects a step listed in two groups, naming both groups and the step', () => {
    const issues = issuesOf(spec([step('a'), step('b')], [group('g1', ['a']), group('g2', ['b', 'a'])]));
    expect(issues).toEqual([
      {
        path: ['groups', 1, 'steps', 1],
        stepId: 'a',
        message: 'group "g2": step "a" already belongs to group "g1"; a step may be in one group only',
      },
    ]);
  });

  it('rejects a step listed twice in one group', () => {
    const issues = issuesOf(spec([step('a')], [group('g', ['a', 'a'])]));
    expect(issues).toEqual([{ path: ['groups', 0, 'steps', 1], stepId: 'a', message: 'group "g": lists step "a" twice' }]);
  });

  it('rejects a group listing an unknown step', () => {
    const issues = issuesOf(spec([step('a')], [group('g', ['a', 'ghost'])]));
    expect(issues).toEqual([{ path: ['groups', 0, 'steps', 1], message: 'group "g": lists unknown step "ghost"' }]);
  });

  it('rejects a group listing a group', () => {
    const issues = issuesOf(spec([step('a'), step('b')], [group('inner', ['a']), group('outer', ['inner', 'b'])]));
    expect(issues).toEqual([
      { path: ['groups', 1, 'steps', 0], message: 'group "outer": lists "inner", which is a group; groups hold steps only' },
    ]);
  });
});

describe('validateSpec: dependsOn', () => {
  it('rejects a reference to an unknown step or group, naming the step', () => {
    const issues = issuesOf(spec([step('build'), step('deploy', { dependsOn: ['buidl'] })]));
    expect(issues).toEqual([
      { path: ['steps', 1, 'dependsOn', 0], stepId: 'deploy', message: 'step "deploy": dependsOn references unknown step or group "buidl"' },
    ]);
  });

  it('rejects a step depending on itself, once (not again as a cycle)', () => {
    const issues = issuesOf(spec([step('a'), step('loop', { dependsOn: ['a', 'loop'] })]));
    expect(issues).toEqual([{ path: ['steps', 1, 'dependsOn', 1], stepId: 'loop', message: 'step "loop": dependsOn lists the step itself' }]);
  });

  it('rejects a step depending on its own group, once (not again as a cycle)', () => {
    const issues = issuesOf(spec([step('a'), step('b', { dependsOn: ['g'] })], [group('g', ['a', 'b'])]));
    expect(issues).toEqual([
      { path: ['steps', 1, 'dependsOn', 0], stepId: 'b', message: 'step "b": dependsOn lists group "g", which the step belongs to' },
    ]);
  });

  it('accepts depending on another group', () => {
    expectAccepted(spec([step('a'), step('b'), step('c', { dependsOn: ['g'] })], [group('g', ['a', 'b'])]));
  });
});

describe('validateSpec: cycles', () => {
  it('rejects a cycle, listing it from its first step', () => {
    const issues = issuesOf(spec([step('c', { dependsOn: ['a'] }), step('a', { dependsOn: ['b'] }), step('b', { dependsOn: ['c'] })]));
    expect(issues).toEqual([
      { path: ['steps', 0, 'dependsOn'], stepId: 'c', message: 'step "c": is part of a dependency cycle: c → a → b → c (each depends on the next)' },
    ]);
  });

  it('reports a cycle through a group and explains the group link', () => {
    const issues = issuesOf(spec([step('a', { dependsOn: ['after'] }), step('b'), step('after', { dependsOn: ['g'] })], [group('g', ['a', 'b'])]));
    expect(issues).toEqual([
      {
        path: ['steps', 0, 'dependsOn'],
        stepId: 'a',
        message: 'step "a": is part of a dependency cycle: a → after → g → a (each depends on the next; a group depends on its steps)',
      },
    ]);
  });

  it('reports each separate cycle', () => {
    const issues = issuesOf(
      spec([step('a', { dependsOn: ['b'] }), step('b', { dependsOn: ['a'] }), step('x', { dependsOn: ['y'] }), step('y', { dependsOn: ['x'] })]),
    );
    expect(issues.map((issue) => issue.message)).toEqual([
      'step "a": is part of a dependency cycle: a → b → a (each depends on the next)',
      'step "x": is part of a dependency cycle: x → y → x (each depends on the next)',
    ]);
  });

  it('reports the steps that can never start because they wait on a cycle', () => {
    const issues = issuesOf(
      spec([
        step('a', { dependsOn: ['b'] }),
        step('b', { dependsOn: ['a'] }),
        step('behind', { dependsOn: ['b'] }),
        step('further', { dependsOn: ['behind'] }),
        step('free'),
      ]),
    );
    expect(issues).toEqual([
      { path: ['steps', 0, 'dependsOn'], stepId: 'a', message: 'step "a": is part of a dependency cycle: a → b → a (each depends on the next)' },
      {
        path: ['steps', 2, 'dependsOn'],
        stepId: 'behind',
        message: 'step "behind": can never start: it waits, directly or not, on the dependency cycle a → b → a',
      },
      {
        path: ['steps', 3, 'dependsOn'],
        stepId: 'further',
        message: 'step "further": can never start: it waits, directly or not, on the dependency cycle a → b → a',
      },
    ]);
  });
});

describe('validateSpec: groups run their steps in parallel', () => {
  it('rejects a member depending on another member directly', () => {
    const issues = issuesOf(spec([step('a'), step('b', { dependsOn: ['a'] })], [group('g', ['a', 'b'])]));
    expect(issues).toEqual([
      { path: ['steps', 1, 'dependsOn'], stepId: 'b', message: 'step "b": depends on "a", but both are in group "g", whose steps run in parallel' },
    ]);
  });

  it('rejects a member depending on another member through other steps', () => {
    const issues = issuesOf(spec([step('a'), step('between', { dependsOn: ['a'] }), step('b', { dependsOn: ['between'] })], [group('g', ['a', 'b'])]));
    expect(issues).toEqual([
      {
        path: ['steps', 2, 'dependsOn'],
        stepId: 'b',
        message: 'step "b": depends on "a" through its dependencies, but both are in group "g", whose steps run in parallel',
      },
    ]);
  });

  it('accepts members with a shared dependency outside the group', () => {
    expectAccepted(spec([step('setup'), step('a', { dependsOn: ['setup'] }), step('b', { dependsOn: ['setup'] })], [group('g', ['a', 'b'])]));
  });
});

describe('validateSpec: expressions', () => {
  it('rejects a syntax error in when, with the position', () => {
    const [issue] = issuesOf(spec([step('a', { when: 'inputs.env = ' })]));
    expect(issue).toEqual({
      path: ['steps', 0, 'when'],
      stepId: 'a',
      message: 'step "a": when: Invalid expression "inputs.env = ": Unexpected end of expression (position 13)',
    });
  });

  it('rejects a syntax error in a with template, at the path of the string', () => {
    const [issue] = issuesOf(spec([step('a', { with: { output: { list: ['ok', 'x {{ inputs. }}'] } } })]));
    expect(issue).toMatchObject({
      path: ['steps', 0, 'with', 'output', 'list', 1],
      stepId: 'a',
      message: expect.stringMatching(/^step "a": with\.output\.list\[1\]: Invalid expression " inputs\. ": .*\(position \d+\)$/),
    });
  });

  it('rejects a template that is never closed', () => {
    const [issue] = issuesOf(spec([step('a', { with: { output: 'hello {{ inputs.name' } })]));
    expect(issue).toMatchObject({ path: ['steps', 0, 'with', 'output'], message: expect.stringContaining('"{{" is never closed by "}}"') });
  });

  it('rejects a when written as a template', () => {
    const [issue] = issuesOf(spec([step('a', { when: '{{ inputs.go }}' })]));
    expect(issue).toEqual({ path: ['steps', 0, 'when'], stepId: 'a', message: 'step "a": when: takes a bare expression, without "{{ }}"' });
  });

  it('rejects reading an unknown step', () => {
    const [issue] = issuesOf(spec([step('build'), step('deploy', { dependsOn: ['build'], when: 'steps.biuld.status = "succeeded"' })]));
    expect(issue).toEqual({
      path: ['steps', 1, 'when'],
      stepId: 'deploy',
      message: 'step "deploy": when: reads steps.biuld, but there is no step "biuld"',
    });
  });

  it('rejects reading a step that is not an ancestor', () => {
    const issues = issuesOf(spec([step('build'), step('lint'), step('deploy', { dependsOn: ['build'], with: { output: '{{ steps.lint.output }}' } })]));
    expect(issues).toEqual([
      {
        path: ['steps', 2, 'with', 'output'],
        stepId: 'deploy',
        message:
          'step "deploy": with.output: reads steps.lint, but "lint" is not among the steps it depends on (directly or not), so it may not have run yet',
      },
    ]);
  });

  it('rejects reading a step that runs later', () => {
    const issues = issuesOf(spec([step('first', { when: 'steps.second.status = "succeeded"' }), step('second', { dependsOn: ['first'] })]));
    expect(issues.map((issue) => issue.path)).toEqual([['steps', 0, 'when']]);
  });

  it('rejects a step reading its own result', () => {
    const [issue] = issuesOf(spec([step('a', { when: '$exists(steps.a.output)' })]));
    expect(issue!.message).toBe('step "a": when: reads steps.a, its own result, which does not exist before it runs');
  });

  it('ignores `steps` read from a value other than the root', () => {
    expectAccepted(spec([step('a', { when: 'inputs.items[steps.x = 1].(steps.y)' })]));
  });
});

describe('validateSpec: with, per step type', () => {
  it('rejects a with that does not fit the type, at its path', () => {
    const issues = issuesOf(spec([step('call', { type: 'http', with: { url: 'ftp://example.com', retryableStatuses: [200] } })]));
    expect(issues).toEqual([
      { path: ['steps', 0, 'with', 'retryableStatuses', 0], stepId: 'call', message: expect.stringMatching(/^step "call": with\.retryableStatuses\[0\]: /) },
      { path: ['steps', 0, 'with', 'url'], stepId: 'call', message: 'step "call": with.url: must be an http(s) URL' },
    ]);
  });

  it('rejects a missing required field and an unknown one', () => {
    const issues = issuesOf(spec([step('wait', { type: 'delay', with: { duraton: '5m' } })]));
    expect(issues.map((issue) => [issue.path, issue.message])).toEqual([
      [['steps', 0, 'with'], expect.stringMatching(/^step "wait": with: Unrecognized key: "duraton"/)],
      [['steps', 0, 'with', 'duration'], expect.stringMatching(/^step "wait": with\.duration: /)],
    ]);
  });

  it('leaves values that are whole templates to the run', () => {
    expectAccepted(
      spec([
        step('approve', { type: 'approval', with: { approvers: { users: '{{ inputs.approvers }}' }, required: '{{ inputs.quorum }}' } }),
        step('wait', { type: 'delay', with: { duration: ' {{ inputs.pause }} ' } }),
      ]),
    );
  });

  it('leaves the format of mixed templates to the run', () => {
    expectAccepted(spec([step('call', { type: 'http', with: { url: 'https://{{ inputs.host }}/deploy', timeout: '{{ inputs.seconds }}s' } })]));
  });

  it('still rejects a mixed template where a non-string belongs, as it always renders to a string', () => {
    const issues = issuesOf(spec([step('call', { type: 'http', with: { url: 'https://example.com', expectedStatuses: ['2{{ inputs.minor }}'] } })]));
    expect(issues.map((issue) => issue.path)).toEqual([['steps', 0, 'with', 'expectedStatuses', 0]]);
  });

  it('runs the type refinements on literal values', () => {
    const issues = issuesOf(spec([step('approve', { type: 'approval', with: { approvers: { users: ['ann'] }, required: 2 } })]));
    expect(issues).toEqual([
      { path: ['steps', 0, 'with', 'required'], stepId: 'approve', message: 'step "approve": with.required: required approvals exceed the number of named approvers' },
    ]);
  });
});

describe('validateSpec: reporting', () => {
  it('collects every issue, sorted by path', () => {
    const issues = issuesOf(
      spec(
        [
          step('a', { dependsOn: ['nope'], when: 'steps.zz' }),
          step('b', { type: 'delay', with: {} }),
          step('a'),
        ],
        [group('g', ['ghost'])],
      ),
    );
    expect(issues.map((issue) => issue.path)).toEqual([
      ['groups', 0, 'steps', 0],
      ['steps', 0, 'dependsOn', 0],
      ['steps', 0, 'when'],
      ['steps', 1, 'with', 'duration'],
      ['steps', 2, 'id'],
    ]);
  });

  it(`stops at ${MAX_ISSUES} issues and says how many more there were`, () => {
    const issues = issuesOf(spec(Array.from({ length: 150 }, (_, i) => step(`s${i}`, { dependsOn: [`missing${i}`] }))));
    expect(issues).toHaveLength(MAX_ISSUES);
    expect(issues[MAX_ISSUES - 2]!.path).toEqual(['steps', MAX_ISSUES - 2, 'dependsOn', 0]);
    expect(issues[MAX_ISSUES - 1]).toEqual({ path: [], message: `${150 - (MAX_ISSUES - 1)} more issues not shown` });
  });
});

describe('parseSpecOrThrow', () => {
  it('returns the parsed spec', () => {
    expect(parseSpecOrThrow(spec([step('a')])).steps[0]!.dependsOn).toEqual([]);
  });

  it('throws a SpecValidationError carrying the issues', () => {
    const input = spec([step('deploy', { dependsOn: ['buidl', 'nope'] })]);
    let thrown: unknown;
    try {
      parseSpecOrThrow(input);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SpecValidationError);
    const error = thrown as SpecValidationError;
    expect(error.issues).toHaveLength(2);
    expect(error.message).toBe('invalid spec: step "deploy": dependsOn references unknown step or group "buidl" (and 1 more)');
  });
});

describe('validateSpec: forEach', () => {
  it('accepts a list expression reading an upstream step, with item and index in with and when', () => {
    expectAccepted(
      spec([
        step('list', { with: { output: [1, 2] } }),
        step('each', { dependsOn: ['list'], forEach: { items: 'steps.list.output' }, when: 'item > 1', with: { output: '{{ index }}' } }),
      ]),
    );
  });

  it('applies the default concurrency', () => {
    const parsed = parseSpecOrThrow(spec([step('each', { forEach: { items: '[1, 2]' } })]));
    expect(parsed.steps[0]!.forEach).toEqual({ items: '[1, 2]', concurrency: 10 });
  });

  it('rejects items that read a step it does not depend on', () => {
    const [issue] = issuesOf(spec([step('each', { forEach: { items: 'steps.other.output' } }), step('other')]));
    expect(issue).toMatchObject({ path: ['steps', 0, 'forEach', 'items'], stepId: 'each', message: expect.stringContaining('reads steps.other') });
  });

  it('rejects forEach on a step type with no per-item form', () => {
    const [issue] = issuesOf(spec([step('gate', { type: 'approval', with: { approvers: { users: ['bob'] } }, forEach: { items: '[1]' } })]));
    expect(issue).toEqual({
      path: ['steps', 0, 'forEach'],
      stepId: 'gate',
      message: 'step "gate": forEach: approval steps cannot run per item; forEach takes steps of type http, noop',
    });
  });
});

describe('validateSpec: template steps', () => {
  it('accepts a reference by name, with inputs from expressions', () => {
    expectAccepted(spec([step('sub', { type: 'template', with: { template: { name: 'child' }, inputs: { n: '{{ inputs.n }}' } } })]));
  });

  it('rejects a reference holding an expression, and one without a name', () => {
    const [templated] = issuesOf(spec([step('sub', { type: 'template', with: { template: { name: '{{ inputs.which }}' } } })]));
    expect(templated).toMatchObject({ path: ['steps', 0, 'with', 'template'], stepId: 'sub' });
    const [unnamed] = issuesOf(spec([step('sub', { type: 'template', with: { template: {} } })]));
    expect(unnamed).toMatchObject({ path: ['steps', 0, 'with', 'template', 'name'], stepId: 'sub' });
  });
});

describe('validateSpec: notify', () => {
  const approval = { type: 'approval' as const, with: { approvers: { users: ['bob'] } } };

  it('accepts the moments a step can have, and fills in mention defaults', () => {
    const parsed = parseSpecOrThrow(
      spec([
        step('gate', { ...approval, notify: { on: ['approval_requested', 'approval_reminder', 'approval_settled', 'failed', 'succeeded'], channels: ['release'] } }),
        step('deploy', { onError: 'pause', notify: { on: ['held', 'failed'], channels: ['ops', '运维 群'], mention: { roles: ['sre'] } } }),
      ]),
    );
    expect(parsed.steps[1]!.notify).toEqual({ on: ['held', 'failed'], channels: ['ops', '运维 群'], mention: { users: [], roles: ['sre'] } });
  });

  it('rejects approval moments on other steps, and held without onError: pause', () => {
    const issues = issuesOf(spec([step('call', { notify: { on: ['succeeded', 'approval_settled', 'held'], channels: ['ops'] } })]));
    expect(issues).toEqual([
      {
        path: ['steps', 0, 'notify', 'on', 1],
        stepId: 'call',
        message: 'step "call": notify.on: "approval_settled" happens only to approval steps, and this is a noop step',
      },
      {
        path: ['steps', 0, 'notify', 'on', 2],
        stepId: 'call',
        message: 'step "call": notify.on: "held" happens only to steps with onError: pause, and this step has onError: fail',
      },
    ]);
  });

  it('bounds channels, mentions and names', () => {
    const paths = (notify: unknown) => issuesOf(spec([step('s', { notify } as never)])).map((issue) => issue.path);
    expect(paths({ on: ['failed'], channels: ['a', 'b', 'c', 'd', 'e', 'f'] })).toEqual([['steps', 0, 'notify', 'channels']]);
    expect(paths({ on: ['failed'], channels: ['x'.repeat(101)] })).toEqual([['steps', 0, 'notify', 'channels', 0]]);
    expect(paths({ on: ['failed'], channels: [' \t'] })).toEqual([['steps', 0, 'notify', 'channels', 0]]);
    expect(paths({ on: ['failed'], channels: ['ops'], mention: { roles: ['a', 'b', 'c', 'd', 'e', 'f'] } })).toEqual([['steps', 0, 'notify', 'mention', 'roles']]);
    expect(paths({ on: ['failed'], channels: ['ops'], mention: { users: [''] } })).toEqual([['steps', 0, 'notify', 'mention', 'users', 0]]);
    expect(paths({ on: ['finished'], channels: ['ops'] })).toEqual([['steps', 0, 'notify', 'on', 0]]);
    expect(paths({ channels: ['ops'] })).toEqual([['steps', 0, 'notify', 'on']]);
  });
});
