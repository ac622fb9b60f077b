import type { PrismaClient } from '@prisma/client';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../../../common/logger';

/** How long a signed-in person's claims are taken as written: within it, their requests cost no write. */
export const PERSON_SYNC_INTERVAL_MS = 10 * 60_000;

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export interface SignedInPerson {
  tenantId: string;
  subject: string;
  roles: string[];
  /** The `name` (or `preferred_username`) claim. */
  displayName?: string;
  /** The `email` claim. */
  email?: string;
}

/**
 * Fills the people directory from OIDC sign-ins, so approvers named by role resolve to addresses
 * without an admin typing them in. Written after the answer (never delaying or failing a request),
 * at most once per PERSON_SYNC_INTERVAL_MS per person and claims. An entry an admin wrote keeps
 * their roles and only gains a name or e-mail it lacked; an entry sign-in wrote follows the claims.
 */
export class PersonSync {
  private readonly synced = new LRUCache<string, true>({ max: 10_000, ttl: PERSON_SYNC_INTERVAL_MS });

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
  ) {}

  signedIn(person: SignedInPerson): void {
    const email = person.email !== undefined && EMAIL.test(person.email) && person.email.length <= 320 ? person.email : null;
    const displayName = (person.displayName ?? '').slice(0, 200);
    const key = JSON.stringify([person.tenantId, person.subject, displayName, email, [...person.roles].sort()]);
    if (this.synced.has(key)) return;
    this.synced.set(key, true);
    this.prisma.$executeRaw`
      INSERT INTO "Person" ("tenantId", "subject", "displayName", "email", "roles", "source", "updatedAt")
      VALUES (${person.tenantId}::uuid, ${person.subject}, ${displayName}, ${email}, ${person.roles}, 'oidc', now())
      ON CONFLICT ("tenantId", "subject") DO UPDATE SET
        "displayName" = CASE WHEN "Person"."source" = 'oidc' OR "Person"."displayName" = '' THEN EXCLUDED."displayName" ELSE "Person"."displayName" END,
        "email" = CASE WHEN "Person"."source" = 'oidc' OR "Person"."email" IS NULL THEN EXCLUDED."email" ELSE "Person"."email" END,
        "roles" = CASE WHEN "Person"."source" = 'oidc' THEN EXCLUDED."roles" ELSE "Person"."roles" END,
        "updatedAt" = now()`.catch((error: unknown) => {
      // Tried again at the next request: the directory is a convenience, not the credential.
      this.synced.delete(key);
      this.logger.warn({ err: error, subject: person.subject }, 'could not record the signed-in person in the directory');
    });
  }
}
