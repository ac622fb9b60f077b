import { RE2JS } from 're2js';

/**
 * Regular expressions in expressions run on RE2 (the pure-JavaScript port `re2js`), whose matching
 * time is linear in the input: a pattern like `/^(a+)+$/` cannot backtrack for ever inside a workflow
 * activation. The price is RE2's syntax: backreferences and lookaround are refused, at validation
 * (`unsupportedRegex`) and, should one slip through (`$eval`), when the expression runs.
 *
 * JSONata compiles a `/pattern/flags` literal with the native RegExp while parsing (that only checks
 * the syntax and is linear), then, at each evaluation, builds `new RegexEngine(regExp)` from its
 * options and drives it like a global RegExp: it sets `lastIndex`, calls `exec`, and reads `index`
 * and the groups of the match. `LinearTimeRegExp` is that surface, over RE2.
 */

/** Patterns compiled, by flags and source; JSONata builds a regex engine every time it evaluates a literal. */
const compiledPatterns = new Map<string, RE2JS>();
const MAX_COMPILED_PATTERNS = 500;

export class UnsupportedRegexError extends Error {
  override readonly name = 'UnsupportedRegexError';

  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(
      `regular expression /${pattern}/ is not supported: ${reason}; expressions run regular expressions in ` +
        'linear time (RE2), which rules out backreferences and lookaround',
    );
  }
}

function compileLinearTime(regex: RegExp): RE2JS {
  const key = `${regex.flags}/${regex.source}`;
  const cached = compiledPatterns.get(key);
  if (cached) return cached;
  let flags = 0;
  if (regex.ignoreCase) flags |= RE2JS.CASE_INSENSITIVE;
  if (regex.multiline) flags |= RE2JS.MULTILINE;
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(RE2JS.translateRegExp(regex.source), flags);
  } catch (error) {
    throw new UnsupportedRegexError(regex.source, error instanceof Error ? error.message : String(error));
  }
  if (compiledPatterns.size >= MAX_COMPILED_PATTERNS) compiledPatterns.clear();
  compiledPatterns.set(key, compiled);
  return compiled;
}

/** Why RE2 refuses `regex`, or undefined when it runs it. */
export function unsupportedRegex(regex: RegExp): UnsupportedRegexError | undefined {
  try {
    compileLinearTime(regex);
    return undefined;
  } catch (error) {
    if (error instanceof UnsupportedRegexError) return error;
    throw error;
  }
}

/** The part of RegExp that JSONata uses (`new`, `lastIndex`, `exec`), matching in linear time. */
export class LinearTimeRegExp {
  lastIndex = 0;
  private readonly pattern: RE2JS;
  /** JSONata walks one input from match to match (`$match`, `$replace`, `$split`): one matcher serves them all. */
  private matcher?: { readonly input: string; readonly matcher: ReturnType<RE2JS['matcher']> };

  constructor(regex: RegExp) {
    this.pattern = compileLinearTime(regex);
  }

  /** Instructions in the RE2 program: what scanning a character may cost (expression-bounds.ts charges by it). */
  get programSize(): number {
    return this.pattern.programSize();
  }

  exec(input: string): RegExpExecArray | null {
    if (this.matcher?.input !== input) this.matcher = { input, matcher: this.pattern.matcher(input) };
    const { matcher } = this.matcher;
    if (this.lastIndex > input.length || !matcher.find(this.lastIndex)) {
      this.lastIndex = 0;
      return null;
    }
    const groups: (string | undefined)[] = [];
    // RE2 reports a group that took no part in the match as null, RegExp as undefined.
    for (let i = 0; i <= matcher.groupCount(); i++) groups.push(matcher.group(i) ?? undefined);
    this.lastIndex = matcher.end();
    return Object.assign(groups, { index: matcher.start(), input }) as unknown as RegExpExecArray;
  }
}
