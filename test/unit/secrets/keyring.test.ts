import { DecryptionFailed, InvalidKeyring, Keyring } from '../../../apps/common/crypto/keyring';
import { ENCRYPTED_ENCODING, EncryptionCodec, PayloadDecryptionFailed } from '../../../apps/common/crypto/payload-codec';
import { loadWorkerConfig } from '../../../apps/common/config';
import { defaultPayloadConverter } from '@temporalio/common';

const k1 = Keyring.generateEntry('k1');
const k2 = Keyring.generateEntry('k2');
const aad = Buffer.from('tenant\u0000NAME');

test('a value sealed under the active key opens with the same associated data, under any configured key', () => {
  const old = Keyring.parse(k1, 'SECRETS_KEYS');
  const sealed = old.seal(Buffer.from('s3cret'), aad);
  expect(sealed.keyId).toBe('k1');
  expect(sealed.bytes.includes(Buffer.from('s3cret'))).toBe(false);

  const rotated = Keyring.parse(`${k2},${k1}`, 'SECRETS_KEYS');
  expect(rotated.activeKeyId).toBe('k2');
  expect(rotated.open(sealed, aad).toString()).toBe('s3cret');
  expect(rotated.seal(Buffer.from('x'), aad).keyId).toBe('k2');
});

test('other associated data, an altered byte or a key not configured fail to open', () => {
  const keyring = Keyring.parse(k1, 'SECRETS_KEYS');
  const sealed = keyring.seal(Buffer.from('s3cret'), aad);
  expect(() => keyring.open(sealed, Buffer.from('other\u0000NAME'))).toThrow(DecryptionFailed);
  const altered = Buffer.from(sealed.bytes);
  altered[altered.length - 1]! ^= 1;
  expect(() => keyring.open({ keyId: 'k1', bytes: altered }, aad)).toThrow(DecryptionFailed);
  expect(() => Keyring.parse(k2, 'SECRETS_KEYS').open(sealed, aad)).toThrow(/no such key is configured \(configured: k2\)/);
});

test('a malformed keyring is refused naming the setting, never quoting a key', () => {
  expect(() => Keyring.parse('', 'SECRETS_KEYS')).toThrow(InvalidKeyring);
  expect(() => Keyring.parse('k1:c2hvcnQ=', 'SECRETS_KEYS')).toThrow('SECRETS_KEYS: key k1 must be 32 bytes in base64, not 5');
  expect(() => Keyring.parse(`${k1},${k1}`, 'SECRETS_KEYS')).toThrow('appears twice');
  expect(() => Keyring.parse('no-colon', 'SECRETS_KEYS')).toThrow(/entry 1 must be/);
  expect(() => loadWorkerConfig({ PAYLOAD_CODEC_KEYS: 'k1:AAAA' })).toThrow(/PAYLOAD_CODEC_KEYS: key k1 must be 32 bytes/);
  expect(loadWorkerConfig({}).SECRETS_KEYS).toBeUndefined();
  expect(loadWorkerConfig({ SECRETS_KEYS: `${k2},${k1}` }).SECRETS_KEYS?.keyIds).toEqual(['k2', 'k1']);
});

test('the payload codec encrypts whole payloads, names the key, and decodes under a rotated keyring', async () => {
  const payload = defaultPayloadConverter.toPayload({ password: 'hunter2' });
  const [encoded] = await new EncryptionCodec(Keyring.parse(k1, 'PAYLOAD_CODEC_KEYS')).encode([payload]);
  expect(Buffer.from(encoded!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
  expect(Buffer.from(encoded!.metadata!['encryption-key-id']!).toString()).toBe('k1');
  expect(Buffer.from(encoded!.data!).toString('latin1')).not.toContain('hunter2');

  const rotated = new EncryptionCodec(Keyring.parse(`${k2},${k1}`, 'PAYLOAD_CODEC_KEYS'));
  const [decoded] = await rotated.decode([encoded!]);
  expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ password: 'hunter2' });
  // Payloads written before the codec was on pass unchanged.
  expect(await rotated.decode([payload])).toEqual([payload]);
  await expect(new EncryptionCodec(Keyring.parse(k2, 'PAYLOAD_CODEC_KEYS')).decode([encoded!])).rejects.toThrow(PayloadDecryptionFailed);
});
