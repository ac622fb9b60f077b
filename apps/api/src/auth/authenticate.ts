import type { PrismaClient } from '@prisma/client';
import type { RequestHandler } from 'express';
import type { Logger } from '../../../common/logger';
import { noteRefusedCredential } from '../audit/trail';
import { attachPrincipal, type Principal } from '../http/principal';
import { problems } from '../http/problem';
import { ApiTokenVerifier, looksLikeApiToken } from './api-tokens';
import { CredentialRefused } from './errors';
import { OidcVerifier, type OidcSettings } from './oidc';
import { PersonSync } from '../notifications/person-sync';

const BEARER = /^Bearer +(\S+)\s*$/i;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Turns an `Authorization: Bearer …` header into a principal: an API token, or a JWT when OIDC is configured. */
export class Authenticator {
  readonly tokens: ApiTokenVerifier;
  private readonly oidc: OidcVerifier | undefined;

  constructor(prisma: PrismaClient, logger: Logger, oidc: OidcSettings | undefined) {
    this.tokens = new ApiTokenVerifier(prisma, logger);
    this.oidc = oidc ? new OidcVerifier(oidc, prisma, new PersonSync(prisma, logger)) : undefined;
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw new CredentialRefused('missing', 'this needs a bearer credential (Authorization: Bearer <token>)');
    const credential = BEARER.exec(authorization)?.[1];
    if (!credential) throw new CredentialRefused('malformed', 'the Authorization header is not a bearer credential');
    if (looksLikeApiToken(credential)) return this.tokens.verify(credential);
    if (this.oidc && JWT_SHAPE.test(credential)) return this.oidc.verify(credential);
    throw new CredentialRefused('malformed', 'the credential is neither an API token nor a JWT this API accepts');
  }
}

/**
 * Every route mounted after this one needs a credential. A refusal is a 401 problem with the
 * `WWW-Authenticate: Bearer` challenge (RFC 6750), `error="invalid_token"` when a credential was
 * sent; the log says why, never what the credential was.
 */
export function authenticate(authenticator: Authenticator): RequestHandler {
  return async function authenticateRequest(req, res, next) {
    try {
      attachPrincipal(req, await authenticator.authenticate(req.header('authorization')));
    } catch (error) {
      if (!(error instanceof CredentialRefused)) throw error;
      noteRefusedCredential(req, { reason: error.reason, ...(error.who ? { who: error.who } : {}) });
      const challenge = error.reason === 'missing' ? 'Bearer realm="flowpilot"' : 'Bearer realm="flowpilot", error="invalid_token"';
      res.setHeader('WWW-Authenticate', challenge);
      req.log?.info({ reason: error.reason }, 'credential refused');
      throw problems.unauthorized(error.detail);
    }
    next();
  };
}
