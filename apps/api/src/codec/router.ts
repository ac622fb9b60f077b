import type { Payload } from '@temporalio/common';
import { Router, type RequestHandler } from 'express';
import type { z } from 'zod';
import { PayloadDecryptionFailed } from '../../../common/crypto/payload-codec';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import { allowOnly } from '../http/routes';
import { parseRequest } from '../http/validation';
import { CodecPayloads } from './schemas';
import './openapi';

/**
 * Temporal's codec server protocol, for the Web UI (`temporal server start-dev --ui-codec-endpoint
 * http://127.0.0.1:3000/api/v1/codec`): `POST /decode` and `/encode` take and answer
 * `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }`, applying the API's own payload
 * codec (PAYLOAD_CODEC_KEYS), so the UI shows encrypted histories in clear. The browser calls it
 * from the UI's origin, hence CORS for the configured origins. Once authentication lands it
 * answers only to the callers the policy admits, like the secrets API.
 */

export function createCodecRouter(deps: ApiDependencies): Router {
  const router = Router();
  const codecs = deps.payloadCodecs ?? [];
  router.use(cors(deps.codecCorsOrigins ?? []));

  router
    .route('/decode')
    .post(async (req, res) => {
      let payloads = fromJson(parseRequest(CodecPayloads, req.body, 'body'));
      try {
        // Decoding runs the codecs in reverse, as the SDK's data converter does.
        for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
      } catch (error) {
        if (error instanceof PayloadDecryptionFailed) throw problems.unprocessable(error.message);
        throw error;
      }
      res.json({ payloads: payloads.map(toJson) });
    })
    .options(preflight)
    .all(allowOnly('POST', 'OPTIONS'));

  router
    .route('/encode')
    .post(async (req, res) => {
      let payloads = fromJson(parseRequest(CodecPayloads, req.body, 'body'));
      for (const codec of codecs) payloads = await codec.encode(payloads);
      res.json({ payloads: payloads.map(toJson) });
    })
    .options(preflight)
    .all(allowOnly('POST', 'OPTIONS'));

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

const preflight: RequestHandler = (_req, res) => {
  res.status(204).end();
};

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
