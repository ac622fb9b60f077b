import { EXPRESSION_BOUNDS, ExpressionError, compileExpression, renderTemplate, validateSpec, type ExpressionContext } from '../../../workflows/spec';
import { isWorkflowTaskBound } from '../../../workflows/spec/expression-bounds';

const context: ExpressionContext = {
  inputs: { text: 'ab12cd345', words: ['Alpha', 'beta', 'alpha'] },
  steps: {},
  run: { id: 'run-1', workflowId: 'wf-1', templateId: 'tpl-1', templateVersion: 1 },
};

async function evaluationError(source: string): Promise<ExpressionError> {
  try {
    await compileExpression(source).evaluate(context);
  } catch (error) {
    if (error instanceof ExpressionError) return error;
    throw error;
  }
  throw new Error(`expected ${source} to fail`);
}

const aaa = `"${'a'.repeat(40)}!"`;
const { maxCallDepth, maxEvaluationSteps, maxStringLength, maxArrayLength, maxBuiltSize, maxValueDepth, maxPictureLength, maxEvalLength } =
  EXPRESSION_BOUNDS;

describe('expression bounds', () => {
  it.each([
    ['deep recursion', '($f := function($n){ 1 + $f($n) }; $f(0)) > 0', 'callDepth', `expression exceeded the call depth of ${maxCallDepth}`],
    ['mutual recursion', '($a := function($n){ 1 + $b($n) }; $b := function($n){ 1 + $a($n) }; $a(0))', 'callDepth', 'call depth'],
    ['recursion through $map', '($f := function($n){ $map([$n], function($x){ $f($x + 1) }) }; $f(0))', 'callDepth', 'call depth'],
    ['recursion through $reduce', '($f := function($n){ $reduce([$n, 1], function($a, $b){ $f($a + $b) }) }; $f(0))', 'callDepth', 'call depth'],
    ['a tail-recursive loop', '($f := function($n){ $f($n+1) }; $f(0)) > 0', 'steps', `expression exceeded ${maxEvaluationSteps} evaluation steps`],
    ['$pad past the string bound', '$length($pad("x", 200000000)) > 0', 'stringLength', `string of 200000000 characters; the limit is ${maxStringLength}`],
    ['a range past the array bound', `$count([1..${maxArrayLength + 1}])`, 'arrayLength', `array of ${maxArrayLength + 1} items; the limit is ${maxArrayLength}`],
    ['a huge range', '$count([1..100000000])', 'arrayLength', 'array of 100000000 items'],
    ['$split past the array bound', '$count($split($pad("", 900000, "ab"), ""))', 'arrayLength', 'the limit is'],
    ['$join past the string bound', '$join($split($pad("", 99999, "ab"), ""), $pad("", 100, "y"))', 'stringLength', 'the limit is'],
    ['doubling with &', '$reduce([1..40], function($a, $i){ $a & $a }, "x")', 'stringLength', 'the limit is'],
    ['$string of a self-similar array', '$string($reduce([1..40], function($a, $i){ [[$a], [$a]] }, [1]))', 'stringLength', `JSON exceeds ${maxStringLength}`],
    ['& of a self-similar array', '$reduce([1..30], function($a, $i){ [[$a], [$a]] }, [1]) & ""', 'stringLength', 'JSON exceeds'],
    ['$clone of a self-similar array', '$clone({"a": $reduce([1..30], function($a, $i){ [[$a], [$a]] }, [1])})', 'stringLength', 'JSON exceeds'],
    ['many big ranges', '$count($map([1..1000], function(){ [1..100000] }))', 'builtSize', `more than ${maxBuiltSize} array items and characters`],
    ['many big strings', '$count($map([1..1000], function(){ $pad("x", 900000) }))', 'builtSize', 'more than'],
    ['deep object construction', '$reduce([1..400], function($a, $i){ { "a": $a } }, {})', 'valueDepth', `nested more than ${maxValueDepth} levels deep`],
    ['deep nested arrays', '$reduce([1..400], function($a, $i){ [[$a]] }, [])', 'valueDepth', 'levels deep'],
    ['& inside $eval', '$eval("1 & 2")', 'builtSize', '$eval cannot evaluate text using `&`'],
    ['a long $eval text', '$eval($pad("", 20000, "1+") & "1")', 'stringLength', `$eval's text has 20001 characters; the limit is ${maxEvalLength}`],
    // JSONata analyses a picture in time quadratic in its length (40,000 characters: seconds).
    ['a long $formatNumber picture', '$formatNumber(1, $pad("", 40000, "#,") & "0")', 'pictureLength', `$formatNumber's picture has 40001 characters; the limit is ${maxPictureLength}`],
    ['a long $formatNumber option', '$formatNumber(1, "#", {"minus-sign": $pad("", 300, "-")})', 'pictureLength', `$formatNumber's option "minus-sign" has 300 characters`],
    // $toMillis compiles its picture into a native, backtracking RegExp.
    ['a long $toMillis picture', '$toMillis("one", $pad("", 20000, "[Yw]")) = 0', 'pictureLength', "$toMillis's picture has 20000 characters"],
    ['a long $toMillis text', '$toMillis($pad("", 300, "1"), "[Y]")', 'pictureLength', "$toMillis's text has 300 characters"],
    ['a long $fromMillis picture', '$fromMillis(0, $pad("", 300, "[Y]"))', 'pictureLength', "$fromMillis's picture has 300 characters"],
    ['a long $fromMillis timezone', '$fromMillis(0, "[Y]", $pad("", 300, "0"))', 'pictureLength', "$fromMillis's timezone has 300 characters"],
    ['a long $now picture', '$now($pad("", 300, "[Y]"))', 'pictureLength', "$now's picture has 300 characters"],
    ['a long $formatInteger picture', '$formatInteger(5, $pad("", 300, "#"))', 'pictureLength', "$formatInteger's picture has 300 characters"],
    ['a long $parseInteger picture', '$parseInteger("5", $pad("", 300, "#"))', 'pictureLength', "$parseInteger's picture has 300 characters"],
    ['a long $parseInteger text', '$parseInteger($pad("", 300, "1"), "#")', 'pictureLength', "$parseInteger's text has 300 characters"],
    // Regular expressions are charged per character scanned and per match (some 95 µs each in the worker).
    ['$replace over 1 MB', '($s := $pad("", 999999, "a"); $length($replace($s, /a/, "b")))', 'builtSize', 'more than'],
    ['$match of many matches', '$count($match($pad("", 20000, "a"), /a/))', 'builtSize', 'more than'],
    ['$split by a regex into many parts', '$count($split($pad("", 20000, "a"), /a/))', 'builtSize', 'more than'],
    ['$replace through ~>', '$length($pad("", 20000, "a") ~> $replace(/a/, "b"))', 'builtSize', 'more than'],
    ['many regex searches of 1 MB', '($s := $pad("", 999999, "a"); $count([1..10].$contains($s, /b/)))', 'builtSize', 'more than'],
    ['calling a regex many times', '($s := $pad("", 999999, "a"); $r := /b/; $count([1..10].$r($s)))', 'builtSize', 'more than'],
  ])('%s fails with a bound error', async (_name, source, bound, detail) => {
    const error = await evaluationError(source);
    expect(error).toMatchObject({ kind: 'evaluation', bound });
    expect(error.detail).toContain(detail);
  });

  it('tells the bounds shared by a workflow task from the others', () => {
    expect(['workflowTaskSteps', 'workflowTaskBuiltSize'].every(isWorkflowTaskBound)).toBe(true);
    expect(['steps', 'builtSize', 'pictureLength', 'stringLength', 'regex', undefined].some(isWorkflowTaskBound)).toBe(false);
    // Any evaluation within its own budgets fits a fresh workflow task's.
    expect(EXPRESSION_BOUNDS.maxWorkflowTaskBuiltSize).toBeGreaterThanOrEqual(maxBuiltSize);
    expect(EXPRESSION_BOUNDS.maxWorkflowTaskSteps).toBeGreaterThanOrEqual(maxEvaluationSteps);
  });

  it('gives a template breach the path of its string', async () => {
    await expect(renderTemplate({ body: { text: 'x {{ $pad("x", 200000000) }}' } }, context)).rejects.toMatchObject({
      bound: 'stringLength',
      path: ['body', 'text'],
    });
  });

  it('fails the same way on every evaluation (nothing carries over)', async () => {
    const details = [];
    for (let i = 0; i < 3; i++) details.push((await evaluationError('($f := function($n){ $f($n+1) }; $f(0))')).message);
    expect(new Set(details).size).toBe(1);
  });

  it('still lets ordinary work through', async () => {
    const evaluate = async (source: string) => JSON.parse(JSON.stringify(await compileExpression(source).evaluate(context)));
    expect(await evaluate('$count($map([1..400], function($v){ $v * 2 }))')).toBe(400);
    expect(await evaluate(`$count([1..${maxArrayLength}])`)).toBe(maxArrayLength);
    expect(await evaluate('$length($pad("x", 900000))')).toBe(900000);
    expect(await evaluate('$sort([3, 1, 2, 1])')).toEqual([1, 1, 2, 3]);
    expect(await evaluate('$sort(["b", "a"])')).toEqual(['a', 'b']);
    expect(await evaluate('$sort([{"n": 2}, {"n": 1}], function($l, $r){ $l.n > $r.n }).n')).toEqual([1, 2]);
    expect(await evaluate('$distinct([1, 2, 1, "a", "a", true, true])')).toEqual([1, 2, 'a', true]);
    expect(await evaluate('$distinct([{"a": 1}, {"a": 1}, {"a": 2}])')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(await evaluate('inputs.text & "-" & 1 & [1, 2] & {"a": true}')).toBe('ab12cd345-1[1,2]{"a":true}');
    expect(await evaluate('$string({"a": [1, 2]}, true)')).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(await evaluate('$eval("[1, 2]")')).toEqual([1, 2]);
    expect(await evaluate('$formatNumber(1234.5, "#,##0.00")')).toBe('1,234.50');
    expect(await evaluate('$formatInteger(12, "w")')).toBe('twelve');
    expect(await evaluate('$parseInteger("twelve", "w")')).toBe(12);
    expect(await evaluate('$fromMillis(86400000, "[Y0001]-[M01]-[D01]", "+0100")')).toBe('1970-01-02');
    expect(await evaluate('$toMillis("1970-01-02", "[Y0001]-[M01]-[D01]")')).toBe(86400000);
    expect(await evaluate('$now("[Y0001]") = $fromMillis($millis(), "[Y0001]")')).toBe(true);
    // `$now` reads the evaluation's own timestamp, which no variable can shadow.
    expect(await evaluate('($millis := function(){ 0 }; $now("[Y0001]") != "1970")')).toBe(true);
    expect(await evaluate('$count($match($pad("", 4000, "a"), /a/))')).toBe(4000);
    expect(await evaluate('$length($replace($pad("", 999999, "a"), /b/, "c"))')).toBe(999999);
    expect(await evaluate('$merge([{"a": 1}, {"b": 2}])')).toEqual({ a: 1, b: 2 });
    expect(await evaluate('($Y := function($f){ (function($x){ $x($x) })(function($g){ $f(function($a){ $g($g)($a) }) }) }; $fact := $Y(function($self){ function($n){ $n <= 1 ? 1 : $n * $self($n - 1) } }); $fact(10))')).toBe(3628800);
  });
});

describe('regular expressions (RE2)', () => {
  /** As plain JSON: JSONata marks its sequences with a property that deep equality would see. */
  const evaluate = async (source: string) => {
    const value = await compileExpression(source).evaluate(context);
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  };

  it.each([
    [`$contains(${aaa}, /^(a+)+$/)`, false],
    [`$count($match(${aaa}, /(a|aa)+$/))`, 0],
    [`$replace(${aaa}, /^(a|a?)+$/, "x")`, `${'a'.repeat(40)}!`],
    [`$count($split(${aaa}, /(a*)*b/))`, 1],
  ])('runs the exponential %s in linear time', async (source, expected) => {
    expect(await evaluate(source)).toEqual(expected);
  });

  it('keeps the usual behaviour of $match, $replace, $split, $contains and ~>', async () => {
    expect(await evaluate('$match(inputs.text, /\\d+/)')).toEqual([
      { match: '12', index: 2, groups: [] },
      { match: '345', index: 6, groups: [] },
    ]);
    expect(await evaluate('$match(inputs.text, /([a-z])(\\d)/).groups')).toEqual(['b', '1', 'd', '3']);
    expect(await evaluate('$match("x😀é", /é/).index')).toBe(3);
    expect(await evaluate('$replace(inputs.text, /[a-z]+/, "-")')).toBe('-12-345');
    expect(await evaluate('$replace("Hello", /L/i, "1")')).toBe('He11o');
    expect(await evaluate('$replace("a1b2", /(\\d)/, "<$1>")')).toBe('a<1>b<2>');
    expect(await evaluate('$replace("ab", /b/, function($m){ $uppercase($m.match) })')).toBe('aB');
    expect(await evaluate('$split(inputs.text, /\\d+/)')).toEqual(['ab', 'cd', '']);
    expect(await evaluate('$split("a1b2c", /\\d/, 2)')).toEqual(['a', 'b']);
    expect(await evaluate('$contains(inputs.text, /CD/i)')).toBe(true);
    expect(await evaluate('inputs.words[$contains($, /^alpha$/i)]')).toEqual(['Alpha', 'alpha']);
    expect(await evaluate('("a\\nb" ~> /^b/m).match')).toBe('b');
    expect(await evaluate('(inputs.text ~> /(\\d)(\\d)/).groups')).toEqual(['1', '2']);
    // A group that took no part in the match is undefined, as with RegExp.
    expect(await compileExpression('$match("a-b", /(x)?-/).groups').evaluate(context)).toEqual([undefined]);
  });

  it('refuses backreferences and lookaround when compiling, with the position of the regex', () => {
    for (const source of ['$contains(inputs.text, /(a)\\1/)', '$match(inputs.text, /a(?=b)/)', '$split(inputs.text, /(?<!a)b/)']) {
      let error: unknown;
      try {
        compileExpression(source);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(ExpressionError);
      expect(error).toMatchObject({ kind: 'syntax', bound: 'regex', position: expect.any(Number) });
      expect((error as Error).message).toMatch(/is not supported: .*linear time \(RE2\), which rules out backreferences and lookaround/);
    }
  });

  it('is refused at validation, naming the step', () => {
    const result = validateSpec({ steps: [{ id: 'check', type: 'noop', when: '$contains("aa", /(a)\\1/)' }] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]).toMatchObject({ stepId: 'check', path: ['steps', 0, 'when'] });
    expect(result.issues[0]!.message).toMatch(/^step "check": when: Invalid expression .*backreferences and lookaround/);
  });

  it('fails cleanly when an unsupported regex reaches evaluation through $eval', async () => {
    const error = await evaluationError('$eval("$contains(\\"aa\\", /(a)\\\\1/)")');
    expect(error).toMatchObject({ kind: 'evaluation', bound: 'regex' });
  });
});

describe('the built-in work budget of a workflow task', () => {
  /** The spec modules as in a workflow, at the workflow task `task.historyLength` says. */
  function inWorkflow(task: { historyLength: number }) {
    let modules!: { bounds: typeof import('../../../workflows/spec/expression-bounds'); spec: typeof import('../../../workflows/spec') };
    jest.isolateModules(() => {
      jest.doMock('@temporalio/workflow', () => ({ inWorkflowContext: () => true, workflowInfo: () => task }));
      // jest.isolateModules loads modules synchronously, inside its callback: an import cannot.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      modules = { bounds: require('../../../workflows/spec/expression-bounds'), spec: require('../../../workflows/spec') };
    });
    return modules;
  }

  const { maxBuiltSize, maxWorkflowTaskBuiltSize } = EXPRESSION_BOUNDS;

  it('adds up the evaluations of one workflow task, and starts afresh in the next', () => {
    const task = { historyLength: 3 };
    const { bounds } = inWorkflow(task);
    new bounds.EvaluationBudget().charge(maxBuiltSize);
    const second = new bounds.EvaluationBudget();
    let error: unknown;
    try {
      second.charge(maxWorkflowTaskBuiltSize - maxBuiltSize + 1);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(bounds.ExpressionBoundError);
    expect(error).toMatchObject({ bound: 'workflowTaskBuiltSize' });
    expect((error as Error).message).toMatch(`more than ${maxWorkflowTaskBuiltSize} array items and characters in all in one workflow task`);
    task.historyLength = 9;
    expect(bounds.workflowTaskBuiltLeft()).toBe(maxWorkflowTaskBuiltSize);
    new bounds.EvaluationBudget().charge(maxBuiltSize);
  });

  it('charges the workflow task for a deferred budget only when it commits', () => {
    const { bounds } = inWorkflow({ historyLength: 3 });
    const deferred = new bounds.EvaluationBudget(true);
    deferred.charge(1000);
    expect(bounds.workflowTaskBuiltLeft()).toBe(maxWorkflowTaskBuiltSize);
    deferred.commit();
    expect(bounds.workflowTaskBuiltLeft()).toBe(maxWorkflowTaskBuiltSize - 1000);
  });

  it('fails a later expression of the task with its own bound, on the synchronous path and in JSONata alike', async () => {
    const { spec } = inWorkflow({ historyLength: 5 });
    const big = { ...context, inputs: { big: 'a'.repeat(900_000) } };
    const expression = spec.compileExpression('$length($uppercase(inputs.big))');
    const outcomes: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      try {
        outcomes.push(expression.evaluateSynchronously(big));
      } catch (error) {
        outcomes.push(error);
      }
    }
    // Each charges 2.7M characters (argument, result, argument): four fit in 12M.
    expect(outcomes.slice(0, 4)).toEqual(Array(4).fill({ value: 900_000 }));
    expect(outcomes[4]).toBeInstanceOf(spec.ExpressionError);
    expect(outcomes[4]).toMatchObject({ bound: 'workflowTaskBuiltSize' });
    await expect(expression.evaluate(big, { synchronous: false })).rejects.toMatchObject({ bound: 'workflowTaskBuiltSize' });
  });
});
