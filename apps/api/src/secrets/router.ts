import { Router, type Request } from 'express';
import { MAX_SECRET_VALUE_BYTES, type SecretStore } from '../../../common/secrets/secret-store';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import { principalOf } from '../http/principal';
import { declareRoutes } from '../http/routes';
import { parseRequest, pathParam } from '../http/validation';
import { PutSecretBody, SecretNameParam } from './schemas';
import './openapi';

/**
 * The caller's tenant's secrets, mounted at /api/v1/secrets: written here, read (decrypted) only
 * by the worker's step activities. No answer and no log line holds a value. Admin-only (the
 * policy table); every read and write is scoped to the caller's tenant, so another tenant's
 * secret is a 404 like one that does not exist.
 */
export function createSecretsRouter(deps: ApiDependencies): Router {
  const router = Router();
  declareRoutes(router, '/api/v1/secrets', {
    '/': {
      get: async (req, res) => {
        res.json({ items: await storeOf(deps).list(principalOf(req).tenantId) });
      },
    },
    '/:name': {
      get: async (req, res) => {
        const name = pathParam(SecretNameParam, req.params.name, 'secret');
        const secret = await storeOf(deps).get(principalOf(req).tenantId, name);
        if (!secret) throw problems.notFound(`secret ${name} does not exist`);
        res.json(secret);
      },
      put: async (req, res) => {
        const principal = principalOf(req);
        const name = nameToWrite(req);
        const createOnly = createOnlyOf(req);
        const body = parseRequest(PutSecretBody, req.body, 'body');
        if (Buffer.byteLength(body.value, 'utf8') > MAX_SECRET_VALUE_BYTES) {
          throw problems.payloadTooLarge(`a secret's value holds at most ${MAX_SECRET_VALUE_BYTES} bytes of UTF-8`);
        }
        const stored = await storeOf(deps).put(principal.tenantId, name, body, principal.subject, { createOnly });
        if (!stored) throw problems.conflict(`secret ${name} already exists (If-None-Match: *)`);
        deps.logger.info({ secret: name, created: stored.created, by: principal.subject }, 'secret written');
        res.status(stored.created ? 201 : 200);
        if (stored.created) res.location(`${req.baseUrl}/${name}`);
        res.json(stored.secret);
      },
      delete: async (req, res) => {
        const principal = principalOf(req);
        const name = pathParam(SecretNameParam, req.params.name, 'secret');
        if (!(await storeOf(deps).delete(principal.tenantId, name))) throw problems.notFound(`secret ${name} does not exist`);
        deps.logger.info({ secret: name, by: principal.subject }, 'secret deleted');
        res.status(204).end();
      },
    },
  });
  return router;
}

/** A PUT names the secret it creates: a name that cannot be one is unprocessable, not missing. */
function nameToWrite(req: Request): string {
  const parsed = SecretNameParam.safeParse(req.params.name);
  if (parsed.success) return parsed.data;
  throw problems.unprocessable(`${JSON.stringify(req.params.name)} is not a secret name`, [
    { path: ['name'], message: parsed.error.issues[0]!.message },
  ]);
}

/** `If-None-Match: *` asks to create only; no other form means anything for a secret, which has no ETag. */
function createOnlyOf(req: Request): boolean {
  const header = req.header('if-none-match');
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  throw problems.badRequest('If-None-Match may only be "*" (create only)');
}

function storeOf(deps: ApiDependencies): SecretStore {
  if (!deps.secrets) throw problems.unavailable('secrets are not configured on this API (set SECRETS_KEYS)');
  return deps.secrets;
}
