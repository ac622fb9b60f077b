import { z } from 'zod';
import { problemResponse } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import { CodecPayloads } from './schemas';

/** The codec endpoints in the OpenAPI document; imported by the router so the two cannot drift apart. */

const tags = ['Codec'];
const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });

for (const [operation, summary] of [
  ['decode', 'Decode Temporal payloads with the payload codec (for the Temporal Web UI)'],
  ['encode', 'Encode Temporal payloads with the payload codec (for the Temporal Web UI)'],
] as const) {
  const path = `/api/v1/codec/${operation}`;
  registry.registerPath({
    method: 'post',
    path,
    tags,
    summary,
    description:
      "Temporal's codec server protocol: metadata values and data are base64. Payloads the codec does not apply to pass unchanged. " +
      'Needs a credential of a tenant with the viewer role or above. A payload names no tenant, so the codec cannot tell whose it is: ' +
      'a reader of any tenant can have any payload sealed under the API\'s keys decoded (see the README).',
    request: { body: { required: true, content: { 'application/json': { schema: CodecPayloads } } } },
    responses: {
      200: json('The payloads, decoded or encoded', CodecPayloads),
      ...(operation === 'decode' ? { 422: problemResponse(422, 'A payload names a key this API does not have, or its bytes were altered') } : {}),
    },
  });
  registry.registerPath({
    method: 'options',
    path,
    tags,
    summary: 'CORS preflight for the Temporal Web UI (no credential: browsers send none with a preflight)',
    security: [],
    responses: { 204: { description: 'CORS headers for the origins in CODEC_CORS_ORIGINS' } },
  });
}
