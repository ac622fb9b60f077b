import { z } from 'zod';
import { SECRET_NAME } from '../../../../workflows/spec/secret-references';
import { MAX_SECRET_VALUE_BYTES } from '../../../common/secrets/secret-store';
import { storableText, text } from '../http/validation';

/** Request and response shapes of the secrets API; values go in, and never come out. */

export const SecretNameParam = text(SECRET_NAME, 64, 'must be an upper-case letter, then upper-case letters, digits or "_" (64 at most)').meta({
  description: 'Referenced in specs as `{{ secrets.NAME }}`',
  example: 'API_KEY',
});

/**
 * The value's size is checked in bytes after parsing (a 413): its characters are published as the
 * bound, which no longer value can meet.
 */
export const PutSecretBody = z
  .object({
    // No NUL, as anywhere in a body (http/body.ts); published, so the document says so.
    value: storableText(MAX_SECRET_VALUE_BYTES).min(1).meta({ description: `At most ${MAX_SECRET_VALUE_BYTES} bytes of UTF-8` }),
    description: storableText(500).optional().meta({ description: 'Kept when a replacement omits it' }),
  })
  .strict()
  .openapi('PutSecret');

export const SecretResource = z
  .object({
    name: z.string(),
    description: z.string(),
    keyId: z.string().meta({ description: 'The encryption key the value is sealed under' }),
    createdBy: z.string(),
    updatedBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Secret');

export const SecretList = z.object({ items: z.array(SecretResource) }).openapi('SecretList');

export const PutSecretHeaders = z.object({
  'if-none-match': z.literal('*').optional().meta({ description: '`*`: create only; an existing secret answers 409' }),
});
