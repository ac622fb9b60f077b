import { allows, policyFor, MissingPolicy, ROLES, type Access } from '../../../apps/api/src/auth/policy';
import type { Principal } from '../../../apps/api/src/http/principal';
import { PUBLISH_APPROVER_ROLES } from '../../../activities/dolphinscheduler/publish-activities';

const principal = (roles: string[], system = false): Principal => ({ subject: 's', tenantId: 't', roles, system, credential: 'token:x' });

describe('roles', () => {
  test.each([
    ['admin', ['admin', 'editor', 'operator', 'approver', 'viewer']],
    ['editor', ['editor', 'viewer']],
    ['operator', ['operator', 'viewer']],
    ['approver', ['approver', 'viewer']],
    ['viewer', ['viewer']],
    ['sre', []],
    // Names of Object's prototype are roles like any other unknown one, not a crash.
    ['constructor', []],
    ['__proto__', []],
    ['toString', []],
  ])('%s grants %j', (role, granted) => {
    expect(ROLES.filter((needed) => allows({ role: needed }, principal([role])))).toEqual(granted);
  });

  test('a system administrator is a flag of the credential, not a role of the tenant', () => {
    const system: Access = { system: true };
    expect(allows(system, principal(['admin']))).toBe(false);
    expect(allows(system, principal([], true))).toBe(true);
  });

  test('a publish awaiting approval is told to exactly the roles its approve and reject routes let decide', () => {
    for (const route of ['/api/v1/publishes/:id/approve', '/api/v1/publishes/:id/reject']) {
      const deciding = ROLES.filter((role) => allows(policyFor('post', route), principal([role])));
      expect(PUBLISH_APPROVER_ROLES).toEqual(deciding);
    }
    expect(PUBLISH_APPROVER_ROLES).toEqual(['admin', 'approver']);
  });

  test('a route without an entry has no policy', () => {
    expect(policyFor('get', '/api/v1/runs/:id')).toEqual({ role: 'viewer' });
    expect(() => policyFor('put', '/api/v1/runs/:id')).toThrow(MissingPolicy);
  });
});
