import {
  EXPRESSION_BOUNDS,
  ExpressionError,
  compileExpression,
  evaluateCondition,
  findExpressions,
  isWholeExpression,
  referencedSteps,
  renderTemplate,
  type ExpressionContext,
} from '../../../workflows/spec';

const context: ExpressionContext = {
  inputs: { env: 'prod', replicas: 3, tags: ['a', 'b'], empty: '' },
  steps: {
    build: { status: 'succeeded', output: { ok: true, image: 'app:1.2', sizes: [1, 2] } },
    test: { status: 'skipped' },
  },
  run: { id: 'run-1', workflowId: 'wf-1', templateId: 'tpl-1', templateVersion: 7 },
};

/** What a rejected promise or a throwing call threw. */
async function caught(action: () => unknown): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, but none was thrown');
}

describe('compileExpression', () => {
  it('throws an ExpressionError with JSONata’s position and message on a syntax error', async () => {
    const error = await caught(() => compileExpression('steps.build.'));
    expect(error).toBeInstanceOf(ExpressionError);
    expect(error).toMatchObject({ kind: 'syntax', source: 'steps.build.', code: 'S0207', position: 12, detail: 'Unexpected end of expression' });
    expect((error as Error).message).toBe('Invalid expression "steps.build.": Unexpected end of expression (position 12)');
  });

  it('returns the cached compilation for a source it has seen', () => {
    expect(compileExpression('inputs.env & "-cached"')).toBe(compileExpression('inputs.env & "-cached"'));
  });

  it('keeps at most 1000 compilations, dropping the least recently used', () => {
    const first = compileExpression('"first"');
    const kept = compileExpression('"kept"');
    for (let i = 0; i < 999; i++) {
      if (i === 500) compileExpression('"kept"');
      compileExpression(`${i} + 1`);
    }
    expect(compileExpression('"kept"')).toBe(kept);
    expect(compileExpression('"first"')).not.toBe(first);
  });

  it('evaluates against the context', async () => {
    expect(await compileExpression('run.templateVersion + inputs.replicas').evaluate(context)).toBe(10);
  });

  it('wraps evaluation errors in an ExpressionError', async () => {
    const error = await caught(() => compileExpression('inputs.env + 1').evaluate(context));
    expect(error).toBeInstanceOf(ExpressionError);
    expect(error).toMatchObject({ kind: 'evaluation', code: 'T2001' });
  });

  it('stops an endless tail-recursive loop after a bounded number of steps', async () => {
    const error = await caught(() => compileExpression('($loop := function($n) { $loop($n + 1) }; $loop(0))').evaluate(context));
    expect(error).toBeInstanceOf(ExpressionError);
    expect(error).toMatchObject({ bound: 'steps', detail: `expression exceeded ${EXPRESSION_BOUNDS.maxEvaluationSteps} evaluation steps; is there an endless loop?` });
  });

  it('stops deep recursion', async () => {
    const error = await caught(() =>
      compileExpression('($deep := function($n) { $n = 0 ? 0 : 1 + $deep($n) }; $deep(100000))').evaluate(context),
    );
    expect(error).toMatchObject({ kind: 'evaluation', bound: 'callDepth' });
  });

  it('counts steps per evaluation, so repeated evaluations do not add up', async () => {
    // Some 1,000 steps each (one per item): past the budget by the second evaluation if counts added up.
    const expression = compileExpression('$count($map([1..1000], function($v) { $v }))');
    for (let i = 0; i < 3; i++) expect(await expression.evaluate(context)).toBe(1000);
  });
});

describe('evaluateCondition', () => {
  it.each([
    ['inputs.env = "prod" and steps.build.output.ok', true],
    ['inputs.env = "dev"', false],
    ['steps.test.status = "skipped"', true],
    ['steps.missing.output', false],
    ['inputs.empty', false],
    ['inputs.replicas', true],
    ['0', false],
    ['[]', false],
    ['{}', false],
    ['inputs.tags', true],
    ['[0, ""]', false],
    ['$exists(steps.build)', true],
  ])('%s → %s', async (source, expected) => {
    expect(await evaluateCondition(source, context)).toBe(expected);
  });
});

