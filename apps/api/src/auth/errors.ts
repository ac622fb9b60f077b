/** Why a credential was refused: every reason is a 401; the reason goes to the log, the detail to the caller. */
export type RefusalReason = 'missing' | 'malformed' | 'unknown' | 'expired' | 'revoked' | 'invalid' | 'unknown-tenant';

export class CredentialRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly detail: string,
    /** The tenant and credential a refused credential named (a revoked or expired token), for the audit log. */
    readonly who?: { tenantId: string; subject: string; credential: string },
  ) {
    super(detail);
    this.name = 'CredentialRefused';
  }
}
