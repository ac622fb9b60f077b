import type { PrismaClient } from '@prisma/client';
import type { ApiConfig } from '../../../common/config';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Principal } from '../http/principal';
import type { PersonSync } from '../notifications/person-sync';
import { problems } from '../http/problem';
import { CredentialRefused } from './errors';

/** Which issuer to trust and which claims carry the tenant and roles (from OIDC_* configuration). */
export interface OidcSettings {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Claim holding the tenant's slug. */
  tenantClaim: string;
  /** Claim holding the roles: an array of names, or one space- or comma-separated string. */
  rolesClaim: string;
  /** Seconds of clock difference tolerated on exp, nbf and iat. */
  clockToleranceSeconds: number;
  /**
   * Least time between two fetches of the JWKS (jose's default is 30 s): a token naming an unknown
   * key fetches the set again, and the cool-down keeps made-up key ids from hammering the issuer.
   */
  jwksCooldownMs: number;
  /** A role in the roles claim that makes the caller a system administrator; none when unset. */
  systemRole?: string;
}

const MAX_CACHED_TENANTS = 1_000;
/** A tenant's slug never names another tenant, but a tenant created after a refusal must be found. */
const TENANT_CACHE_TTL_MS = 60_000;

/**
 * Bearer JWTs from an OIDC issuer, checked against its JWKS (signature, issuer, audience, expiry
 * with the configured clock tolerance). `createRemoteJWKSet` caches the key set and fetches it
 * again when a token names a key it does not hold, which is how a rotation is picked up; a key the
 * issuer removed stops verifying once the set has been fetched again.
 */
export class OidcVerifier {
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;
  private readonly tenantIds = new LRUCache<string, string>({ max: MAX_CACHED_TENANTS, ttl: TENANT_CACHE_TTL_MS });

  constructor(
    private readonly settings: OidcSettings,
    private readonly prisma: PrismaClient,
    /** Where signed-in people are recorded for notices (their name and e-mail claims). */
    private readonly people?: PersonSync,
  ) {
    this.keys = createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: settings.jwksCooldownMs });
  }

  async verify(jwt: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, this.keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTolerance: this.settings.clockToleranceSeconds,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw await this.attributed(refusalOf(error), error);
    }
    const tenantSlug = payload[this.settings.tenantClaim];
    if (typeof tenantSlug !== 'string' || tenantSlug === '') {
      throw new CredentialRefused('invalid', `the token has no ${this.settings.tenantClaim} claim`);
    }
    const roles = rolesOf(payload[this.settings.rolesClaim]);
    const principal: Principal = {
      subject: payload.sub!,
      tenantId: await this.tenantIdOf(tenantSlug),
      roles,
      system: this.settings.systemRole !== undefined && roles.includes(this.settings.systemRole),
      credential: `jwt:${this.settings.issuer}`,
    };
    this.people?.signedIn({ ...principal, displayName: claimText(payload.name) ?? claimText(payload.preferred_username), email: claimText(payload.email) });
    return principal;
  }

  /**
   * The tenant and subject of a refused JWT whose signature verified and whose claims then failed
   * (expired, another audience): jose checks the signature first, so what it names is the issuer's
   * word, and the refusal belongs in that tenant's audit log. Best effort: a tenant that does not
   * exist, or cannot be looked up now, leaves the refusal to the system scope.
   */
  private async attributed(refusal: CredentialRefused, error: unknown): Promise<CredentialRefused> {
    if (!(error instanceof joseErrors.JWTExpired || error instanceof joseErrors.JWTClaimValidationFailed)) return refusal;
    const tenantSlug = error.payload[this.settings.tenantClaim];
    const subject = error.payload.sub;
    if (typeof tenantSlug !== 'string' || tenantSlug === '' || typeof subject !== 'string') return refusal;
    try {
      const tenantId = await this.tenantIdOf(tenantSlug);
      return new CredentialRefused(refusal.reason, refusal.detail, { tenantId, subject, credential: `jwt:${this.settings.issuer}` });
    } catch {
      return refusal;
    }
  }

  private async tenantIdOf(slug: string): Promise<string> {
    const cached = this.tenantIds.get(slug);
    if (cached) return cached;
    const tenant = await this.prisma.tenant.findUnique({ where: { slug }, select: { id: true } });
    if (!tenant) throw new CredentialRefused('unknown-tenant', 'the token names a tenant that does not exist');
    this.tenantIds.set(slug, tenant.id);
    return tenant.id;
  }
}

function claimText(claim: unknown): string | undefined {
  return typeof claim === 'string' && claim !== '' ? claim : undefined;
}

function rolesOf(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.filter((role): role is string => typeof role === 'string' && role !== '');
  if (typeof claim === 'string') return claim.split(/[\s,]+/).filter(Boolean);
  return [];
}

/** JOSE errors that say the token is not good; JSON Web Key Set errors say the issuer is not reachable or sane. */
const INVALID_TOKEN_ERRORS = [
  joseErrors.JWTClaimValidationFailed,
  joseErrors.JWSSignatureVerificationFailed,
  joseErrors.JWKSNoMatchingKey,
  joseErrors.JWKSMultipleMatchingKeys,
  joseErrors.JOSEAlgNotAllowed,
  joseErrors.JOSENotSupported,
];

function refusalOf(error: unknown): CredentialRefused {
  if (error instanceof joseErrors.JWTExpired) return new CredentialRefused('expired', 'the token has expired');
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid) {
    return new CredentialRefused('malformed', 'the token is not a well-formed JWT');
  }
  if (INVALID_TOKEN_ERRORS.some((type) => error instanceof type)) {
    return new CredentialRefused('invalid', `the token is not valid (${(error as InstanceType<typeof joseErrors.JOSEError>).code})`);
  }
  // The key set could not be fetched or read (timeout, network, a bad answer): the caller is not at
  // fault and may retry, so this is a 503, not a 401; the error handler logs it with its cause.
  throw Object.assign(problems.unavailable('the OIDC issuer’s signing keys cannot be fetched; retry later'), { cause: error });
}

/** jose's own default: a token naming an unknown key refetches the JWKS at most this often. */
const JWKS_COOLDOWN_MS = 30_000;

/** The OIDC issuer the API trusts, when one is configured. */
export function oidcSettingsOf(config: ApiConfig): OidcSettings | undefined {
  if (!config.OIDC_ISSUER || !config.OIDC_AUDIENCE || !config.OIDC_JWKS_URL) return undefined;
  return {
    issuer: config.OIDC_ISSUER,
    audience: config.OIDC_AUDIENCE,
    jwksUrl: config.OIDC_JWKS_URL,
    tenantClaim: config.OIDC_TENANT_CLAIM,
    rolesClaim: config.OIDC_ROLES_CLAIM,
    clockToleranceSeconds: config.OIDC_CLOCK_TOLERANCE,
    jwksCooldownMs: JWKS_COOLDOWN_MS,
    ...(config.OIDC_SYSTEM_ROLE ? { systemRole: config.OIDC_SYSTEM_ROLE } : {}),
  };
}