describe('renderTemplate', () => {
  it('gives a whole template the raw value of its expression', async () => {
    expect(await renderTemplate('{{ inputs.replicas }}', context)).toBe(3);
    expect(await renderTemplate('  {{ steps.build.output }}\n', context)).toEqual({ ok: true, image: 'app:1.2', sizes: [1, 2] });
    expect(await renderTemplate('{{ steps.build.output.ok }}', context)).toBe(true);
    expect(await renderTemplate('{{ steps.missing }}', context)).toBeUndefined();
  });

  it('interpolates mixed text into a string, JSON-encoding objects and dropping undefined', async () => {
    expect(await renderTemplate('deploy {{ steps.build.output.image }} x{{ inputs.replicas }}', context)).toBe('deploy app:1.2 x3');
    expect(await renderTemplate('tags={{ inputs.tags }} out={{ steps.build.output }}', context)).toBe(
      'tags=["a","b"] out={"ok":true,"image":"app:1.2","sizes":[1,2]}',
    );
    expect(await renderTemplate('[{{ steps.missing }}]', context)).toBe('[]');
    expect(await renderTemplate('{{ inputs.env }}{{ inputs.env }}', context)).toBe('prodprod');
  });

  it('leaves strings without templates and non-strings alone', async () => {
    expect(await renderTemplate('no braces } here {', context)).toBe('no braces } here {');
    expect(await renderTemplate(42, context)).toBe(42);
    expect(await renderTemplate(null, context)).toBeNull();
  });

  it('walks objects and arrays', async () => {
    const rendered = await renderTemplate(
      { url: 'https://{{ inputs.env }}.example.com', body: { replicas: '{{ inputs.replicas }}', tags: ['{{ inputs.tags[0] }}', 'x'] }, n: 1 },
      context,
    );
    expect(rendered).toEqual({ url: 'https://prod.example.com', body: { replicas: 3, tags: ['a', 'x'] }, n: 1 });
  });

  it('ends a template at the "}}" outside JSONata strings and objects', async () => {
    expect(await renderTemplate('{{ {"a": {"b": inputs.replicas}} }}', context)).toEqual({ a: { b: 3 } });
    expect(await renderTemplate('{{ "}}" }}', context)).toBe('}}');
    expect(await renderTemplate('{{ "{{" }} literal', context)).toBe('{{ literal');
    expect(await renderTemplate('{{ /* }} */ inputs.env }}', context)).toBe('prod');
  });

  it('returns plain JSON that shares nothing with the context', async () => {
    const output = (await renderTemplate('{{ steps.build.output }}', context)) as { sizes: number[] };
    output.sizes.push(3);
    expect(context.steps.build!.output).toEqual({ ok: true, image: 'app:1.2', sizes: [1, 2] });
    const sequence = await renderTemplate('{{ inputs.tags.$uppercase($) }}', context);
    expect(Object.keys(sequence as object)).toEqual(['0', '1']);
  });

  it('keeps a "__proto__" key as a plain key', async () => {
    const rendered = (await renderTemplate(JSON.parse('{"__proto__": {"polluted": "{{ inputs.env }}"}}'), context)) as object;
    expect(Object.keys(rendered)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(rendered)).toBe(Object.prototype);
  });

  it('reports where a failing template sits', async () => {
    const error = await caught(() => renderTemplate({ body: { items: ['ok', 'n={{ inputs.env + 1 }}'] } }, context));
    expect(error).toBeInstanceOf(ExpressionError);
    expect(error).toMatchObject({ kind: 'evaluation', path: ['body', 'items', 1] });
    expect((error as Error).message).toMatch(/^Failed to evaluate expression " inputs\.env \+ 1 " at body\.items\[1\]: /);
  });

  it('rejects a template that is never closed', async () => {
    const error = await caught(() => renderTemplate({ greeting: 'hello {{ inputs.env' }, context));
    expect(error).toMatchObject({ kind: 'syntax', path: ['greeting'], detail: '"{{" is never closed by "}}"' });
  });
});

describe('isWholeExpression', () => {
  it.each([
    ['{{ inputs.x }}', true],
    ['  {{inputs.x}}  ', true],
    ['{{ {"a": 1} }}', true],
    ['x {{ inputs.x }}', false],
    ['{{ a }}{{ b }}', false],
    ['{{ a }} {{ b }}', false],
    ['{{ unclosed', false],
    ['plain', false],
  ])('%j → %s', (value, expected) => {
    expect(isWholeExpression(value)).toBe(expected);
  });
});

describe('findExpressions', () => {
  it('finds every template with the path of its string', () => {
    const found = findExpressions({ url: 'https://{{ inputs.host }}/{{ inputs.path }}', body: { list: [1, '{{ steps.a.output }}'] }, plain: 'x' });
    expect(found).toEqual([
      { path: ['url'], source: ' inputs.host ' },
      { path: ['url'], source: ' inputs.path ' },
      { path: ['body', 'list', 1], source: ' steps.a.output ' },
    ]);
  });

  it('reports a template never closed, keeping those before it', () => {
    const [first, unclosed] = findExpressions({ text: '{{ a }} and {{ b' });
    expect(first).toEqual({ path: ['text'], source: ' a ' });
    expect(unclosed).toMatchObject({ path: ['text'], source: ' b', error: expect.any(ExpressionError) });
  });
});

describe('referencedSteps', () => {
  it.each([
    ['steps.a.output.x', ['a']],
    ['steps.a.status = "succeeded"', ['a']],
    ['$exists(steps.b)', ['b']],
    ['steps.`deploy-prod`.output', ['deploy-prod']],
    ['steps."quoted".output', ['quoted']],
    ['steps.a.output and steps.b.output or steps.a.status', ['a', 'b']],
    ['steps.a ? steps.b : steps.c', ['a', 'b', 'c']],
    ['{"x": steps.a.output, "y": [steps.b.status]}', ['a', 'b']],
    ['$map(inputs.list, function($v) { steps.l.output[$v] })', ['l']],
    ['($f := function() { steps.defined.status }; inputs.items.$f())', ['defined']],
    ['steps.a[status = "succeeded"].output', ['a']],
    ['($x := steps.n.output; $x.y)', ['n']],
    ['steps.a.output ~> $string()', ['a']],
    ['$$.steps.root.output', ['root']],
    ['$.steps.dollar.output', ['dollar']],
    ['inputs.items[$$.steps.f.output = id]', ['f']],
  ])('%s reads %j', (source, expected) => {
    expect(referencedSteps(source)).toEqual(expected);
  });

  it.each([
    ['inputs.items.(steps.z)', []],
    ['inputs.items[steps.f = 1]', []],
    ['steps.a.output{ "k": steps.g }', ['a']],
    ['inputs.steps.a', []],
  ])('%s: `steps` read from a value other than the root is not the run’s steps (%j)', (source, expected) => {
    expect(referencedSteps(source)).toEqual(expected);
  });

  it.each(['steps.*.status', '$lookup(steps, inputs.which)', 'steps', '$count($keys(steps))'])(
    '%s: dynamic reads are not recognised',
    (source) => {
      expect(referencedSteps(source)).toEqual([]);
    },
  );

  it('throws an ExpressionError on a syntax error', async () => {
    expect(await caught(() => referencedSteps('steps.'))).toBeInstanceOf(ExpressionError);
  });
});
