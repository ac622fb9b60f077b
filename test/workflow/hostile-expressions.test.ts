import type { RunState } from '../../workflows/contract';
import type { SpecInput } from '../../workflows/spec/schema';

type StepInput = SpecInput['steps'][number];
import { useTestWorker } from '../support/worker';
import { failedRunState, failureType, runInput, startRun } from './support';

/**
 * Hostile expressions against the real worker (the production bundle, with its shared modules) and a
 * real Temporal server. Before the bounds, each of these killed the worker process; here every run must
 * end, the hostile step must fail with an ExpressionError naming the bound (or, for the regular
 * expressions, simply finish), and the worker must still run ordinary runs afterwards. A crash of the
 * worker would take this Jest worker process down with it.
 */

const env = useTestWorker();

const LOOP = /exceeded 1500 evaluation steps|evaluation steps in all in one workflow task/;
const DEPTH = /exceeded the call depth of 500/;
const DEPTH_OR_LOOP = /exceeded the call depth of 500|exceeded 1500 evaluation steps/;
const STRING = /string of \d+ characters; the limit is 1000000|JSON exceeds 1000000 characters/;
const ARRAY = /array of \d+ items; the limit is 100000/;
const BUILT = /built or processed more than 10000000 array items and characters/;
const NESTED = /nested more than 200 levels deep/;
const PICTURE = /(picture|text|timezone) has \d+ characters; the limit is 256/;
const TASK_BUILT = /more than 12000000 array items and characters in all in one workflow task/;

const aaa = `"${'a'.repeat(40)}!"`;

