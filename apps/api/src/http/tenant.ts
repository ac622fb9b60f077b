import type { Request } from 'express';

/**
 * The development tenant: until authentication lands, every caller acts in it. Authentication
 * replaces it with the tenant of the caller's verified credential.
 */
export const DEFAULT_TENANT_ID = 'default';

/** The tenant a request acts in; the one place authentication changes (to the principal's tenant). */
export function tenantIdOf(_req: Request): string {
  return DEFAULT_TENANT_ID;
}
