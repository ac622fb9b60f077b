import { z } from 'zod';
import { NOT_BLANK_PATTERN } from '../../../../workflows/spec/notify';
import { problems, type InvalidParam } from './problem';

/** Where a value came from; named in the problem's detail so callers know what to fix. */
export type RequestPart = 'body' | 'query';

/** Parses a request part with a zod schema, or throws a 400 naming every invalid parameter. */
export function parseRequest<Schema extends z.ZodType>(schema: Schema, value: unknown, part: RequestPart): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw problems.invalidParams(`the request ${part} is invalid`, toInvalidParams(parsed.error));
}

export function toInvalidParams(error: z.ZodError, prefix: (string | number)[] = []): InvalidParam[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key))],
    message: issue.message,
  }));
}

/**
 * Patterns the OpenAPI document publishes as they are: ECMA-262 regular expressions without flags
 * that Python's `re` and Rust's `regex` (what contract testers compile them with) read the same
 * way. So they use no counted repeats of non-ASCII classes (JavaScript counts UTF-16 code units
 * where the others count code points) and name no surrogates (Rust cannot); lengths are
 * `maxLength`. Unpaired surrogates can only arrive as JSON escapes, and the body parser refuses
 * them anywhere in a body (body.ts), which the document's 400 says. Each pattern is a field's
 * whole rule: zod-to-openapi publishes only the first `.regex()` of a string.
 */

export const textPatterns = {
  /** Text PostgreSQL can store: no NUL characters. */
  // eslint-disable-next-line no-control-regex -- matching NUL (and control characters) is the point
  storable: /^[^\u0000]*$/,
  /** Storable, with at least one character that is not whitespace (so nothing is left empty by trimming). */
  notBlank: NOT_BLANK_PATTERN,
};

const STORABLE_MESSAGE = 'must not contain NUL characters';

/**
 * A string matching one published pattern, of at most `maxLength` characters (zod counts code
 * points, as the document's `maxLength` does: an emoji is one character).
 */
export function text(pattern: RegExp, maxLength: number, message: string) {
  return z.string().max(maxLength).regex(pattern, { message });
}

const MAX_BIGINT = 9_223_372_036_854_775_807n;

/**
 * The id of a row keyed by a PostgreSQL bigint, as decimal digits: refused past the bigint's range
 * here, so that no id given by a client reaches the database as one it cannot read.
 */
export function bigintId(message: string) {
  // Zod runs the refinement after a failed pattern too: only digits are converted.
  return text(/^[0-9]{1,19}$/, 19, message).refine((id) => !/^[0-9]+$/.test(id) || BigInt(id) <= MAX_BIGINT, { message });
}

/** Text that ends up in PostgreSQL: bounded, storable, and published as such. */
export function storableText(maxLength: number) {
  return text(textPatterns.storable, maxLength, STORABLE_MESSAGE);
}

/** Query-string text: bounded, and storable (query values reach SQL parameters unchecked otherwise). */
export function queryText(maxLength: number) {
  return storableText(maxLength);
}

/**
 * An ISO 8601 time that PostgreSQL and Temporal's visibility queries can both hold: its UTC year
 * is 1 to 9999. Year 0000 (also reached by `0001-01-01T00:30+01:00`) has no date in PostgreSQL,
 * and year 10000 (`9999-12-31T23:59-23:59`) is not a datetime to Temporal; either failed the query.
 */
export function timestamp(options: { offset?: boolean } = {}) {
  return z.iso.datetime(options).refine(
    (value) => {
      const year = new Date(value).getUTCFullYear();
      return year >= 1 && year <= 9999;
    },
    { message: 'must be a time from the year 1 to 9999 (UTC)' },
  );
}

/** A query flag written as `true` or `false`. */
export const QueryBoolean = z.enum(['true', 'false']).transform((value) => value === 'true');

/** A path segment that cannot name a resource is a missing resource, not a malformed request. */
export function pathParam<Schema extends z.ZodType>(schema: Schema, value: unknown, what: string): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw problems.notFound(`no ${what} ${JSON.stringify(value)}`);
}

/** An optional body: none at all reads as `{}`; anything sent, even `null`, is parsed as sent. */
export function bodyOrEmpty(body: unknown): unknown {
  return body === undefined ? {} : body;
}
