import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Keyring } from '../../apps/common/crypto/keyring';

/**
 * The development secrets key: generated once into `.data/` (readable by its owner only) when
 * SECRETS_KEYS is not configured, so `npm run up` stores secrets with no setup and keeps reading
 * them across restarts. Deployments configure SECRETS_KEYS themselves.
 */
export function developmentSecretsKeys(dataDir: string): { keys: string; file: string; created: boolean } {
  const file = resolve(dataDir, 'secrets-keys');
  if (existsSync(file)) return { keys: readFileSync(file, 'utf8').trim(), file, created: false };
  const keys = Keyring.generateEntry('dev1');
  // `wx`: never overwrite a key another start wrote meanwhile; what it sealed would be lost.
  writeFileSync(file, `${keys}\n`, { mode: 0o600, flag: 'wx' });
  return { keys, file, created: true };
}
