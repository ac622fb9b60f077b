import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * One entry of an allow or deny list, as an operator writes it:
 * - `api.example.com`: that host name exactly;
 * - `*.example.com`: any name below example.com (not example.com itself: list both to mean both);
 * - `10.0.0.0/8`, `fd00::/8`: an address range; `192.0.2.7` or `::1` alone is a one-address range.
 * Names match the URL's host; ranges match addresses (IP literals in URLs and what names resolve to).
 */
export type EgressRule =
  | { kind: 'host'; text: string; name: string }
  | { kind: 'wildcard'; text: string; suffix: string }
  | { kind: 'range'; text: string; range: [IpAddress, number] };

export class InvalidEgressRule extends Error {
  override readonly name = 'InvalidEgressRule';
}

const HOST_NAME = /^(?!-)[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;

export function parseEgressRule(entry: string): EgressRule {
  const text = entry.trim();
  const range = parseRange(text);
  if (range) return { kind: 'range', text, range };
  if (text.startsWith('*.')) {
    const name = hostName(text.slice(2));
    if (name) return { kind: 'wildcard', text, suffix: `.${name}` };
  } else {
    const name = hostName(text);
    if (name) return { kind: 'host', text, name };
  }
  throw new InvalidEgressRule(`"${entry}" is not a host name, a *.domain wildcard, an IP address or a CIDR range`);
}

/** Whether a name rule matches `host` (already normalised by `normaliseHost`). Ranges never match names. */
export function ruleMatchesName(rule: EgressRule, host: string): boolean {
  if (rule.kind === 'host') return host === rule.name;
  if (rule.kind === 'wildcard') return host.endsWith(rule.suffix);
  return false;
}

/** Whether a range rule holds `address` (normalised by `parseAddress`). Name rules never match addresses. */
export function ruleMatchesAddress(rule: EgressRule, address: IpAddress): boolean {
  if (rule.kind !== 'range') return false;
  const [network, bits] = rule.range;
  // ipaddr.js throws when matching an IPv4 address against an IPv6 range and vice versa.
  return address.kind() === network.kind() && address.match(network, bits);
}

/**
 * An IP address in its canonical form, or undefined for a name. IPv4-mapped IPv6 addresses
 * (`::ffff:169.254.169.254`) become the IPv4 address they reach, so IPv4 ranges apply to them.
 * Only canonical literals count: WHATWG URL parsing has already turned `0xA9FEA9FE`, `2852039166`
 * and `0251.0376.0251.0376` into `169.254.169.254`, and resolvers answer in canonical form.
 */
export function parseAddress(host: string): IpAddress | undefined {
  const bare = unbracketed(host);
  if (isIP(bare) === 0) return undefined;
  return ipaddr.process(bare);
}

/** A URL host as rules see it: lower case, no IPv6 brackets, no trailing dot of a fully qualified name. */
export function normaliseHost(host: string): string {
  return unbracketed(host.toLowerCase()).replace(/\.$/, '');
}

function parseRange(text: string): [IpAddress, number] | undefined {
  const [address, bits, ...rest] = text.split('/');
  if (rest.length > 0 || address === undefined) return undefined;
  // Only canonical IPv4 (four decimal parts): ipaddr.js would also read `10.1` or `0x0a.1` as addresses,
  // which in a configuration is more likely a typo than a wish.
  const isAddress = ipaddr.IPv4.isValidFourPartDecimal(address) || (address.includes(':') && ipaddr.IPv6.isValid(address));
  if (!isAddress) return undefined;
  const parsed = ipaddr.parse(address);
  const maxBits = parsed.kind() === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? maxBits : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= maxBits)) throw new InvalidEgressRule(`"${text}" has an invalid prefix length`);
  // A range written over IPv4-mapped addresses means the IPv4 addresses: that is how addresses are compared.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    return [(parsed as ipaddr.IPv6).toIPv4Address(), prefix - 96];
  }
  return [parsed, prefix];
}

function hostName(text: string): string | undefined {
  // domainToASCII reads a URL host: it would take `example.com/path` as `example.com`.
  if (/[\s/\\:?#@[\]%*]/.test(text)) return undefined;
  // domainToASCII applies the same IDNA mapping as URL parsing, so `bücher.example` matches its punycode host.
  const name = domainToASCII(text.toLowerCase()).replace(/\.$/, '');
  return HOST_NAME.test(name) && parseAddress(name) === undefined ? name : undefined;
}

function unbracketed(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