/** Expressions that must fail their step, with the detail expected. */
const failing: [name: string, source: string, detail: RegExp][] = [
  ['tail recursion', '($f := function($n){ $f($n+1) }; $f(0)) > 0', LOOP],
  ['deep recursion', '($f := function($n){ 1 + $f($n) }; $f(0)) > 0', DEPTH],
  ['deep recursion, counting', '($f := function($n){ 1 + $f($n + 1) }; $f(0)) > 0', DEPTH_OR_LOOP],
  ['mutual recursion', '($a := function($n){ 1 + $b($n) }; $b := function($n){ 1 + $a($n) }; $a(0))', DEPTH],
  ['recursion through $map', '($f := function($n){ $map([$n], function($x){ $f($x + 1) }) }; $f(0))', DEPTH],
  ['recursion through $reduce', '($f := function($n){ $reduce([$n, 1], function($a, $b){ $f($a + $b) }) }; $f(0))', DEPTH],
  [
    'Y combinator',
    '($Y := function($f){ (function($x){ $x($x) })(function($g){ $f(function($a){ $g($g)($a) }) }) };' +
      ' $loop := $Y(function($self){ function($n){ $self($n + 1) } }); $loop(0))',
    DEPTH_OR_LOOP,
  ],
  ['huge $pad', '$length($pad("x", 200000000)) > 0', STRING],
  ['huge range', '$count([1..100000000]) > 0', ARRAY],
  ['range past the array bound', '$count([1..100001]) > 0', ARRAY],
  ['huge $join', '$length($join($split($pad("", 99999, "ab"), ""), $pad("", 100, "y"))) > 0', STRING],
  ['huge $split', '$count($split($pad("", 900000, "ab"), "")) > 0', ARRAY],
  ['repeated doubling with &', '$length($reduce([1..40], function($a, $i){ $a & $a }, "x")) > 0', STRING],
  ['$string of a self-similar array', '$length($string($reduce([1..40], function($a, $i){ [[$a], [$a]] }, [1]))) > 0', STRING],
  ['& of a self-similar array', '$length($reduce([1..30], function($a, $i){ [[$a], [$a]] }, [1]) & "") > 0', STRING],
  ['many big ranges', '$count($map([1..2000], function(){ [1..100000] })) > 0', BUILT],
  ['many big strings', '$count($map([1..3000], function(){ $pad("x", 900000) })) > 0', BUILT],
  ['deep object construction', '$reduce([1..400], function($a, $i){ { "a": $a } }, {})', NESTED],
  ['deep nested arrays', '$reduce([1..400], function($a, $i){ [[$a]] }, [])', NESTED],
  ['order-by over a big range', '$count([1..100000]^(-$)) > 0', LOOP],
  ['backreference (refused at validation, failed at run time)', '$contains("aa", /(a)\\1/)', /linear time \(RE2\)/],
  ['& inside $eval', '$eval("\\"a\\" & \\"b\\"") = "ab"', /\$eval cannot evaluate text using `&`/],
  ['long $eval text', '$eval($pad("", 20000, "1+") & "1") > 0', /\$eval's text has 20001 characters; the limit is 10000/],
  // Pictures: JSONata analyses one in time quadratic in its length; $toMillis compiles it to a native RegExp.
  ['long $formatNumber picture', '$formatNumber(1, $pad("", 40000, "#,") & "0") != ""', PICTURE],
  ['long $toMillis picture', '$toMillis("one", $pad("", 20000, "[Yw]")) = 0', PICTURE],
  ['long $toMillis text', '$toMillis($pad("", 20000, "1"), "[Y]") = 0', PICTURE],
  ['long $fromMillis picture', '$fromMillis(0, $pad("", 20000, "[Yw]")) != ""', PICTURE],
  ['long $now picture', '$now($pad("", 20000, "[Yw]")) != ""', PICTURE],
  ['long $formatInteger picture', '$formatInteger(1, $pad("", 40000, "#,") & "0") != ""', PICTURE],
  ['long $parseInteger picture', '$parseInteger("1", $pad("", 40000, "#,") & "0") = 1', PICTURE],
];

/**
 * Regular expressions with many matches: some 95 µs a match in the worker (four of the first over 1 MB
 * took seconds). Each activation takes about a second before the bound stops it, so these run apart
 * from the corpus above, and in `with` only (a `when` is evaluated by the same code).
 */
const costlyRegexes: [name: string, source: string, detail: RegExp][] = [
  [
    '$replace with a regex over 1 MB',
    '($s:=$pad("",999999,"a"); $length($replace($s,/a/,"b")) + $length($replace($s,/a/,"b")) + $length($replace($s,/a/,"b")) + $length($replace($s,/a/,"b"))) > 0',
    BUILT,
  ],
  ['$match of many matches', '$count($match($pad("", 99999, "a"), /a/)) > 0', BUILT],
  ['$split by a regex into many parts', '$count($split($pad("", 99999, "a"), /a/)) > 0', BUILT],
];

/** Exponential regular expressions: linear on RE2, so the step simply finishes. */
const regexes: [name: string, source: string, value: unknown][] = [
  ['$contains', `$contains(${aaa}, /^(a+)+$/)`, false],
  ['$match', `$count($match(${aaa}, /(a|aa)+$/))`, 0],
  ['$replace', `$replace(${aaa}, /^(a|a?)+$/, "x")`, `${'a'.repeat(40)}!`],
  ['$split', `$count($split(${aaa}, /(a*)*b/))`, 1],
  ['~>', `${aaa} ~> /^([a-z]+)*$/i`, undefined],
];

function whenStep(source: string): StepInput {
  return { id: 'hostile', type: 'noop', when: source, onError: 'continue' };
}

function withStep(source: string): StepInput {
  return { id: 'hostile', type: 'noop', onError: 'fail', with: { output: { value: `{{ ${source} }}`, text: `value: {{ ${source} }}` } } };
}

async function runToEnd(steps: StepInput[]): Promise<{ state: RunState; failure?: string }> {
  const handle = await startRun(env().client, env().taskQueue, runInput({ steps }));
  try {
    return { state: await handle.result() };
  } catch (error) {
    return { state: failedRunState(error), failure: failureType(error) };
  }
}

const after: StepInput = { id: 'after', type: 'noop', dependsOn: ['hostile'], with: { output: { ok: true } } };

test('hostile expressions fail their step with a clear ExpressionError, in `when` and in `with`, and every run ends', async () => {
  const runs = failing.flatMap(([name, source, detail]) => [
    runToEnd([whenStep(source), after]).then((run) => ({ name, where: 'when', detail, run })),
    runToEnd([withStep(source), after]).then((run) => ({ name, where: 'with', detail, run })),
  ]);
  for (const { name, where, detail, run } of await Promise.all(runs)) {
    const hostile = run.state.steps.hostile!;
    const context = `${name} in ${where}: ${JSON.stringify(hostile)}`;
    expect({ context, status: hostile.status, type: hostile.error?.type }).toEqual({ context, status: 'failed', type: 'ExpressionError' });
    expect(hostile.error!.message).toMatch(detail);
    if (where === 'when') {
      // onError: continue: the run goes on, and skips what depended on the failed step.
      expect({ context, run: run.state.status, after: run.state.steps.after?.status }).toEqual({ context, run: 'succeeded', after: 'skipped' });
    } else {
      expect({ context, run: run.state.status, failure: run.failure }).toEqual({ context, run: 'failed', failure: 'RunFailed' });
    }
  }
}, 120_000);

test('regular expressions with too many matches fail their step with a clear ExpressionError', async () => {
  for (const [name, source, detail] of costlyRegexes) {
    const { state } = await runToEnd([withStep(source), after]);
    const hostile = state.steps.hostile!;
    expect({ name, status: hostile.status, type: hostile.error?.type }).toEqual({ name, status: 'failed', type: 'ExpressionError' });
    expect(hostile.error!.message).toMatch(detail);
  }
}, 60_000);

test('exponential regular expressions run in linear time in `$contains`, `$match`, `$replace`, `$split` and `~>`', async () => {
  const runs = regexes.map(([name, source, value]) =>
    runToEnd([{ id: 'hostile', type: 'noop', with: { output: { value: `{{ ${source} }}` } } }]).then((run) => ({ name, value, run })),
  );
  for (const { name, value, run } of await Promise.all(runs)) {
    const hostile = run.state.steps.hostile!;
    expect({ name, status: hostile.status, output: hostile.output }).toEqual({ name, status: 'succeeded', output: value === undefined ? {} : { value } });
  }
}, 60_000);

test('costly expressions of steps that become ready together share one budget per workflow task', async () => {
  const loop = '($f := function($n){ $f($n+1) }; $f(0)) > 0';
  const { state } = await runToEnd(['a', 'b', 'c'].map((id) => ({ id, type: 'noop', when: loop, onError: 'continue' })));
  expect(state.status).toBe('succeeded');
  const messages = ['a', 'b', 'c'].map((id) => state.steps[id]!.error?.message ?? '');
  for (const id of ['a', 'b', 'c']) expect(state.steps[id]).toMatchObject({ status: 'failed', error: { type: 'ExpressionError' } });
  // The steps past the task's budget wait for the next task (the engine defers a breach of a per-task
  // bound), where each fails on its own bound; a step alone in its task fails on the per-task one.
  for (const message of messages) expect(message).toMatch(LOOP);
}, 60_000);

test('regular expressions of steps that become ready together share one built-in budget per workflow task', async () => {
  const replace = (length: number) => `{{ $length($replace($pad("", ${length}, "a"), /a/, "b")) }}`;
  // Each past its own budget: each fails, every activation within the timeout, and the run ends.
  const heavy = await runToEnd(
    Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, type: 'noop' as const, onError: 'continue' as const, with: { output: { v: replace(300_000) } } })),
  );
  expect(heavy.state.status).toBe('succeeded');
  for (const step of Object.values(heavy.state.steps)) {
    expect(step).toMatchObject({ status: 'failed', error: { type: 'ExpressionError' } });
    expect(step.error!.message).toMatch(new RegExp(`${BUILT.source}|${TASK_BUILT.source}`));
  }
  // Each within its own budget, but not all within one task's: they are spread over workflow tasks.
  const spread = await runToEnd(
    Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, type: 'noop' as const, with: { output: { v: replace(2_500) } } })),
  );
  expect(spread.state.status).toBe('succeeded');
  for (const step of Object.values(spread.state.steps)) expect(step).toMatchObject({ status: 'succeeded', output: { v: 2500 } });
}, 120_000);

test('the worker still runs ordinary runs, with ordinary expressions and regular expressions, after the corpus', async () => {
  const { state } = await runToEnd([
    { id: 'first', type: 'noop', with: { output: { words: ['Alpha', 'beta'], text: 'ab12cd345' } } },
    {
      id: 'second',
      type: 'noop',
      dependsOn: ['first'],
      when: '$count(steps.first.output.words) = 2 and $contains(steps.first.output.text, /CD/i)',
      with: {
        output: {
          numbers: '{{ $match(steps.first.output.text, /\\d+/).match }}',
          replaced: '{{ $replace(steps.first.output.text, /[a-z]+/, "-") }}',
          parts: '{{ $split(steps.first.output.text, /\\d+/) }}',
          upper: '{{ $join(steps.first.output.words.$uppercase(), ",") }}',
          matched: '{{ (steps.first.output.text ~> /(\\d)(\\d)/).groups }}',
        },
      },
    },
  ]);
  expect(state.status).toBe('succeeded');
  expect(state.steps.second!.output).toEqual({
    numbers: ['12', '345'],
    replaced: '-12-345',
    parts: ['ab', 'cd', ''],
    upper: 'ALPHA,BETA',
    matched: ['1', '2'],
  });
});
