import { loadWorkerConfig } from '../../../apps/common/config';
import { egressPolicyOf } from '../../../apps/worker/src/worker';

test('the egress lists are comma-separated, trimmed, and empty by default; redirects default to 5', () => {
  expect(loadWorkerConfig({})).toMatchObject({ EGRESS_ALLOW: [], EGRESS_DENY: [], EGRESS_MAX_REDIRECTS: 5 });
  const config = loadWorkerConfig({ EGRESS_ALLOW: ' *.example.com, 10.0.0.0/8 ,', EGRESS_DENY: '127.0.0.0/8,::1', EGRESS_MAX_REDIRECTS: '2' });
  expect(config).toMatchObject({ EGRESS_ALLOW: ['*.example.com', '10.0.0.0/8'], EGRESS_DENY: ['127.0.0.0/8', '::1'], EGRESS_MAX_REDIRECTS: 2 });
  const policy = egressPolicyOf(config);
  expect(policy.describe()).toEqual({ allow: ['*.example.com', '10.0.0.0/8'], deny: ['127.0.0.0/8', '::1'], maxRedirects: 2 });
  expect(policy.checkHost('127.0.0.1')?.message).toContain('deny 127.0.0.0/8');
});

test('an invalid entry stops the worker at start-up, naming the variable and the entry', () => {
  expect(() => loadWorkerConfig({ EGRESS_DENY: '10.0.0.0/33' })).toThrow('invalid configuration: EGRESS_DENY: "10.0.0.0/33" has an invalid prefix length');
  expect(() => loadWorkerConfig({ EGRESS_ALLOW: 'https://api.example.com' })).toThrow(/EGRESS_ALLOW: "https:\/\/api.example.com" is not a host name/);
  expect(() => loadWorkerConfig({ EGRESS_MAX_REDIRECTS: '-1' })).toThrow(/EGRESS_MAX_REDIRECTS/);
});
