/**
 * Where HTTP steps may connect: the policy (rules.ts, policy.ts), the undici dispatcher that
 * enforces it on resolved addresses (guarded-dispatcher.ts), and the fetch that follows redirects
 * within it (redirects.ts, guarded-fetch.ts).
 */
export { DEFAULT_MAX_REDIRECTS, EgressPolicy, EgressRefusal, type EgressPolicyOptions } from './policy';
export { InvalidEgressRule, parseEgressRule } from './rules';
export { GuardedFetch, type GuardedRequestInit } from './guarded-fetch';
export { TooManyRedirects } from './redirects';
