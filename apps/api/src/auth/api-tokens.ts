import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from '@prisma/client';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../../../common/logger';
import type { Principal } from '../http/principal';
import { CredentialRefused } from './errors';

/**
 * API tokens: `fpk_` and 32 random bytes in base64url. The prefix lets secret scanners recognise a
 * leaked token. Only the SHA-256 of the whole token is stored: a slow password hash (bcrypt,
 * argon2) exists to make guessing low-entropy passwords expensive, but 256 random bits cannot be
 * guessed at any speed, so one fast hash is as safe and lets a lookup be one indexed equality.
 */
export const TOKEN_PREFIX = 'fpk_';
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^fpk_[A-Za-z0-9_-]{43}$/;

/**
 * How long a verified token is trusted without asking the database again. This is the bound on
 * how long a revoked (or expired-by-edit) token keeps working on an instance that did not revoke it.
 */
export const TOKEN_CACHE_TTL_MS = 5_000;
const MAX_CACHED_TOKENS = 10_000;
/** lastUsedAt is written at most this often per token, after the answer, never on the request's path. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function newTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
}

export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function looksLikeApiToken(credential: string): boolean {
  return credential.startsWith(TOKEN_PREFIX);
}

interface VerifiedToken {
  principal: Principal;
  expiresAt: number | null;
}

export class ApiTokenVerifier {
  private readonly cache = new LRUCache<string, VerifiedToken>({ max: MAX_CACHED_TOKENS, ttl: TOKEN_CACHE_TTL_MS });
  private readonly lastUsedWritten = new LRUCache<string, number>({ max: MAX_CACHED_TOKENS, ttl: LAST_USED_RESOLUTION_MS });

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
  ) {}

  /** The token's principal; a cache hit costs a hash and a map lookup, no database round trip. */
  async verify(secret: string): Promise<Principal> {
    if (!TOKEN_PATTERN.test(secret)) throw new CredentialRefused('malformed', 'the token is not a flowpilot API token');
    const hash = hashTokenSecret(secret);
    const verified = this.cache.get(hash) ?? (await this.load(hash));
    if (verified.expiresAt !== null && verified.expiresAt <= Date.now()) {
      this.cache.delete(hash);
      const { tenantId, subject, credential } = verified.principal;
      throw new CredentialRefused('expired', 'the token has expired', { tenantId, subject, credential });
    }
    return verified.principal;
  }

  /** Drops a revoked token from this instance's cache at once; other instances drop it within TOKEN_CACHE_TTL_MS. */
  forget(tokenId: string): void {
    const credential = `token:${tokenId}`;
    for (const [hash, verified] of this.cache.entries()) {
      if (verified.principal.credential === credential) this.cache.delete(hash);
    }
  }

  private async load(hash: string): Promise<VerifiedToken> {
    const row = await this.prisma.apiToken.findUnique({ where: { secretHash: hash } });
    if (!row) throw new CredentialRefused('unknown', 'the token is not known');
    if (row.revokedAt) {
      throw new CredentialRefused('revoked', 'the token has been revoked', { tenantId: row.tenantId, subject: row.name, credential: `token:${row.id}` });
    }
    const verified: VerifiedToken = {
      principal: { subject: row.name, tenantId: row.tenantId, roles: row.roles, system: row.system, credential: `token:${row.id}` },
      expiresAt: row.expiresAt?.getTime() ?? null,
    };
    this.cache.set(hash, verified);
    this.noteUse(row.id, row.lastUsedAt);
    return verified;
  }

  private noteUse(tokenId: string, lastUsedAt: Date | null): void {
    const now = Date.now();
    if (this.lastUsedWritten.has(tokenId)) return;
    if (lastUsedAt && now - lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWritten.set(tokenId, now);
    this.prisma.apiToken.update({ where: { id: tokenId }, data: { lastUsedAt: new Date(now) } }).catch((error: unknown) => {
      this.logger.warn({ err: error, tokenId }, 'recording a token’s last use failed');
    });
  }
}
