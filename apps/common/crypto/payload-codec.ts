import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Keyring } from './keyring';

/**
 * Encrypts every payload the apps hand to Temporal (workflow inputs and results, activity inputs
 * and outputs, queries, updates, failure details, memos), as Temporal's `encryption` sample does:
 * the whole payload, metadata included, is serialised and sealed with AES-256-GCM, and the result
 * is a payload of encoding `binary/encrypted` naming its key. Search attributes are not payloads
 * the codec sees: they stay readable, so visibility queries keep working.
 *
 * It runs in the worker and the API's client, outside the workflow sandbox, and in the codec
 * endpoint the Web UI calls (apps/api/src/codec).
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_ENCRYPTION_KEY_ID = 'encryption-key-id';

/** Bound to every sealed payload, so a ciphertext of another purpose (a secret) never opens as one. */
const ASSOCIATED_DATA = Buffer.from('flowpilot-payload', 'utf8');

/** A payload the codec cannot open: its key is not configured, or its bytes were altered. */
export class PayloadDecryptionFailed extends Error {
  override readonly name = 'PayloadDecryptionFailed';
}

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keyring: Keyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const sealed = this.keyring.seal(temporal.api.common.v1.Payload.encode(payload).finish(), ASSOCIATED_DATA);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
          [METADATA_ENCRYPTION_KEY_ID]: Buffer.from(sealed.keyId),
        },
        data: sealed.bytes,
      };
    });
  }

  /** Payloads that are not encrypted (written before the codec was switched on) pass unchanged. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (textOf(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
      const keyId = textOf(payload.metadata?.[METADATA_ENCRYPTION_KEY_ID]);
      if (!keyId) throw new PayloadDecryptionFailed('an encrypted payload names no key');
      let opened: Buffer;
      try {
        opened = this.keyring.open({ keyId, bytes: Buffer.from(payload.data ?? []) }, ASSOCIATED_DATA);
      } catch (error) {
        throw new PayloadDecryptionFailed((error as Error).message);
      }
      return temporal.api.common.v1.Payload.decode(opened) as Payload;
    });
  }
}

function textOf(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes ? Buffer.from(bytes).toString('utf8') : undefined;
}

/** The codecs a data converter uses: none unless PAYLOAD_CODEC_KEYS is configured. */
export function payloadCodecsOf(keyring: Keyring | undefined): PayloadCodec[] {
  return keyring ? [new EncryptionCodec(keyring)] : [];
}
