import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import type { EgressPolicy } from './policy';

/**
 * An undici Agent that connects only where `policy` allows, checked on the addresses the socket
 * will really use: the lookup it gives Node resolves the name, checks every address, and only
 * then lets the connection proceed, so there is no window between check and connect for a DNS
 * answer to change (rebinding). IP literals skip Node's lookup, so they are checked before the
 * connector runs. A refusal reaches the caller as the `cause` of undici's "fetch failed".
 *
 * One Agent per policy, shared by every call: it keeps connections alive between steps, as the
 * global fetch did, and a reused connection was checked when it was opened.
 */
export function createGuardedDispatcher(policy: EgressPolicy): Agent {
  const connectChecked = buildConnector({ lookup: checkedLookup(policy) });
  return new Agent({
    connect(options, callback) {
      const refusal = policy.checkHost(options.hostname);
      if (refusal) return callback(refusal, null);
      connectChecked(options, callback);
    },
  });
}

function checkedLookup(policy: EgressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    // Always ask for every address: a name is refused when any of them is denied, whichever Node would pick.
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      const refusal = policy.checkResolved(
        hostname,
        addresses.map(({ address }) => address),
      );
      if (refusal) return callback(refusal, '');
      // getaddrinfo answers ENOTFOUND rather than an empty list, so there is a first address.
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
