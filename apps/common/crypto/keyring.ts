import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM keys named by id, for what is encrypted at rest (secrets) and in Temporal (payloads).
 * Configured as `id:<base64 of 32 bytes>` entries separated by commas, e.g.
 * `SECRETS_KEYS="k2:…,k1:…"`: the first key encrypts, every key decrypts, so a key rotates by
 * putting a new one first and dropping the old one once nothing is sealed under it any more.
 */

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export class InvalidKeyring extends Error {
  override readonly name = 'InvalidKeyring';
}

/** A ciphertext that does not open: wrong key, tampered bytes, or sealed for other associated data. */
export class DecryptionFailed extends Error {
  override readonly name = 'DecryptionFailed';
  constructor(readonly keyId: string, reason: string) {
    super(`cannot decrypt a value sealed under key ${JSON.stringify(keyId)}: ${reason}`);
  }
}

export interface Sealed {
  keyId: string;
  /** nonce (12 bytes) ‖ GCM tag (16 bytes) ‖ ciphertext. */
  bytes: Buffer;
}

export class Keyring {
  private readonly keys: ReadonlyMap<string, Buffer>;

  private constructor(private readonly activeId: string, keys: Map<string, Buffer>) {
    this.keys = keys;
  }

  /** Parses `id:base64,id:base64`; `variable` names the setting in errors (which never quote a key). */
  static parse(text: string, variable: string): Keyring {
    const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
    if (entries.length === 0) throw new InvalidKeyring(`${variable} holds no key`);
    const keys = new Map<string, Buffer>();
    for (const [index, entry] of entries.entries()) {
      const colon = entry.indexOf(':');
      const id = colon === -1 ? '' : entry.slice(0, colon);
      if (!KEY_ID.test(id)) {
        throw new InvalidKeyring(`${variable}: entry ${index + 1} must be "<id>:<base64 key>" with an id of letters, digits, "_" or "-" (at most 32)`);
      }
      const key = Buffer.from(entry.slice(colon + 1), 'base64');
      if (key.length !== KEY_BYTES) throw new InvalidKeyring(`${variable}: key ${id} must be ${KEY_BYTES} bytes in base64, not ${key.length}`);
      if (keys.has(id)) throw new InvalidKeyring(`${variable}: key id ${id} appears twice`);
      keys.set(id, key);
    }
    return new Keyring(entries[0]!.slice(0, entries[0]!.indexOf(':')), keys);
  }

  /** A fresh `id:base64` entry, for `npm run up` and tests. */
  static generateEntry(id: string): string {
    return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
  }

  /** The id new values are sealed under. */
  get activeKeyId(): string {
    return this.activeId;
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** Encrypts under the active key; `associatedData` must be given again, identical, to open it. */
  seal(plaintext: Uint8Array, associatedData: Uint8Array): Sealed {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.activeId)!, nonce);
    cipher.setAAD(associatedData);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { keyId: this.activeId, bytes: Buffer.concat([nonce, cipher.getAuthTag(), ciphertext]) };
  }

  open(sealed: Sealed, associatedData: Uint8Array): Buffer {
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new DecryptionFailed(sealed.keyId, `no such key is configured (configured: ${this.keyIds.join(', ')})`);
    if (sealed.bytes.length < NONCE_BYTES + TAG_BYTES) throw new DecryptionFailed(sealed.keyId, 'the ciphertext is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(associatedData);
    decipher.setAuthTag(sealed.bytes.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.bytes.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new DecryptionFailed(sealed.keyId, 'authentication failed (another key, altered bytes, or another owner)');
    }
  }
}
