import { EgressPolicy, InvalidEgressRule, parseEgressRule } from '../../../activities/egress';

/** The host a URL's parser hands the policy, as an HTTP step's URL would. */
const hostOf = (url: string): string => new URL(url).hostname;

const refusalOf = (policy: EgressPolicy, url: string): string | undefined => policy.checkHost(hostOf(url))?.message;

describe('rules', () => {
  test.each([
    ['api.example.com', { kind: 'host', name: 'api.example.com' }],
    ['API.Example.COM.', { kind: 'host', name: 'api.example.com' }],
    ['bücher.example', { kind: 'host', name: 'xn--bcher-kva.example' }],
    ['*.example.com', { kind: 'wildcard', suffix: '.example.com' }],
    ['10.0.0.0/8', { kind: 'range' }],
    ['192.0.2.7', { kind: 'range' }],
    ['fd00::/8', { kind: 'range' }],
    ['::1', { kind: 'range' }],
  ])('%s is read as a %o rule', (entry, expected) => {
    expect(parseEgressRule(entry)).toMatchObject(expected);
  });

  test.each(['', '*', '*.', 'http://example.com', 'example.com/path', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/x', '10.1', '0x7f.1', '1.2.3.4/8/9', 'a..b'])(
    '%p is refused',
    (entry) => {
      expect(() => parseEgressRule(entry)).toThrow(InvalidEgressRule);
    },
  );

  test('a range written over IPv4-mapped addresses means the IPv4 range', () => {
    const policy = new EgressPolicy({ deny: ['::ffff:10.0.0.0/104'] });
    expect(policy.checkHost('10.1.2.3')?.message).toContain('deny ::ffff:10.0.0.0/104');
    expect(policy.checkHost('11.0.0.1')).toBeUndefined();
  });
});

describe('the defaults', () => {
  const policy = new EgressPolicy();

  test.each([
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is link-local (deny 169.254.0.0/16)'],
    ['http://169.254.0.1/', '169.254.0.1 is link-local (deny 169.254.0.0/16)'],
    ['http://[fe80::1]/', 'fe80::1 is link-local (deny fe80::/10)'],
    ['http://[fd00:ec2::254]/', 'fd00:ec2::254 is a cloud metadata address (deny fd00:ec2::254)'],
    ['http://100.100.100.200/', '100.100.100.200 is a cloud metadata address (deny 100.100.100.200)'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal is a cloud metadata host (deny metadata.google.internal)'],
    ['http://METADATA.google.internal./', 'metadata.google.internal is a cloud metadata host (deny metadata.google.internal)'],
    ['http://0.0.0.0:8080/', '0.0.0.0 is unspecified (deny 0.0.0.0/8)'],
    ['http://[::]/', ':: is unspecified (deny ::)'],
  ])('%s is refused: %s', (url, reason) => {
    expect(refusalOf(policy, url)).toBe(`refused by egress policy: ${reason}`);
  });

  test.each([
    // Other spellings of 169.254.169.254: URL parsing normalises them before the policy sees the host.
    'http://2852039166/',
    'http://0xA9FEA9FE/',
    'http://0xa9.0xfe.0xa9.0xfe/',
    'http://0251.0376.0251.0376/',
    'http://169.254.43518/',
    // IPv4-mapped IPv6 reaches the IPv4 address.
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:a9fe:a9fe]/',
  ])('%s is 169.254.169.254 and refused', (url) => {
    expect(refusalOf(policy, url)).toMatch(/169\.254\.169\.254\)? is link-local \(deny 169\.254\.0\.0\/16\)$/);
  });

  test.each(['http://127.0.0.1:3000/', 'http://[::1]/', 'http://localhost/', 'http://10.1.2.3/', 'http://192.168.0.10/', 'http://[fd12::1]/', 'http://example.com/'])(
    '%s is allowed: loopback and private ranges stay reachable unless configured',
    (url) => {
      expect(refusalOf(policy, url)).toBeUndefined();
    },
  );

  test('a name that resolves to a denied address is refused; any one denied address refuses it', () => {
    expect(policy.checkResolved('evil.example', ['169.254.169.254'])?.message).toBe(
      'refused by egress policy: evil.example (169.254.169.254) is link-local (deny 169.254.0.0/16)',
    );
    expect(policy.checkResolved('evil.example', ['93.184.216.34', '::ffff:169.254.169.254'])?.message).toContain('is link-local');
    expect(policy.checkResolved('fine.example', ['93.184.216.34', '2606:2800:220:1::1'])).toBeUndefined();
  });

  test('redirects are capped at 5', () => {
    expect(policy.maxRedirects).toBe(5);
    expect(() => new EgressPolicy({ maxRedirects: -1 })).toThrow(RangeError);
  });
});

