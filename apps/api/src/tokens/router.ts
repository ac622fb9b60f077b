import { Router, type Request } from 'express';
import { auditActorOf } from '../audit/trail';
import type { Authenticator } from '../auth/authenticate';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { problems } from '../http/problem';
import { declareRoutes } from '../http/routes';
import { parseRequest, pathParam } from '../http/validation';
import { CreateTokenBody, TokenIdParam } from './schemas';
import { issueToken, listTokens, revokeToken } from './service';
import './openapi';

const DAY_MS = 86_400_000;

/** The caller's tenant's API tokens, mounted at /api/v1/tokens. Tokens made here are never system credentials. */
export function createTokensRouter(deps: ApiDependencies, authenticator: Authenticator): Router {
  const router = Router();
  declareRoutes(router, '/api/v1/tokens', {
    '/': {
      post: async (req, res) => {
        const principal = principalOf(req);
        const body = parseRequest(CreateTokenBody, req.body, 'body');
        const { token, secret } = await deps.prisma.$transaction((tx) =>
          issueToken(tx, {
            tenantId: principal.tenantId,
            name: body.name,
            roles: body.roles,
            system: false,
            expiresAt: body.expiresInDays ? new Date(Date.now() + body.expiresInDays * DAY_MS) : null,
            createdBy: principal.subject,
          }, auditActorOf(req)),
        );
        deps.logger.info({ tokenId: token.id, name: token.name, roles: token.roles, by: principal.subject }, 'token created');
        res.status(201).location(`${req.baseUrl}/${token.id}`).json({ ...token, secret });
      },
      get: async (req, res) => {
        res.json({ items: await listTokens(deps.prisma, principalOf(req).tenantId) });
      },
    },
    '/:id': {
      delete: async (req, res) => {
        const principal = principalOf(req);
        const id = tokenIdOf(req);
        const revoked = await revokeToken(deps.prisma, principal.tenantId, id, auditActorOf(req));
        if (!revoked) throw problems.notFound(`no token ${id}`);
        authenticator.tokens.forget(id);
        deps.logger.info({ tokenId: id, by: principal.subject }, 'token revoked');
        res.status(204).end();
      },
    },
  });
  return router;
}

function tokenIdOf(req: Request): string {
  return pathParam(TokenIdParam, req.params.id, 'token');
}
