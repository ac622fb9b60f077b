import type { Request } from 'express';

/**
 * Who is calling. Until token authentication lands, the caller names itself with `X-User` and
 * `X-Roles` (comma-separated); everything downstream reads only `principalOf(req)`, so switching
 * to verified tokens changes this module alone.
 */
export interface Principal {
  subject: string;
  roles: string[];
}

export const ANONYMOUS: Principal = { subject: 'anonymous', roles: [] };

export function principalOf(req: Request): Principal {
  const subject = req.header('x-user')?.trim();
  if (!subject) return ANONYMOUS;
  const roles = (req.header('x-roles') ?? '')
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean);
  return { subject, roles };
}
