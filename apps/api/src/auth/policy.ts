import { grants, type Role } from '../../../common/auth/roles';
import type { Principal } from '../http/principal';

/**
 * Who may call what: ONE table, keyed by method and route pattern as the routes are declared
 * (`declareRoutes` refuses to declare a route that has no entry here, and a test walks the router
 * to prove every route went through it). Resources of another tenant are not a matter of policy:
 * the handlers scope every read and write to the caller's tenant, so they answer 404.
 */

/** The roles and what each grants live in apps/common, where the worker reads them too. */
export { ROLES, type Role } from '../../../common/auth/roles';

/** A role of the caller's tenant, or a system administrator's credential. */
export type Access = { role: Role } | { system: true };

const viewer = { role: 'viewer' } as const;
const editor = { role: 'editor' } as const;
const operator = { role: 'operator' } as const;
/** Decisions need the approver role; the step's own `approvers` (users, roles) then decide who among them. */
const approver = { role: 'approver' } as const;
const admin = { role: 'admin' } as const;
const system = { system: true } as const;

export const POLICY: Readonly<Record<string, Access>> = {
  'POST /api/v1/tenants': system,
  'GET /api/v1/tenants': system,

  'POST /api/v1/tokens': admin,
  'GET /api/v1/tokens': admin,
  'DELETE /api/v1/tokens/:id': admin,

  'GET /api/v1/audit': admin,
  // Refused writes that named no tenant: no tenant's admin may read them, since they belong to none.
  'GET /api/v1/audit/system': system,

  'GET /api/v1/templates': viewer,
  'POST /api/v1/templates': editor,
  'POST /api/v1/templates/validate': viewer,
  'GET /api/v1/templates/:id': viewer,
  'PATCH /api/v1/templates/:id': editor,
  'DELETE /api/v1/templates/:id': editor,
  'GET /api/v1/templates/:id/versions': viewer,
  'POST /api/v1/templates/:id/versions': editor,
  'GET /api/v1/templates/:id/versions/:number': viewer,
  'GET /api/v1/templates/:id/versions/:from/diff/:to': viewer,
  'POST /api/v1/templates/:id/versions/:number/rollback': editor,
  'GET /api/v1/templates/:id/stats': viewer,
  'GET /api/v1/templates/:id/versions/:number/analysis': viewer,
  // A dry run stores nothing and reads no secret: whoever may read the version may try it.
  'POST /api/v1/templates/:id/versions/:number/evaluate': viewer,

  // A schedule starts runs, so it is an operator's to manage, like starting runs by hand.
  'GET /api/v1/templates/:id/schedules': viewer,
  'POST /api/v1/templates/:id/schedules': operator,
  'GET /api/v1/templates/:id/schedules/:scheduleId': viewer,
  'PATCH /api/v1/templates/:id/schedules/:scheduleId': operator,
  'DELETE /api/v1/templates/:id/schedules/:scheduleId': operator,
  'POST /api/v1/templates/:id/schedules/:scheduleId/pause': operator,
  'POST /api/v1/templates/:id/schedules/:scheduleId/resume': operator,
  'POST /api/v1/templates/:id/schedules/:scheduleId/trigger': operator,
  'POST /api/v1/templates/:id/schedules/:scheduleId/backfill': operator,

  // A trigger lets another system start runs: an operator's, like schedules. Deliveries
  // (POST /api/v1/hooks/:triggerId) carry no credential and are signed instead (triggers/hooks.ts).
  'GET /api/v1/templates/:id/triggers': viewer,
  'POST /api/v1/templates/:id/triggers': operator,
  'GET /api/v1/templates/:id/triggers/:triggerId': viewer,
  'PATCH /api/v1/templates/:id/triggers/:triggerId': operator,
  'DELETE /api/v1/templates/:id/triggers/:triggerId': operator,
  'POST /api/v1/templates/:id/triggers/:triggerId/secret': operator,

  'POST /api/v1/runs': operator,
  'GET /api/v1/runs': viewer,
  'GET /api/v1/runs/:id': viewer,
  'GET /api/v1/runs/:id/events': viewer,
  'POST /api/v1/runs/:id/pause': operator,
  'POST /api/v1/runs/:id/resume': operator,
  'POST /api/v1/runs/:id/cancel': operator,
  'POST /api/v1/runs/:id/steps/:stepId/retry': operator,
  'POST /api/v1/runs/:id/steps/:stepId/skip': operator,
  'POST /api/v1/runs/:id/steps/:stepId/approve': approver,
  'POST /api/v1/runs/:id/steps/:stepId/reject': approver,
  // What steps sent and received (credentials redacted) and the outputs they stored: readers of the run.
  'GET /api/v1/runs/:id/logs': viewer,
  'GET /api/v1/runs/:id/logs/stream': viewer,
  'GET /api/v1/runs/:id/artifacts/:artifactId': viewer,

  'GET /api/v1/retention': viewer,
  'PUT /api/v1/retention': admin,

  // Secret values never leave the API, but whoever writes them decides what runs send where.
  'GET /api/v1/secrets': admin,
  'GET /api/v1/secrets/:name': admin,
  'PUT /api/v1/secrets/:name': admin,
  'DELETE /api/v1/secrets/:name': admin,

  // Notifications: channels send where an admin says, with the tenant's secrets; people are personal data.
  'GET /api/v1/channels': admin,
  'POST /api/v1/channels': admin,
  'GET /api/v1/channels/:id': admin,
  'PATCH /api/v1/channels/:id': admin,
  'DELETE /api/v1/channels/:id': admin,
  'POST /api/v1/channels/:id/test': admin,
  'GET /api/v1/people': admin,
  'GET /api/v1/people/:subject': admin,
  'PUT /api/v1/people/:subject': admin,
  'DELETE /api/v1/people/:subject': admin,
  'GET /api/v1/subscriptions': admin,
  'GET /api/v1/subscriptions/:scope': admin,
  'PUT /api/v1/subscriptions/:scope': admin,
  'DELETE /api/v1/subscriptions/:scope': admin,
  // What was sent about runs, which readers of the runs may see.
  'GET /api/v1/notifications': viewer,

  // DolphinScheduler targets name the secret holding their token; only admins decide where a tenant publishes.
  'GET /api/v1/dolphinscheduler/targets': viewer,
  'GET /api/v1/dolphinscheduler/targets/:name': viewer,
  'PUT /api/v1/dolphinscheduler/targets/:name': admin,
  'DELETE /api/v1/dolphinscheduler/targets/:name': admin,

  // Publishing changes what runs on a scheduler: operators publish and take online or offline.
  'POST /api/v1/templates/:id/versions/:number/publish': operator,
  'POST /api/v1/templates/:id/targets/:target/online': operator,
  'POST /api/v1/templates/:id/targets/:target/offline': operator,
  'GET /api/v1/publishes': viewer,
  'GET /api/v1/publishes/:id': viewer,
  'POST /api/v1/publishes/:id/approve': approver,
  'POST /api/v1/publishes/:id/reject': approver,

  // Executions come from the history cache; a refresh syncs one template, bounded and joined when one is running.
  'GET /api/v1/templates/:id/executions': viewer,
  'GET /api/v1/inspections': viewer,
  'POST /api/v1/inspections/run': operator,
  // Acknowledging a finding silences its alerts until it changes (for a dependency: confirms it).
  'POST /api/v1/inspections/:id/acknowledge': operator,
  // Prometheus: figures of every tenant, so a system administrator's token.
  'GET /metrics': system,

  // The Temporal Web UI's codec server, called with the user's credential. A payload carries no
  // tenant, so the codec cannot tell whose it is: it asks for a reader of some tenant (README,
  // "The codec endpoint"). Its CORS preflight (OPTIONS) is answered before authentication.
  'POST /api/v1/codec/decode': viewer,
  'POST /api/v1/codec/encode': viewer,
};

export class MissingPolicy extends Error {
  constructor(readonly route: string) {
    super(`route ${route} has no entry in the policy table (apps/api/src/auth/policy.ts)`);
    this.name = 'MissingPolicy';
  }
}

export function policyFor(method: string, path: string): Access {
  const route = `${method.toUpperCase()} ${path}`;
  const access = POLICY[route];
  if (!access) throw new MissingPolicy(route);
  return access;
}

export function allows(access: Access, principal: Principal): boolean {
  if ('system' in access) return principal.system;
  return principal.roles.some((role) => grants(role, access.role));
}

export function describeAccess(access: Access): string {
  return 'system' in access ? 'a system administrator' : `the ${access.role} role`;
}
