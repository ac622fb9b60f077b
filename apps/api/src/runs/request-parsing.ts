import type { Request } from 'express';
import type { z } from 'zod';
import { problems } from '../http/problem';
import { IdempotencyKeySchema } from './schemas';

type RequestPart = 'body' | 'query' | 'params' | 'header';

/** Parses one part of a request or answers 400 with every offending path, prefixed by the part. */
export function parseRequestPart<T extends z.ZodType>(schema: T, value: unknown, part: RequestPart): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw problems.invalidParams(
    `invalid request ${part}`,
    parsed.error.issues.map((issue) => ({
      path: [part, ...issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment))],
      message: issue.message,
    })),
  );
}

export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.header('idempotency-key');
  return key === undefined ? undefined : parseRequestPart(IdempotencyKeySchema, key, 'header');
}
