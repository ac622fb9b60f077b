import { z } from 'zod';
import '../openapi/registry';

/** Payloads as Temporal's codec server protocol writes them: proto3 JSON, bytes in base64. */

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const Base64Text = z.string().regex(BASE64, { message: 'must be base64' });

export const CodecPayloads = z
  .object({
    payloads: z
      .array(z.object({ metadata: z.record(z.string(), Base64Text).optional(), data: Base64Text.optional() }))
      .max(10_000),
  })
  .openapi('CodecPayloads');
