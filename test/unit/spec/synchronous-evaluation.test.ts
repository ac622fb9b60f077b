import { compileExpression, evaluateCondition, renderTemplate, type ExpressionContext } from '../../../workflows/spec';

/**
 * The synchronous evaluator (workflows/spec/synchronous-evaluation.ts) must answer exactly what
 * JSONata answers, or decline. Each expression is compared with itself inside a block, `( … )`, a
 * shape the synchronous evaluator leaves to JSONata and that does not change the value.
 */

const context = {
  inputs: {
    service: 'billing',
    replicas: 3,
    ratio: 0.5,
    zero: 0,
    empty: '',
    nothing: null,
    yes: true,
    tags: ['a', 'b'],
    nested: { deep: { value: 'x' }, list: [{ id: 1 }, { id: 2 }] },
    marked: { _jsonata_function: true, x: 1 },
    emptyObject: {},
  },
  steps: {
    build: { status: 'succeeded', output: { status: 200, image: 'app:1.2', sizes: [1, 2] } },
    test: { status: 'skipped' },
  },
  run: { id: 'run-1', workflowId: 'wf-1', templateId: 'tpl-1', templateVersion: 7 },
} as unknown as ExpressionContext;

const handled = [
  'inputs.service',
  'inputs.replicas',
  'inputs.nothing',
  'inputs.missing',
  'inputs.missing.deeper',
  'inputs.service.length',
  'inputs.nested.deep',
  'inputs.nested.deep.value',
  'inputs.marked.x',
  'inputs.constructor',
  'inputs.__proto__',
  'steps.build.output.status',
  'steps.test.output',
  'steps.`build`.status',
  'run',
  'run.templateVersion',
  '"text"',
  '42',
  'true',
  'null',
  'steps.build.output.status = 200',
  'steps.build.output.status != 200',
  'inputs.service = "billing"',
  'inputs.missing = "billing"',
  'inputs.missing != "billing"',
  'inputs.nothing = null',
  'inputs.yes = true',
  'inputs.replicas > 2',
  'inputs.replicas <= 2',
  'inputs.service < "c"',
  'inputs.service >= "c"',
  'inputs.missing < 3',
  'inputs.replicas > 2 and inputs.service = "billing"',
  'inputs.replicas > 5 and inputs.service = "billing"',
  'inputs.replicas > 5 or inputs.empty',
  'inputs.zero or inputs.emptyObject',
  'inputs.nested and inputs.ratio',
  'inputs.missing or inputs.nothing',
  // The right side is never evaluated: JSONata short-circuits too.
  'inputs.service = 1 and inputs.tags',
  '$uppercase(inputs.service)',
  '$lowercase("MiXed")',
  '$trim("  a  b  ")',
  '$length(inputs.service)',
  '$string(run.templateVersion)',
  '$string(inputs.nested)',
  '$string(inputs.nested, true)',
  '$string(steps.build.output.status = 200)',
  '$join(["a", "b", "c"], ".")',
  '$join(["a", inputs.missing, "c"])',
  '$boolean(inputs.empty)',
  '$not(inputs.replicas)',
  'inputs.service & "-" & run.templateVersion',
  'inputs.missing & "x"',
  '"x" & inputs.nested',
  '"x" & inputs.nothing',
  '$uppercase(inputs.service) & "-" & $string(run.templateVersion) & "-" & $join(["a", "b", "c"], ".")',
  '$uppercase(inputs.service) = "NONE" and $length($join(["a", "b", "c"], ".")) > 3',
  '[1, "two", null, inputs.missing]',
  '[]',
];

/** Shapes left to JSONata: arrays read from the context, refusals, and everything not listed. */
const declined = [
  'inputs.tags',
  'inputs.nested.list.id',
  'steps.build.output.sizes',
  'inputs.service = "billing" and inputs.tags',
  '[inputs.tags]',
  '$uppercase(inputs.replicas)',
  '$uppercase(inputs.missing)',
  '$uppercase()',
  '$join(inputs.service)',
  '$join(["a", 1])',
  '$string(inputs.missing)',
  'inputs.replicas < "3"',
  'inputs.yes < true',
  'inputs.nested = inputs.nested',
  'inputs.replicas + 1',
  '$count(inputs.tags)',
  'inputs.tags[0]',
  '$.inputs',
  '($x := 1; $x)',
  'inputs.yes ? 1 : 2',
  '$contains(inputs.service, "bill")',
];

async function throughJsonata(source: string): Promise<unknown> {
  return outcome(() => compileExpression(`(${source})`).evaluate(context));
}

async function outcome(evaluate: () => unknown): Promise<unknown> {
  try {
    return { value: await evaluate() };
  } catch (error) {
    // The block's parenthesis moves every position by one: compare what JSONata says, not where.
    return { error: (error as Error).message.replace(/^.*?expression ".*?": /, '').replace(/ \(position \d+\)$/, '') };
  }
}

describe('synchronous evaluation', () => {
  it.each(handled)('answers %s without JSONata, as JSONata does', async (source) => {
    const evaluated = compileExpression(source).evaluateSynchronously(context);
    expect(evaluated).toBeDefined();
    expect({ value: evaluated!.value }).toEqual(await throughJsonata(source));
    // Objects come back as JSONata gives them: the very object in the context.
    if (source === 'inputs.nested.deep') expect(evaluated!.value).toBe((context.inputs as { nested: { deep: unknown } }).nested.deep);
  });

  it.each(declined)('leaves %s to JSONata, which answers the same through `evaluate`', async (source) => {
    expect(compileExpression(source).evaluateSynchronously(context)).toBeUndefined();
    // Compared as JSON: a block hands on JSONata's sequences with their flags, a path alone does not.
    const json = async (result: Promise<unknown>) => JSON.stringify(await result);
    expect(await json(outcome(() => compileExpression(source).evaluate(context)))).toEqual(await json(throughJsonata(source)));
  });

  it('leaves a string past the bound to JSONata, which refuses it', async () => {
    const big = { ...context, inputs: { big: 'x'.repeat(1_000_001) } };
    const expression = compileExpression('inputs.big');
    expect(expression.evaluateSynchronously(big)).toBeUndefined();
    await expect(expression.evaluate(big)).rejects.toMatchObject({ bound: 'stringLength' });
  });

  it('refuses a result whose JSON is past the bound, like JSONata', async () => {
    const wide = { ...context, inputs: { wide: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'y'.repeat(60_000)])) } };
    expect(() => compileExpression('inputs.wide').evaluateSynchronously(wide)).toThrow(/JSON exceeds 1000000 characters/);
  });

  it('is used by conditions and templates unless turned off, with the same values either way', async () => {
    const template = { output: '{{ $uppercase(inputs.service) }}', text: 'v{{ run.templateVersion }}-{{ inputs.tags }}' };
    const expected = { output: 'BILLING', text: 'v7-["a","b"]' };
    expect(await renderTemplate(template, context)).toEqual(expected);
    expect(await renderTemplate(template, context, { synchronous: false })).toEqual(expected);
    for (const synchronous of [true, false]) {
      expect(await evaluateCondition('steps.build.output.status = 200 and inputs.service', context, { synchronous })).toBe(true);
      expect(await evaluateCondition('inputs.missing', context, { synchronous })).toBe(false);
    }
  });
});
