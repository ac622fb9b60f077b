import { z } from 'zod';
import { problems } from '../http/problem';
import { timestamp } from '../http/validation';

/**
 * Opaque paging cursors: the keyset position of the last item of a page, as base64url JSON.
 * Opaque to callers so the keyset can change without breaking them; validated on the way back in
 * because a cursor is user input like any other.
 */

export function encodeCursor(position: object): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

export function decodeCursor<Schema extends z.ZodType>(schema: Schema, cursor: string): z.output<Schema> {
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const parsed = schema.safeParse(position);
  if (!parsed.success) throw invalidCursor();
  return parsed.data;
}

function invalidCursor() {
  return problems.invalidParams('the cursor is not one this API handed out', [
    { path: ['cursor'], message: 'must be the nextCursor of a previous page' },
  ]);
}

/** Templates page by (createdAt, id), newest first. */
export const TemplateCursorSchema = z.object({ createdAt: timestamp(), id: z.guid() }).strict();
export type TemplateCursor = z.output<typeof TemplateCursorSchema>;

/** Versions page by number, newest first. */
export const VersionCursorSchema = z.object({ number: z.number().int().min(1).max(2_147_483_647) }).strict();
export type VersionCursor = z.output<typeof VersionCursorSchema>;