describe('configured deny list', () => {
  const policy = new EgressPolicy({ deny: ['127.0.0.0/8', '::1', '10.0.0.0/8', '2001:db8::/32', '*.corp.example', 'vault.example'] });

  test('CIDRs over IPv4 and IPv6, mapped addresses included', () => {
    expect(refusalOf(policy, 'http://10.20.30.40/')).toBe('refused by egress policy: 10.20.30.40 is denied (deny 10.0.0.0/8)');
    expect(refusalOf(policy, 'http://[::ffff:10.20.30.40]/')).toContain('is denied (deny 10.0.0.0/8)');
    expect(refusalOf(policy, 'http://[2001:db8:1::5]/')).toBe('refused by egress policy: 2001:db8:1::5 is denied (deny 2001:db8::/32)');
    expect(refusalOf(policy, 'http://[::1]/')).toContain('(deny ::1)');
    expect(refusalOf(policy, 'http://11.0.0.1/')).toBeUndefined();
    expect(refusalOf(policy, 'http://[2001:db9::1]/')).toBeUndefined();
  });

  test('names and wildcards; a wildcard covers every level below its domain, not the domain itself', () => {
    expect(refusalOf(policy, 'http://VAULT.example/')).toBe('refused by egress policy: vault.example is denied (deny vault.example)');
    expect(refusalOf(policy, 'http://git.corp.example/')).toContain('(deny *.corp.example)');
    expect(refusalOf(policy, 'http://a.b.corp.example/')).toContain('(deny *.corp.example)');
    expect(refusalOf(policy, 'http://corp.example/')).toBeUndefined();
    expect(refusalOf(policy, 'http://notcorp.example/')).toBeUndefined();
  });

  test('what a name resolves to is checked against the ranges', () => {
    expect(policy.checkResolved('localhost', ['::1', '127.0.0.1'])?.message).toBe('refused by egress policy: localhost (::1) is denied (deny ::1)');
  });

  test('describe lists the configuration, not the defaults', () => {
    expect(policy.describe()).toEqual({
      allow: [],
      deny: ['127.0.0.0/8', '::1', '10.0.0.0/8', '2001:db8::/32', '*.corp.example', 'vault.example'],
      maxRedirects: 5,
    });
  });
});

describe('allow list', () => {
  test('with names only, an unlisted name is refused before it is looked up', () => {
    const policy = new EgressPolicy({ allow: ['api.example.com', '*.partner.example'] });
    expect(refusalOf(policy, 'https://api.example.com/v1')).toBeUndefined();
    expect(refusalOf(policy, 'https://x.y.partner.example/')).toBeUndefined();
    expect(refusalOf(policy, 'https://attacker.example/')).toBe('refused by egress policy: attacker.example is not in the allow list');
    expect(refusalOf(policy, 'http://127.0.0.1/')).toBe('refused by egress policy: 127.0.0.1 is not in the allow list');
    // A listed name is allowed wherever it resolves, except to a denied address.
    expect(policy.checkResolved('api.example.com', ['10.0.0.1'])).toBeUndefined();
    expect(policy.checkResolved('api.example.com', ['169.254.169.254'])?.message).toContain('is link-local');
  });

  test('with ranges, a name is judged on what it resolves to: every address must be allowed', () => {
    const policy = new EgressPolicy({ allow: ['10.0.0.0/8', 'fd00::/8'] });
    expect(refusalOf(policy, 'http://service.internal/')).toBeUndefined();
    expect(policy.checkResolved('service.internal', ['10.1.1.1', 'fd00::1'])).toBeUndefined();
    expect(policy.checkResolved('service.internal', ['10.1.1.1', '8.8.8.8'])?.message).toBe(
      'refused by egress policy: service.internal (8.8.8.8) is not in the allow list',
    );
    expect(refusalOf(policy, 'http://10.9.9.9/')).toBeUndefined();
    expect(refusalOf(policy, 'http://[::ffff:10.9.9.9]/')).toBeUndefined();
    expect(refusalOf(policy, 'http://11.0.0.1/')).toBe('refused by egress policy: 11.0.0.1 is not in the allow list');
  });

  test('deny wins over allow, for configured denies and for the defaults', () => {
    const policy = new EgressPolicy({ allow: ['10.0.0.0/8', '169.254.169.254', 'metadata.google.internal', '*.example.com'], deny: ['10.0.0.5', 'secret.example.com'] });
    expect(refusalOf(policy, 'http://10.0.0.4/')).toBeUndefined();
    expect(refusalOf(policy, 'http://10.0.0.5/')).toContain('is denied (deny 10.0.0.5)');
    expect(refusalOf(policy, 'http://169.254.169.254/')).toContain('is link-local');
    expect(refusalOf(policy, 'http://metadata.google.internal/')).toContain('cloud metadata host');
    expect(refusalOf(policy, 'http://secret.example.com/')).toContain('(deny secret.example.com)');
    expect(policy.checkResolved('www.example.com', ['10.0.0.5'])?.message).toContain('www.example.com (10.0.0.5) is denied');
  });
});
