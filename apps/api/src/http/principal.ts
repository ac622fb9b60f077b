import type { Request } from 'express';

/**
 * Who is calling, as its verified credential says (an API token or an OIDC JWT); nothing a caller
 * writes in a header or a body changes it. `authenticate` attaches it to the request; everything
 * downstream reads only `principalOf(req)`.
 */
export interface Principal {
  /** The user or service the credential speaks for: a token's name, a JWT's subject claim. */
  subject: string;
  /** The tenant every resource the caller touches must belong to. */
  tenantId: string;
  /** Role names as the credential carries them: flowpilot's roles and any others (e.g. `sre`) approval steps name. */
  roles: string[];
  /** A system administrator: may create and list tenants. */
  system: boolean;
  /** Which credential: `token:<id>` or `jwt:<issuer>`; for logs and the audit trail, never a secret. */
  credential: string;
}

const principals = new WeakMap<Request, Principal>();

export function attachPrincipal(req: Request, principal: Principal): void {
  principals.set(req, principal);
}

/** The caller of a route behind `authenticate`; asking elsewhere is a bug in the route's declaration. */
export function principalOf(req: Request): Principal {
  const principal = principals.get(req);
  if (!principal) throw new Error(`no authenticated principal for ${req.method} ${req.originalUrl}`);
  return principal;
}
