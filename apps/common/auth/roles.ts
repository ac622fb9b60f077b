/**
 * flowpilot's roles within a tenant and what each grants: the API's authorization (apps/api/src/auth/policy.ts)
 * and the worker's notices (who may approve a publish) read this one table. A credential may carry
 * other role names too (e.g. `sre`), which only approval steps read.
 */
export const ROLES = ['admin', 'editor', 'operator', 'approver', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What each role grants. Admin grants everything. Editors, operators and approvers also read,
 * since nobody can edit, operate or decide on what they cannot see.
 */
export const GRANTS: Readonly<Record<Role, readonly Role[]>> = {
  admin: ROLES,
  editor: ['editor', 'viewer'],
  operator: ['operator', 'viewer'],
  approver: ['approver', 'viewer'],
  viewer: ['viewer'],
};

/** Whether a role name a credential or a directory entry carries grants `wanted`. */
export function grants(role: string, wanted: Role): boolean {
  // Own keys only: a role named `constructor` or `__proto__` must not reach Object's prototype.
  return Object.hasOwn(GRANTS, role) && GRANTS[role as Role].includes(wanted);
}

/** Every role that grants `wanted` (for `approver`: admin and approver), in the order of ROLES. */
export function rolesGranting(wanted: Role): Role[] {
  return ROLES.filter((role) => grants(role, wanted));
}
