import { Router, type Request } from 'express';
import { MAX_SECRET_VALUE_BYTES, type SecretStore } from '../../../common/secrets/secret-store';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import { principalOf } from '../http/principal';
import { allowOnly } from '../http/routes';
import { tenantIdOf } from '../http/tenant';
import { parseRequest, pathParam } from '../http/validation';
import { PutSecretBody, SecretNameParam } from './schemas';
import './openapi';

/**
 * The tenant's secrets: written here, read (decrypted) only by the worker's step activities. No
 * answer and no log line holds a value. Admin-only once authentication lands.
 */
export function createSecretsRouter(deps: ApiDependencies): Router {
  const router = Router();

  router
    .route('/')
    .get(async (req, res) => {
      res.json({ items: await storeOf(deps).list(tenantIdOf(req)) });
    })
    .all(allowOnly('GET'));

  router
    .route('/:name')
    .get(async (req, res) => {
      const name = pathParam(SecretNameParam, req.params.name, 'secret');
      const secret = await storeOf(deps).get(tenantIdOf(req), name);
      if (!secret) throw problems.notFound(`secret ${name} does not exist`);
      res.json(secret);
    })
    .put(async (req, res) => {
      const name = nameToWrite(req);
      const createOnly = createOnlyOf(req);
      const body = parseRequest(PutSecretBody, req.body, 'body');
      if (Buffer.byteLength(body.value, 'utf8') > MAX_SECRET_VALUE_BYTES) {
        throw problems.payloadTooLarge(`a secret's value holds at most ${MAX_SECRET_VALUE_BYTES} bytes of UTF-8`);
      }
      const stored = await storeOf(deps).put(tenantIdOf(req), name, body, principalOf(req).subject, { createOnly });
      if (!stored) throw problems.conflict(`secret ${name} already exists (If-None-Match: *)`);
      res.status(stored.created ? 201 : 200);
      if (stored.created) res.location(`${req.baseUrl}/${name}`);
      res.json(stored.secret);
    })
    .delete(async (req, res) => {
      const name = pathParam(SecretNameParam, req.params.name, 'secret');
      if (!(await storeOf(deps).delete(tenantIdOf(req), name))) throw problems.notFound(`secret ${name} does not exist`);
      res.status(204).end();
    })
    .all(allowOnly('GET', 'PUT', 'DELETE'));

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
