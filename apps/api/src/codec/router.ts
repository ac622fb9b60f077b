import type { Payload } from '@temporalio/common';
import { Router, type RequestHandler } from 'express';
import type { z } from 'zod';
import { PayloadDecryptionFailed } from '../../../common/crypto/payload-codec';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { problems } from '../http/problem';
import { declareRoutes } from '../http/routes';
import { parseRequest } from '../http/validation';
import { CodecPayloads } from './schemas';
import './openapi';

/**
 * Temporal's codec server protocol, for the Web UI (`temporal server start-dev --ui-codec-endpoint
 * http://127.0.0.1:3000/api/v1/codec`): `POST /decode` and `/encode` take and answer
 * `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }`, applying the API's own payload
 * codec (PAYLOAD_CODEC_KEYS), so the UI shows encrypted histories in clear.
 *
 * Who may call it is the policy table's: a credential of a tenant with the viewer role or above
 * (the UI sends the user's access token when its codec setting `passAccessToken` is on). What it
 * cannot check: whose payload it decodes. A payload names no tenant, no run and no workflow (the
 * SDK's codecs see bytes only, and one key seals every tenant's payloads), so a reader of any
 * tenant who holds a ciphertext from Temporal can have it decoded. The codec keeps payloads from
 * those with access to Temporal or its database and no flowpilot credential; it is not a boundary
 * between tenants. Secret values are never in payloads (resolved in the activity), so decoding
 * never reveals one. Each decode is logged with the caller's subject and tenant.
 */

const CODEC_PATHS = new Set(['/decode', '/encode']);

/**
 * Mounted before authentication: CORS headers for the configured origins on every codec answer (a
 * 401 included, so the UI can read it), and the CORS preflight, which a browser sends without the
 * credential and which reveals nothing.
 */
export function createCodecCors(deps: ApiDependencies): Router {
  const router = Router();
  router.use(cors(deps.codecCorsOrigins ?? []));
  router.use((req, res, next) => {
    if (req.method !== 'OPTIONS' || !CODEC_PATHS.has(req.path)) return next();
    res.status(204).end();
  });
  return router;
}

/** The endpoints themselves, behind authentication and the policy. */
export function createCodecRouter(deps: ApiDependencies): Router {
  const router = Router();
  const codecs = deps.payloadCodecs ?? [];

  declareRoutes(
    router,
    '/api/v1/codec',
    {
      '/decode': {
        post: async (req, res) => {
          let payloads = fromJson(parseRequest(CodecPayloads, req.body, 'body'));
          try {
            // Decoding runs the codecs in reverse, as the SDK's data converter does.
            for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
          } catch (error) {
            if (error instanceof PayloadDecryptionFailed) throw problems.unprocessable(error.message);
            throw error;
          }
          const { subject, tenantId } = principalOf(req);
          (req.log ?? deps.logger).info(
            { by: subject, tenantId, payloads: payloads.length, namespace: req.header('x-namespace') },
            'payloads decoded',
          );
          res.json({ payloads: payloads.map(toJson) });
        },
      },
      '/encode': {
        post: async (req, res) => {
          let payloads = fromJson(parseRequest(CodecPayloads, req.body, 'body'));
          for (const codec of codecs) payloads = await codec.encode(payloads);
          res.json({ payloads: payloads.map(toJson) });
        },
      },
    },
    { answeredBeforeAuthentication: ['OPTIONS'] },
  );

  return router;
}

/** Lets the configured origins call from a browser; others get no CORS headers, so the browser refuses. */
function cors(origins: string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.header('origin');
    if (origin !== undefined && allowed.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    res.vary('Origin');
    next();
  };
}

function fromJson(body: z.output<typeof CodecPayloads>): Payload[] {
  return body.payloads.map((payload) => ({
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')])),
    data: Buffer.from(payload.data ?? '', 'base64'),
  }));
}

function toJson(payload: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value ?? []).toString('base64')])),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}
