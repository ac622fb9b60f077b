import { z } from 'zod';
import { isStorableText } from './body';
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

/** Query-string text: bounded, and storable (query values reach SQL parameters unchecked otherwise). */
export function queryText(maxLength: number) {
  return z
    .string()
    .max(maxLength)
    .refine(isStorableText, { message: 'must not contain NUL characters or unpaired surrogates' });
}

/** A query flag written as `true` or `false`. */
export const QueryBoolean = z.enum(['true', 'false']).transform((value) => value === 'true');

/** A path segment that cannot name a resource is a missing resource, not a malformed request. */
export function pathParam<Schema extends z.ZodType>(schema: Schema, value: unknown, what: string): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw problems.notFound(`no ${what} ${JSON.stringify(value)}`);
}
