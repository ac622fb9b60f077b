import { normaliseHost, parseAddress, parseEgressRule, ruleMatchesAddress, ruleMatchesName, type EgressRule, type IpAddress } from './rules';

export interface EgressPolicyOptions {
  /** When non-empty, only these hosts and ranges may be called; empty allows everything not denied. */
  allow?: readonly string[];
  /** Refused in addition to the defaults. */
  deny?: readonly string[];
  /** Redirects followed per call; one more fails the call. */
  maxRedirects?: number;
}

interface DenyRule {
  rule: EgressRule;
  /** What the destination is, for the refusal message: "169.254.169.254 is link-local". */
  reason: string;
}

/**
 * Always refused, whatever the configuration says (deny wins over allow). The cloud instance
 * metadata services hand out credentials to whoever asks from the machine, so a template that
 * could reach them could steal the worker's identity:
 * AWS, GCP, Azure, Oracle and DigitalOcean serve it on 169.254.169.254, AWS also on fd00:ec2::254
 * (a unique-local address, not link-local, hence its own entry), Alibaba on 100.100.100.200.
 * 0.0.0.0 and :: are "this host" on Linux, a back door to loopback services when loopback is denied.
 * Loopback and private ranges stay allowed: local development and the tests call 127.0.0.1.
 */
const DEFAULT_DENY: readonly { entry: string; reason: string }[] = [
  { entry: '169.254.0.0/16', reason: 'link-local' },
  { entry: 'fe80::/10', reason: 'link-local' },
  { entry: 'fd00:ec2::254', reason: 'a cloud metadata address' },
  { entry: '100.100.100.200', reason: 'a cloud metadata address' },
  { entry: 'metadata.google.internal', reason: 'a cloud metadata host' },
  { entry: '0.0.0.0/8', reason: 'unspecified' },
  { entry: '::', reason: 'unspecified' },
];

export const DEFAULT_MAX_REDIRECTS = 5;

/** Why a destination was refused. Never worth retrying: the same call would be refused again. */
export class EgressRefusal extends Error {
  override readonly name = 'EgressRefusal';
  constructor(
    readonly host: string,
    readonly explanation: string,
    /** The URL that was refused, which differs from the step's own URL after a redirect. */
    readonly url?: string,
  ) {
    super(`refused by egress policy: ${explanation}`);
  }

  /** The same refusal, naming the URL it was met at. */
  at(url: string): EgressRefusal {
    return new EgressRefusal(this.host, this.explanation, url);
  }
}

/**
 * Which hosts and addresses HTTP steps may reach. Checked twice per connection: on the URL's host
 * before anything is sent (names, IP literals), and on every address a name resolves to, at
 * connect time (see guarded-dispatcher.ts), so a name that points at a denied address, or that
 * changes its answer between a check and the connection (DNS rebinding), is refused too.
 */
export class EgressPolicy {
  readonly maxRedirects: number;
  private readonly allow: EgressRule[];
  private readonly deny: DenyRule[];
  private readonly allowsRanges: boolean;

  constructor(options: EgressPolicyOptions = {}) {
    this.allow = (options.allow ?? []).map(parseEgressRule);
    this.deny = [
      ...DEFAULT_DENY.map(({ entry, reason }) => ({ rule: parseEgressRule(entry), reason })),
      ...(options.deny ?? []).map((entry) => ({ rule: parseEgressRule(entry), reason: 'denied' })),
    ];
    this.allowsRanges = this.allow.some((rule) => rule.kind === 'range');
    this.maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    if (!Number.isInteger(this.maxRedirects) || this.maxRedirects < 0) throw new RangeError('maxRedirects must be an integer ≥ 0');
  }

  /** The configured lists, for the worker's start-up log (defaults left out). */
  describe(): { allow: string[]; deny: string[]; maxRedirects: number } {
    const configuredDeny = this.deny.slice(DEFAULT_DENY.length).map(({ rule }) => rule.text);
    return { allow: this.allow.map((rule) => rule.text), deny: configuredDeny, maxRedirects: this.maxRedirects };
  }

  /**
   * The check before connecting, on a URL host. An IP literal is judged in full here (no lookup
   * will follow); a name is judged on the name rules, and also refused at once when the allow list
   * has only names and none matches, so a refused name is not even looked up (DNS is a channel too).
   */
  checkHost(urlHost: string): EgressRefusal | undefined {
    const host = normaliseHost(urlHost);
    const address = parseAddress(host);
    if (address) return this.checkAddresses(host, [address]);
    const denied = this.deny.find(({ rule }) => ruleMatchesName(rule, host));
    if (denied) return new EgressRefusal(host, `${host} is ${denied.reason} (deny ${denied.rule.text})`);
    if (this.allow.length > 0 && !this.allowsName(host) && !this.allowsRanges) {
      return new EgressRefusal(host, `${host} is not in the allow list`);
    }
    return undefined;
  }

  /** The check at connect time, on everything `host` resolved to: one denied address refuses the host. */
  checkResolved(urlHost: string, addresses: readonly string[]): EgressRefusal | undefined {
    const host = normaliseHost(urlHost);
    const byName = this.checkHost(host);
    if (byName) return byName;
    const parsed = addresses.map((address) => parseAddress(address));
    if (parsed.some((address) => address === undefined)) return new EgressRefusal(host, `${host} resolved to something that is not an address`);
    return this.checkAddresses(host, parsed as IpAddress[]);
  }

  private checkAddresses(host: string, addresses: readonly IpAddress[]): EgressRefusal | undefined {
    for (const address of addresses) {
      const denied = this.deny.find(({ rule }) => ruleMatchesAddress(rule, address));
      if (denied) return new EgressRefusal(host, `${describe(host, address)} is ${denied.reason} (deny ${denied.rule.text})`);
    }
    if (this.allow.length === 0 || this.allowsName(host)) return undefined;
    const outside = addresses.find((address) => !this.allow.some((rule) => ruleMatchesAddress(rule, address)));
    return outside ? new EgressRefusal(host, `${describe(host, outside)} is not in the allow list`) : undefined;
  }

  private allowsName(host: string): boolean {
    return this.allow.some((rule) => ruleMatchesName(rule, host));
  }
}

/** "169.254.169.254", or "localhost (127.0.0.1)" when a name or another spelling led to the address. */
function describe(host: string, address: IpAddress): string {
  const text = address.toString();
  return host === text ? text : `${host} (${text})`;
}
